import { Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { IConstruct } from 'constructs';
import { MlServiceRole, MlServiceRoleProps } from '../../lib/constructs/ml-service-role';
import { testStack } from '../support/app';

const SAGEMAKER: MlServiceRoleProps = { trust: { service: 'sagemaker.amazonaws.com' }, description: 'SageMaker training jobs' };

const logicalId = (stack: Stack, c: IConstruct) => stack.getLogicalId(c.node.defaultChild as any);
const accountArn = (prefix: string, suffix: unknown[] = []) => ({ 'Fn::Join': ['', [prefix, { Ref: 'AWS::AccountId' }, ...suffix]] });

function acksOn(c: IConstruct): Record<string, string> {
  const acks: Record<string, string> = {};
  for (const e of c.node.metadata) {
    if (e.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) Object.assign(acks, e.data);
  }
  return acks;
}

/** The statements of the role's one managed policy; fails when there is an inline policy. */
function statementsOf(stack: Stack): any[] {
  const template = Template.fromStack(stack);
  template.resourceCountIs('AWS::IAM::Policy', 0);
  const policies = Object.values(template.findResources('AWS::IAM::ManagedPolicy'));
  expect(policies).toHaveLength(1);
  return policies[0].Properties.PolicyDocument.Statement;
}

describe('MlServiceRole', () => {
  describe('trust', () => {
    test('a service without a source ARN pattern is trusted without conditions', () => {
      const stack = testStack();
      const r = new MlServiceRole(stack, 'JobRole', SAGEMAKER);
      r.allowMetrics('FineTuning');
      const template = Template.fromStack(stack);
      template.resourceCountIs('AWS::IAM::Role', 1);
      template.hasResourceProperties('AWS::IAM::Role', {
        Description: 'SageMaker training jobs',
        AssumeRolePolicyDocument: {
          Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: 'sagemaker.amazonaws.com' } }],
        },
        ManagedPolicyArns: Match.absent(),
        Policies: Match.absent(),
      });
    });

    test('Bedrock trust carries aws:SourceAccount and aws:SourceArn (confused deputy)', () => {
      const stack = testStack();
      const pattern = stack.formatArn({ service: 'bedrock', resource: 'model-customization-job', resourceName: '*' });
      const r = new MlServiceRole(stack, 'CustomizationRole', {
        trust: { service: 'bedrock.amazonaws.com', sourceArnPattern: pattern },
        description: 'Bedrock model customization',
      });
      r.allowMetrics('FineTuning');
      Template.fromStack(stack).hasResourceProperties('AWS::IAM::Role', {
        AssumeRolePolicyDocument: {
          Statement: [
            {
              Effect: 'Allow',
              Action: 'sts:AssumeRole',
              Principal: { Service: 'bedrock.amazonaws.com' },
              Condition: {
                StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
                ArnLike: { 'aws:SourceArn': accountArn('arn:aws:bedrock:us-east-1:', [':model-customization-job/*']) },
              },
            },
          ],
        },
      });
    });
  });

  test('the managed policy is attached to the role and holds every grant', () => {
    const stack = testStack();
    const r = new MlServiceRole(stack, 'JobRole', SAGEMAKER);
    r.allowMetrics('FineTuning');
    r.allowSageMakerLogs('TrainingJobs');
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::IAM::ManagedPolicy', 1);
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      Description: 'SageMaker training jobs',
      Roles: [{ Ref: logicalId(stack, r.role) }],
    });
    expect(statementsOf(stack)).toHaveLength(2);
  });

  test('grants from aws-cdk-lib L2s through grantPrincipal also land in the managed policy', () => {
    const stack = testStack();
    const r = new MlServiceRole(stack, 'JobRole', SAGEMAKER);
    const key = new kms.Key(stack, 'Key');
    key.grantDecrypt(r);
    expect(statementsOf(stack)).toEqual([
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: { 'Fn::GetAtt': [logicalId(stack, key), 'Arn'] } },
    ]);
  });

  test('a role with nothing granted yet synthesizes, with no policy at all', () => {
    const stack = testStack();
    const r = new MlServiceRole(stack, 'JobRole', SAGEMAKER);
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::IAM::Role', 1);
    template.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
    template.resourceCountIs('AWS::IAM::Policy', 0);
    expect(r.policy).toBeUndefined();
  });

  test('allowSageMakerLogs: exactly the four log actions on /aws/sagemaker/<group>', () => {
    const stack = testStack();
    const r = new MlServiceRole(stack, 'JobRole', SAGEMAKER);
    r.allowSageMakerLogs('TrainingJobs');
    expect(statementsOf(stack)).toEqual([
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:DescribeLogStreams', 'logs:PutLogEvents'],
        Resource: accountArn('arn:aws:logs:us-east-1:', [':log-group:/aws/sagemaker/TrainingJobs:*']),
      },
    ]);
    expect(Object.keys(acksOn(r))).toEqual([
      'AwsSolutions::AwsSolutions-IAM5[Resource::arn:aws:logs:us-east-1:<AWS::AccountId>:log-group:/aws/sagemaker/TrainingJobs:*]',
    ]);
  });

  test('allowMetrics: PutMetricData only, limited to one namespace', () => {
    const stack = testStack();
    const r = new MlServiceRole(stack, 'JobRole', SAGEMAKER);
    r.allowMetrics('FineTuning/Training');
    expect(statementsOf(stack)).toEqual([
      {
        Effect: 'Allow',
        Action: 'cloudwatch:PutMetricData',
        Resource: '*',
        Condition: { StringEquals: { 'cloudwatch:namespace': 'FineTuning/Training' } },
      },
    ]);
    expect(Object.keys(acksOn(r))).toEqual(['AwsSolutions::AwsSolutions-IAM5[Resource::*]']);
  });

  test('allowImagePull: token account-wide, layer and image reads on the given repositories only', () => {
    const stack = testStack();
    const r = new MlServiceRole(stack, 'JobRole', SAGEMAKER);
    const repo = new ecr.Repository(stack, 'Repo');
    r.allowImagePull(repo);
    const statements = statementsOf(stack);
    expect(statements).toEqual([
      { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
      {
        Effect: 'Allow',
        Action: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
        Resource: { 'Fn::GetAtt': [logicalId(stack, repo), 'Arn'] },
      },
    ]);
  });

  describe('allowVpcPlacement', () => {
    const stack = testStack();
    const vpc = new ec2.Vpc(stack, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'training', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
    });
    const sg = new ec2.SecurityGroup(stack, 'TrainingSg', { vpc });
    const r = new MlServiceRole(stack, 'JobRole', SAGEMAKER);
    r.allowVpcPlacement({ vpc, subnets: vpc.isolatedSubnets, securityGroups: [sg] });
    const statements = statementsOf(stack);
    const ec2Arn = (resource: string, name: unknown) => accountArn('arn:aws:ec2:us-east-1:', [`:${resource}/`, name]);

    test('Describe calls (no resource-level permissions) on *', () => {
      expect(statements[0]).toEqual({
        Effect: 'Allow',
        Action: ['ec2:DescribeDhcpOptions', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeSecurityGroups', 'ec2:DescribeSubnets', 'ec2:DescribeVpcs'],
        Resource: '*',
      });
    });

    test('CreateNetworkInterface only in the given subnets and security groups', () => {
      const create = statements.find((s) => s.Action === 'ec2:CreateNetworkInterface');
      expect(create.Condition).toBeUndefined();
      expect(create.Resource).toHaveLength(3);
      expect(create.Resource).toEqual(
        expect.arrayContaining([
          ec2Arn('security-group', { 'Fn::GetAtt': [logicalId(stack, sg), 'GroupId'] }),
          ...vpc.isolatedSubnets.map((s) => ec2Arn('subnet', { Ref: logicalId(stack, s) })),
        ]),
      );
    });

    test('ENI management only for ENIs in this VPC (ec2:Vpc condition)', () => {
      expect(statements).toContainEqual({
        Effect: 'Allow',
        Action: [
          'ec2:CreateNetworkInterface',
          'ec2:CreateNetworkInterfacePermission',
          'ec2:CreateTags',
          'ec2:DeleteNetworkInterface',
          'ec2:DeleteNetworkInterfacePermission',
        ],
        Resource: accountArn('arn:aws:ec2:us-east-1:', [':network-interface/*']),
        Condition: { ArnEquals: { 'ec2:Vpc': ec2Arn('vpc', { Ref: logicalId(stack, vpc) }) } },
      });
      expect(statements).toHaveLength(3);
    });

    test('acknowledges exactly the * and ENI wildcard findings', () => {
      expect(Object.keys(acksOn(r)).sort()).toEqual([
        'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
        'AwsSolutions::AwsSolutions-IAM5[Resource::arn:aws:ec2:us-east-1:<AWS::AccountId>:network-interface/*]',
      ]);
    });
  });

  test('allowKeyUseVia: the given actions on the key, only through the named service in this region', () => {
    const stack = testStack();
    const r = new MlServiceRole(stack, 'JobRole', SAGEMAKER);
    const key = new kms.Key(stack, 'ModelKey');
    r.allowKeyUseVia(key, 'bedrock', ['kms:Decrypt', 'kms:GenerateDataKey']);
    expect(statementsOf(stack)).toEqual([
      {
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: { 'Fn::GetAtt': [logicalId(stack, key), 'Arn'] },
        Condition: { StringEquals: { 'kms:ViaService': 'bedrock.us-east-1.amazonaws.com' } },
      },
    ]);
  });

  test('allowPassRole: PassRole on the given roles only, to one service (iam:PassedToService)', () => {
    const stack = testStack();
    const r = new MlServiceRole(stack, 'PipelineRole', SAGEMAKER);
    const job = new iam.Role(stack, 'JobRole', { assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com') });
    r.allowPassRole('sagemaker.amazonaws.com', job);
    expect(statementsOf(stack)).toEqual([
      {
        Effect: 'Allow',
        Action: 'iam:PassRole',
        Resource: { 'Fn::GetAtt': [logicalId(stack, job), 'Arn'] },
        Condition: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } },
      },
    ]);
  });

  test('no statement grants a wildcard action or iam:* / s3:*', () => {
    const stack = testStack();
    const r = new MlServiceRole(stack, 'JobRole', SAGEMAKER);
    r.allowMetrics('FineTuning');
    r.allowSageMakerLogs('ProcessingJobs');
    r.allowImagePull(new ecr.Repository(stack, 'Repo'));
    const actions = statementsOf(stack).flatMap((s) => [s.Action].flat() as string[]);
    expect(actions.filter((a) => a.includes('*'))).toEqual([]);
  });
});

