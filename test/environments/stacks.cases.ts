import { Match, Template } from 'aws-cdk-lib/assertions';
import { ENVIRONMENTS } from '../../lib/config/environments';
import { STORAGE_LAYOUT } from '../../lib/config/storage-layout';
import { synthesizeEnvironment } from '../support/app';

const dev = synthesizeEnvironment(ENVIRONMENTS.dev);
const prod = synthesizeEnvironment(ENVIRONMENTS.prod);

/** The S3 object patterns a role's managed policy allows for the given actions, as readable strings. */
function objectGrants(template: Template, roleLogicalIdPrefix: string, action: string): string[] {
  const policies = template.findResources('AWS::IAM::ManagedPolicy');
  const id = Object.keys(policies).find((k) => k.startsWith(`${roleLogicalIdPrefix}Policy`));
  if (!id) throw new Error(`no managed policy for ${roleLogicalIdPrefix}`);
  const render = (v: any): string =>
    typeof v === 'string' ? v : v['Fn::Join'] ? v['Fn::Join'][1].map(render).join('') : v.Ref ? `<${v.Ref}>` : v['Fn::Sub'] ? '<cdk-assets>' : JSON.stringify(v);
  return policies[id].Properties.PolicyDocument.Statement.filter((s: any) => [s.Action].flat().includes(action))
    .flatMap((s: any) => [s.Resource].flat().map(render))
    .map((arn: string) => arn.replace(/^arn:aws:s3:::fmft-dev-/, '').replace(/-<AWS::AccountId>-us-east-1/, ''))
    .sort();
}

describe('network stack', () => {
  const net = dev.templates.network;

  test('no internet path by default: no NAT, no internet gateway, no public subnet', () => {
    net.resourceCountIs('AWS::EC2::NatGateway', 0);
    net.resourceCountIs('AWS::EC2::InternetGateway', 0);
    net.resourceCountIs('AWS::EC2::Route', 0);
    for (const subnet of Object.values(net.findResources('AWS::EC2::Subnet'))) {
      expect(subnet.Properties.MapPublicIpOnLaunch).toBe(false);
    }
  });

  test('one subnet per tier and zone, in the zones of the config', () => {
    net.resourceCountIs('AWS::EC2::Subnet', 4 * 2);
    prod.templates.network.resourceCountIs('AWS::EC2::Subnet', 4 * 3);
    net.hasResourceProperties('AWS::EC2::Subnet', { AvailabilityZone: 'us-east-1b', CidrBlock: '10.40.16.0/20' });
  });

  test('S3 gateway endpoint and every configured interface endpoint', () => {
    net.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.s3']] },
    });
    const interfaces = Object.values(net.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Interface' } }));
    expect(interfaces).toHaveLength(ENVIRONMENTS.dev.network.interfaceEndpoints.length);
    for (const e of interfaces) expect(e.Properties.PrivateDnsEnabled).toBe(true);
    expect(interfaces.map((e) => e.Properties.ServiceName).sort()).toEqual(
      expect.arrayContaining(['com.amazonaws.us-east-1.sagemaker.api', 'com.amazonaws.us-east-1.bedrock-runtime', 'com.amazonaws.us-east-1.sts']),
    );
  });

  test('flow logs of all traffic go to a KMS-encrypted group with the configured retention', () => {
    net.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'ALL', LogDestinationType: 'cloud-watch-logs' });
    net.hasResourceProperties('AWS::Logs::LogGroup', {
      KmsKeyId: Match.anyValue(),
      RetentionInDays: ENVIRONMENTS.dev.network.flowLogRetentionDays,
    });
  });

  test('no security group accepts traffic from an address range', () => {
    for (const sg of Object.values(net.findResources('AWS::EC2::SecurityGroup'))) {
      expect(sg.Properties.SecurityGroupIngress ?? []).toEqual([]);
    }
    for (const rule of Object.values(net.findResources('AWS::EC2::SecurityGroupIngress'))) {
      expect(rule.Properties.CidrIp).toBeUndefined();
      expect(rule.Properties.SourceSecurityGroupId).toBeDefined();
    }
  });
});

