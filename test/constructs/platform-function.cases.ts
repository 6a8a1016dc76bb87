import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { PlatformFunction, PlatformFunctionProps } from '../../lib/constructs/platform-function';
import { HANDLER_PACKAGES, pythonHandlersCode } from '../../lib/constructs/python-handlers-code';
import { typescriptHandlerCode } from '../../lib/constructs/typescript-handler-code';
import { testStack } from '../support/app';

const TRAINING = path.join(__dirname, '..', '..', 'training');

function build(change: Partial<PlatformFunctionProps> = {}) {
  const stack = testStack();
  const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0, restrictDefaultSecurityGroup: false, subnetConfiguration: [{ name: 'jobs', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
  const sg = new ec2.SecurityGroup(stack, 'Sg', { vpc });
  const key = new kms.Key(stack, 'Key');
  const fn = new PlatformFunction(stack, 'Fn', {
    code: pythonHandlersCode(TRAINING),
    handler: 'training.bedrock.handlers.prepare',
    description: 'checks a run',
    placement: { vpc, subnets: vpc.isolatedSubnets, securityGroups: [sg] },
    key,
    logRetention: logs.RetentionDays.ONE_MONTH,
    deadLetterQueue: new sqs.Queue(stack, 'Dlq', { encryptionMasterKey: key }),
    timeout: Duration.minutes(1),
    reservedConcurrency: 2,
    ...change,
  });
  return { stack, fn, template: Template.fromStack(stack) };
}

describe('PlatformFunction', () => {
  test('private, encrypted, traced, limited, with its own log group', () => {
    const { template } = build();
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'training.bedrock.handlers.prepare',
      VpcConfig: { SubnetIds: Match.anyValue(), SecurityGroupIds: Match.anyValue() },
      KmsKeyArn: Match.anyValue(),
      TracingConfig: { Mode: 'Active' },
      ReservedConcurrentExecutions: 2,
      DeadLetterConfig: { TargetArn: Match.anyValue() },
      LoggingConfig: { LogGroup: Match.anyValue() },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30, KmsKeyId: Match.anyValue() });
  });

  test('every permission sits in the one managed policy: nothing inline, nothing AWS managed', () => {
    const { template } = build();
    template.resourceCountIs('AWS::IAM::Policy', 0);
    const role = Object.values(template.findResources('AWS::IAM::Role'))[0] as any;
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    const statements = (Object.values(template.findResources('AWS::IAM::ManagedPolicy'))[0] as any).Properties.PolicyDocument.Statement;
    const actions = statements.flatMap((s: any) => [s.Action].flat());
    expect(actions).toEqual(expect.arrayContaining(['logs:PutLogEvents', 'ec2:CreateNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'sqs:SendMessage', 'kms:Decrypt']));
    expect(actions.filter((a: string) => a.includes('*'))).toEqual([]);
  });

  test('the function waits for its managed policy (Lambda checks the ENI permissions on create)', () => {
    const { template } = build();
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0] as any;
    expect(fn.DependsOn).toEqual(expect.arrayContaining([expect.stringMatching(/^FnRolePolicy/)]));
  });

  test('rejects a reserved concurrency below 1', () => {
    expect(() => build({ reservedConcurrency: 0 })).toThrow(/reservedConcurrency: got 0; allowed: a whole number >= 1/);
  });
});

describe('pythonHandlersCode', () => {
  test('stages the handler packages only, under training/', () => {
    const { stack } = build();
    const outdir = (stack.node.root as any).synth().directory as string;
    const fn = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'))[0] as any;
    const staged = path.join(outdir, `asset.${fn.Properties.Code.S3Key.replace('.zip', '')}`, 'training');
    expect(fs.readdirSync(staged).sort()).toEqual([...HANDLER_PACKAGES].sort());
    expect(fs.existsSync(path.join(staged, 'train'))).toBe(false);
  });

  test('rejects a directory without the handler packages', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'no-handlers-'));
    expect(() => pythonHandlersCode(empty)).toThrow(/trainingDirectory: got '.*'; it lacks __init__.py, bedrock, data, common, contracts/);
  });
});

describe('typescriptHandlerCode', () => {
  test('rejects an entry file that does not exist', () => {
    expect(() => typescriptHandlerCode('lib/operations/no-such-handler.ts')).toThrow("entry: got 'lib/operations/no-such-handler.ts'; no such file");
  });
});