describe('MlServiceRole grants for Lambda functions and state machines', () => {
  const LAMBDA: MlServiceRoleProps = { trust: { service: 'lambda.amazonaws.com' }, description: 'a function' };

  test('allowSendMessages and allowPublish: one queue and one topic, their keys only through SQS and SNS', () => {
    const stack = testStack();
    const r = new MlServiceRole(stack, 'FnRole', LAMBDA);
    const key = new kms.Key(stack, 'Key');
    r.allowSendMessages(new sqs.Queue(stack, 'Dlq', { encryptionMasterKey: key }));
    r.allowPublish(new sns.Topic(stack, 'Topic', { masterKey: key }));
    const statements = statementsOf(stack);
    const find = (action: string) => statements.filter((s) => [s.Action].flat().includes(action));
    expect(find('sqs:SendMessage')[0].Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^Dlq/), 'Arn'] });
    expect(find('sns:Publish')[0].Resource).toEqual({ Ref: expect.stringMatching(/^Topic/) });
    const via = find('kms:GenerateDataKey').map((s) => JSON.stringify(s.Condition.StringEquals['kms:ViaService']));
    expect(via).toHaveLength(2);
    expect(via[0]).toMatch(/sqs\./);
    expect(via[1]).toMatch(/sns\./);
  });

  test('allowLogGroup: streams of that one group, acknowledged with the group in the finding', () => {
    const stack = testStack();
    const r = new MlServiceRole(stack, 'FnRole', LAMBDA);
    r.allowLogGroup(new logs.LogGroup(stack, 'Logs'));
    const [statement] = statementsOf(stack);
    expect(statement.Action).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
    expect(JSON.stringify(statement.Resource)).toContain(':log-stream:*');
    expect(Object.keys(acksOn(r))).toEqual([expect.stringMatching(/^AwsSolutions::AwsSolutions-IAM5\[Resource::<Logs.*>:log-stream:\*\]$/)]);
  });

  test('allowLambdaVpcAccess: the ENI actions of AWSLambdaVPCAccessExecutionRole, limited to the VPC', () => {
    const stack = testStack();
    const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0, restrictDefaultSecurityGroup: false, subnetConfiguration: [{ name: 'a', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    const r = new MlServiceRole(stack, 'FnRole', LAMBDA);
    r.allowLambdaVpcAccess({ vpc, subnets: vpc.isolatedSubnets, securityGroups: [new ec2.SecurityGroup(stack, 'Sg', { vpc })] });
    const assign = statementsOf(stack).find((s) => [s.Action].flat().includes('ec2:AssignPrivateIpAddresses'));
    // Merged with the ENI statement of allowVpcPlacement: same resource, same VPC condition.
    expect(assign.Action).toEqual(expect.arrayContaining(['ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses', 'ec2:DeleteNetworkInterface']));
    expect(assign.Condition.ArnEquals['ec2:Vpc']).toBeDefined();
  });
});