describe('storage stack', () => {
  const st = dev.templates.storage;

  test('five buckets: three ML buckets and the invocation logs with KMS, one access-log bucket', () => {
    st.resourceCountIs('AWS::S3::Bucket', 5);
    const kmsBuckets = st.findResources('AWS::S3::Bucket', {
      Properties: { BucketEncryption: { ServerSideEncryptionConfiguration: [{ BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' } }] } },
    });
    expect(Object.keys(kmsBuckets)).toHaveLength(4);
  });

  test('invocation logs have their own key, which Bedrock of this account alone may use', () => {
    const logs = Object.values(st.findResources('AWS::S3::Bucket')).find((b: any) =>
      JSON.stringify(b.Properties.BucketName).includes('fmft-dev-invocation-logs-'),
    ) as any;
    const keyRef = logs.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.KMSMasterKeyID;
    const keyId = keyRef['Fn::GetAtt'][0];
    expect(keyId).toMatch(/^InvocationLogsKey/);
    const key = st.toJSON().Resources[keyId];
    const bedrock = key.Properties.KeyPolicy.Statement.find((x: any) => x.Principal?.Service === 'bedrock.amazonaws.com');
    expect(bedrock.Condition.StringEquals['aws:SourceAccount']).toEqual({ Ref: 'AWS::AccountId' });
    expect([...bedrock.Action].sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    st.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'AllowBedrockInvocationLogsFromThisAccount',
            Principal: { Service: 'bedrock.amazonaws.com' },
            Action: 's3:PutObject',
            Condition: Match.objectLike({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } }),
          }),
        ]),
      },
    });
  });

  test('bucket names carry prefix, environment, purpose, account and region', () => {
    for (const purpose of ['training-data', 'model-artifacts', 'evaluation-results', 'invocation-logs', 'access-logs']) {
      st.hasResourceProperties('AWS::S3::Bucket', {
        BucketName: { 'Fn::Join': ['', [`fmft-dev-${purpose}-`, { Ref: 'AWS::AccountId' }, '-us-east-1']] },
      });
    }
  });

  test('checkpoints expire; only the data bucket emits EventBridge events', () => {
    st.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Prefix: STORAGE_LAYOUT.modelArtifacts.prefixes.checkpoints, ExpirationInDays: ENVIRONMENTS.dev.storage.checkpointExpirationDays }),
        ]),
      },
    });
    const withEvents = st.findResources('AWS::S3::Bucket', {
      Properties: { NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } } },
    });
    expect(Object.keys(withEvents)).toEqual([expect.stringMatching(/^TrainingDataBucket/)]);
    st.resourceCountIs('AWS::Lambda::Function', 0);
  });

  test('keys rotate; prod keeps keys and buckets on stack deletion', () => {
    // Data, Bedrock custom models, invocation logs, and the backup vault's own.
    st.resourceCountIs('AWS::KMS::Key', 4);
    st.allResourcesProperties('AWS::KMS::Key', { EnableKeyRotation: true, RotationPeriodInDays: 365 });
    prod.templates.storage.allResources('AWS::KMS::Key', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    prod.templates.storage.allResources('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
  });
});

describe('security stack', () => {
  const sec = dev.templates.security;
  const p = STORAGE_LAYOUT;

  test('each job role reads and writes exactly its prefixes', () => {
    expect(objectGrants(sec, 'TrainingRole', 's3:GetObject')).toEqual([
      expect.stringMatching(/^arn:aws:s3:::<cdk-assets>\/[0-9a-f]{64}\.gz$/),
      `model-artifacts/${p.modelArtifacts.prefixes.base}*`,
      `model-artifacts/${p.modelArtifacts.prefixes.checkpoints}*`,
      `training-data/${p.trainingData.prefixes.processed}*`,
    ]);
    expect(objectGrants(sec, 'TrainingRole', 's3:PutObject')).toEqual([
      `model-artifacts/${p.modelArtifacts.prefixes.checkpoints}*`,
      `model-artifacts/${p.modelArtifacts.prefixes.final}*`,
    ]);
    expect(objectGrants(sec, 'ProcessingRole', 's3:PutObject')).toEqual([
      `evaluation-results/${p.evaluation.prefixes.reports}*`,
      `training-data/${p.trainingData.prefixes.processed}*`,
    ]);
    expect(objectGrants(sec, 'DeploymentRole', 's3:GetObject')).toEqual([`model-artifacts/${p.modelArtifacts.prefixes.final}*`]);
    expect(objectGrants(sec, 'DeploymentRole', 's3:PutObject')).toEqual([`model-artifacts/${p.modelArtifacts.prefixes.dataCapture}*`]);
    expect(objectGrants(sec, 'BedrockCustomizationRole', 's3:PutObject')).toEqual([
      `model-artifacts/${p.modelArtifacts.prefixes.bedrockOutput}*`,
    ]);
  });

  test('no role has an inline policy; the only inline policy is the trail delivery role', () => {
    const inline = Object.values(sec.findResources('AWS::IAM::Policy'));
    expect(inline).toHaveLength(1);
    expect(inline[0].Properties.Roles).toEqual([{ Ref: expect.stringMatching(/^AuditTrailLogsRole/) }]);
  });

  test('Bedrock may assume its role only for this account\'s customization jobs', () => {
    sec.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: 'sts:AssumeRole',
            Effect: 'Allow',
            Principal: { Service: 'bedrock.amazonaws.com' },
            Condition: {
              StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
              ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:aws:bedrock:us-east-1:', { Ref: 'AWS::AccountId' }, ':model-customization-job/*']] } },
            },
          },
        ],
      },
    });
  });

  test('the pipeline may pass only the training and processing roles, only to SageMaker', () => {
    sec.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Action: 'iam:PassRole',
            Effect: 'Allow',
            Condition: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } },
            Resource: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^ProcessingRole'), 'Arn'] }, { 'Fn::GetAtt': [Match.stringLikeRegexp('^TrainingRole'), 'Arn'] }],
          },
        ]),
      },
    });
  });

  test('audit trail: multi-region, validated, encrypted, in CloudWatch, with data events on the ML buckets', () => {
    sec.hasResourceProperties('AWS::CloudTrail::Trail', {
      IsMultiRegionTrail: true,
      EnableLogFileValidation: true,
      IncludeGlobalServiceEvents: true,
      KMSKeyId: Match.anyValue(),
      CloudWatchLogsLogGroupArn: Match.anyValue(),
      EventSelectors: [Match.objectLike({ ReadWriteType: 'All', DataResources: [Match.objectLike({ Type: 'AWS::S3::Object' })] })],
    });
    const selectors = Object.values(sec.findResources('AWS::CloudTrail::Trail'))[0].Properties.EventSelectors;
    expect(selectors[0].DataResources[0].Values).toHaveLength(3);
  });

  test('image repository: scan on push, immutable tags, KMS', () => {
    sec.hasResourceProperties('AWS::ECR::Repository', {
      RepositoryName: 'fmft-dev/images',
      ImageScanningConfiguration: { ScanOnPush: true },
      ImageTagMutability: 'IMMUTABLE',
      EncryptionConfiguration: { EncryptionType: 'KMS', KmsKey: Match.anyValue() },
    });
  });

  test('budget from config alerts the encrypted topic', () => {
    sec.hasResourceProperties('AWS::Budgets::Budget', {
      Budget: { BudgetLimit: { Amount: ENVIRONMENTS.dev.monthlyBudgetUsd, Unit: 'USD' }, BudgetName: 'fmft-dev-monthly-cost' },
    });
    prod.templates.security.hasResourceProperties('AWS::Budgets::Budget', {
      Budget: Match.objectLike({ BudgetLimit: { Amount: ENVIRONMENTS.prod.monthlyBudgetUsd, Unit: 'USD' } }),
    });
    sec.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    sec.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: ENVIRONMENTS.dev.alarmEmail });
  });
});
