import { CfnParameter, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { IConstruct } from 'constructs';
import { AccessLogBucket } from '../../lib/constructs/access-log-bucket';
import { MlBucket, MlBucketProps } from '../../lib/constructs/ml-bucket';
import { MlServiceRole } from '../../lib/constructs/ml-service-role';
import { PlatformKey } from '../../lib/constructs/platform-key';
import { ENVIRONMENTS } from '../../lib/config/environments';
import { testStack } from '../support/app';

const storage = ENVIRONMENTS.dev.storage;

function fixture(props: Partial<MlBucketProps> = {}) {
  const stack = testStack();
  const key = new PlatformKey(stack, 'DataKey', {
    aliasName: 'fmft/dev/data',
    description: 'data',
    rotationPeriodDays: 365,
    deletionWindowDays: 7,
  });
  const logs = new AccessLogBucket(stack, 'AccessLogs', { expirationDays: 30, replication: { exemption: 'A test bucket: the replication rule is covered by bucket-replication.cases.ts' } });
  const make = (extra: Partial<MlBucketProps> = {}) =>
    new MlBucket(stack, 'TrainingData', {
      encryptionKey: key.key,
      accessLogsBucket: logs.bucket,
      noncurrentVersionExpirationDays: storage.noncurrentVersionExpirationDays,
      abortIncompleteUploadDays: storage.abortIncompleteUploadDays,
      replication: { exemption: 'A test bucket: the replication rule is covered by bucket-replication.cases.ts' },
      ...props,
      ...extra,
    });
  // Created on first use: a role's managed policy must hold a statement before the stack synthesizes.
  let jobRole: MlServiceRole | undefined;
  const role = () =>
    (jobRole ??= new MlServiceRole(stack, 'JobRole', { trust: { service: 'sagemaker.amazonaws.com' }, description: 'Training job' }));
  return { stack, key, logs, make, get role() { return role(); } };
}

const logicalId = (stack: Stack, c: IConstruct) => stack.getLogicalId(c.node.defaultChild as any);
const getAtt = (stack: Stack, c: IConstruct) => ({ 'Fn::GetAtt': [logicalId(stack, c), 'Arn'] });

function managedPolicyStatements(template: Template): any[] {
  const policies = Object.values(template.findResources('AWS::IAM::ManagedPolicy'));
  expect(policies).toHaveLength(1);
  return policies[0].Properties.PolicyDocument.Statement;
}

describe('MlBucket', () => {
  describe('security defaults', () => {
    const f = fixture({ expirations: [{ prefix: 'models/checkpoints/', days: 14 }] });
    const bucket = f.make();
    const template = Template.fromStack(f.stack);
    const bucketId = logicalId(f.stack, bucket.bucket);

    test('default encryption with the customer managed key and an S3 bucket key', () => {
      template.hasResourceProperties('AWS::S3::Bucket', {
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [
            {
              BucketKeyEnabled: true,
              ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: getAtt(f.stack, f.key.key) },
            },
          ],
        },
      });
    });

    test('versioned, all four public access blocks, ACLs disabled', () => {
      template.hasResourceProperties('AWS::S3::Bucket', {
        BucketEncryption: Match.objectLike({}),
        VersioningConfiguration: { Status: 'Enabled' },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      });
    });

    test('server access logs go to the access log bucket under the construct id', () => {
      expect(template.findResources('AWS::S3::Bucket')[bucketId].Properties.LoggingConfiguration).toEqual({
        DestinationBucketName: { Ref: logicalId(f.stack, f.logs.bucket) },
        LogFilePrefix: 'TrainingData/',
      });
    });

    test('the access log bucket lets the S3 logging service write that prefix for this bucket only', () => {
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: logicalId(f.stack, f.logs.bucket) },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Allow',
              Principal: { Service: 'logging.s3.amazonaws.com' },
              Action: 's3:PutObject',
              Condition: {
                ArnLike: { 'aws:SourceArn': { 'Fn::GetAtt': [bucketId, 'Arn'] } },
                StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
              },
            }),
          ]),
        },
      });
    });

    test('bucket policy denies non-TLS requests and TLS below 1.2 on the bucket and its objects', () => {
      const arn = { 'Fn::GetAtt': [bucketId, 'Arn'] };
      const resources = [arn, { 'Fn::Join': ['', [arn, '/*']] }];
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: bucketId },
        PolicyDocument: {
          Statement: [
            { Effect: 'Deny', Action: 's3:*', Principal: { AWS: '*' }, Condition: { Bool: { 'aws:SecureTransport': 'false' } }, Resource: resources },
            { Effect: 'Deny', Action: 's3:*', Principal: { AWS: '*' }, Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } }, Resource: resources },
          ],
          Version: '2012-10-17',
        },
      });
    });

    test('lifecycle: abort incomplete uploads, expire noncurrent versions and delete markers, expire the prefix', () => {
      expect(template.findResources('AWS::S3::Bucket')[bucketId].Properties.LifecycleConfiguration.Rules).toEqual([
        { Id: 'AbortIncompleteUploads', Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: storage.abortIncompleteUploadDays } },
        {
          Id: 'ExpireNoncurrentVersions',
          Status: 'Enabled',
          NoncurrentVersionExpiration: { NoncurrentDays: storage.noncurrentVersionExpirationDays },
          ExpiredObjectDeleteMarker: true,
        },
        { Id: 'Expire-models-checkpoints', Status: 'Enabled', Prefix: 'models/checkpoints/', ExpirationInDays: 14 },
      ]);
    });

    test('retained on stack deletion by default', () => {
      template.hasResource('AWS::S3::Bucket', {
        Properties: Match.objectLike({ BucketEncryption: Match.anyValue() }),
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
      });
    });

    test('no EventBridge notification unless enabled', () => {
      expect(template.findResources('AWS::S3::Bucket')[bucketId].Properties.NotificationConfiguration).toBeUndefined();
    });

    test('replication finding acknowledged on the bucket in the regulatory packs', () => {
      const acks: Record<string, string> = {};
      for (const e of bucket.bucket.node.metadata) {
        if (e.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) Object.assign(acks, e.data);
      }
      expect(Object.keys(acks).sort()).toEqual([
        'HIPAA.Security::HIPAA.Security-S3BucketReplicationEnabled',
        'NIST.800.53.R5::NIST.800.53.R5-S3BucketReplicationEnabled',
        'PCI.DSS.321::PCI.DSS.321-S3BucketReplicationEnabled',
      ]);
    });
  });

  test('eventBridgeEnabled sets the notification on the bucket itself, with no Lambda or custom resource', () => {
    const f = fixture({ eventBridgeEnabled: true });
    f.make();
    const template = Template.fromStack(f.stack);
    template.hasResourceProperties('AWS::S3::Bucket', {
      NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } },
    });
    template.resourceCountIs('AWS::Lambda::Function', 0);
    template.resourceCountIs('Custom::S3BucketNotifications', 0);
    expect(Object.values(template.toJSON().Resources).filter((r: any) => String(r.Type).startsWith('Custom::'))).toEqual([]);
  });

  test('a named bucket logs under its name and is deleted with the stack when retainOnDelete is false', () => {
    const f = fixture({ bucketName: 'fmft-dev-training-data', retainOnDelete: false });
    f.make();
    const template = Template.fromStack(f.stack);
    template.hasResource('AWS::S3::Bucket', {
      Properties: Match.objectLike({
        BucketName: 'fmft-dev-training-data',
        LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'fmft-dev-training-data/' }),
      }),
      DeletionPolicy: 'Delete',
    });
  });

  describe('grants', () => {
    test('grantReadObjects: exactly Get(Version) on the prefix, ListBucket on that prefix, Decrypt via S3', () => {
      const f = fixture();
      const bucket = f.make();
      bucket.grantReadObjects(f.role, 'datasets/');
      const template = Template.fromStack(f.stack);
      const bucketArn = getAtt(f.stack, bucket.bucket);
      expect(managedPolicyStatements(template)).toEqual([
        { Effect: 'Allow', Action: ['s3:GetObject', 's3:GetObjectVersion'], Resource: { 'Fn::Join': ['', [bucketArn, '/datasets/*']] } },
        { Effect: 'Allow', Action: 's3:ListBucket', Resource: bucketArn, Condition: { StringLike: { 's3:prefix': ['datasets/*'] } } },
        {
          Effect: 'Allow',
          Action: 'kms:Decrypt',
          Resource: getAtt(f.stack, f.key.key),
          Condition: { StringEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' } },
        },
      ]);
    });

    test('grants land in the role\'s managed policy, never in an inline policy', () => {
      const f = fixture();
      const bucket = f.make();
      bucket.grantReadWriteObjects(f.role, 'models/checkpoints/');
      const template = Template.fromStack(f.stack);
      template.resourceCountIs('AWS::IAM::Policy', 0);
      template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
        Roles: [{ Ref: logicalId(f.stack, f.role.role) }],
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 's3:ListBucket' })]) },
      });
      template.hasResourceProperties('AWS::IAM::Role', { Policies: Match.absent() });
    });

    test('grantWriteObjects: exactly PutObject and AbortMultipartUpload on the prefix, data keys via S3, no read or list', () => {
      const f = fixture();
      const bucket = f.make();
      bucket.grantWriteObjects(f.role, 'models/artifacts/');
      const statements = managedPolicyStatements(Template.fromStack(f.stack));
      expect(statements).toEqual([
        {
          Effect: 'Allow',
          Action: ['s3:AbortMultipartUpload', 's3:PutObject'],
          Resource: { 'Fn::Join': ['', [getAtt(f.stack, bucket.bucket), '/models/artifacts/*']] },
        },
        {
          Effect: 'Allow',
          Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
          Resource: getAtt(f.stack, f.key.key),
          Condition: { StringEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' } },
        },
      ]);
    });

    test('grantDeleteObjects: exactly DeleteObject on the prefix (not DeleteObjectVersion), nothing to read or write', () => {
      const f = fixture();
      const bucket = f.make();
      bucket.grantDeleteObjects(f.role, 'serving/approvals/');
      expect(managedPolicyStatements(Template.fromStack(f.stack))).toEqual([
        { Effect: 'Allow', Action: 's3:DeleteObject', Resource: { 'Fn::Join': ['', [getAtt(f.stack, bucket.bucket), '/serving/approvals/*']] } },
      ]);
    });

    test('grantReadWriteObjects: read and write actions only, nothing like s3:* or DeleteObject', () => {
      const f = fixture();
      const bucket = f.make();
      bucket.grantReadWriteObjects(f.role, 'models/checkpoints/');
      const actions = managedPolicyStatements(Template.fromStack(f.stack)).flatMap((s) => [s.Action].flat());
      expect([...new Set(actions)].sort()).toEqual([
        'kms:Decrypt',
        'kms:GenerateDataKey',
        's3:AbortMultipartUpload',
        's3:GetObject',
        's3:GetObjectVersion',
        's3:ListBucket',
        's3:PutObject',
      ]);
    });

    test('a named bucket is granted by a name-built ARN, without a reference to the bucket resource', () => {
      const f = fixture({ bucketName: 'fmft-dev-training-data' });
      const bucket = f.make();
      bucket.grantReadObjects(f.role, 'datasets/');
      const statements = managedPolicyStatements(Template.fromStack(f.stack));
      expect(statements[0].Resource).toEqual('arn:aws:s3:::fmft-dev-training-data/datasets/*');
      expect(statements[1].Resource).toEqual('arn:aws:s3:::fmft-dev-training-data');
    });

    test('the IAM5 finding for exactly the granted prefix is acknowledged on the grantee', () => {
      const f = fixture({ bucketName: 'fmft-dev-training-data' });
      const bucket = f.make();
      bucket.grantReadObjects(f.role, 'datasets/');
      const acks: Record<string, string> = {};
      for (const e of f.role.node.metadata) {
        if (e.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) Object.assign(acks, e.data);
      }
      expect(Object.keys(acks)).toEqual([
        'AwsSolutions::AwsSolutions-IAM5[Resource::arn:aws:s3:::fmft-dev-training-data/datasets/*]',
      ]);
    });

    test('a plain iam.Role gets the same exact statements in its default policy', () => {
      const f = fixture();
      const bucket = f.make();
      const plain = new iam.Role(f.stack, 'Plain', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
      bucket.grantReadObjects(plain, 'datasets/');
      Template.fromStack(f.stack).hasResourceProperties('AWS::IAM::Policy', {
        Roles: [{ Ref: logicalId(f.stack, plain) }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Action: ['s3:GetObject', 's3:GetObjectVersion'] }),
            Match.objectLike({ Action: 'kms:Decrypt', Condition: { StringEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' } } }),
          ]),
        },
      });
    });

    test.each(['datasets', '/datasets/', 'datasets/*', 'data*/'])('grant prefix %j is rejected', (prefix) => {
      const f = fixture();
      const bucket = f.make();
      const message = /prefix must be a key prefix ending with '\/', without '\*' or a leading '\/'/;
      expect(() => bucket.grantReadObjects(f.role, prefix)).toThrow(message);
      expect(() => bucket.grantWriteObjects(f.role, prefix)).toThrow(message);
      expect(() => bucket.grantReadWriteObjects(f.role, prefix)).toThrow(message);
    });
  });

  describe('validation', () => {
    test.each([0, -3, 2.5])('noncurrentVersionExpirationDays %p is rejected', (days) => {
      expect(() => fixture({ noncurrentVersionExpirationDays: days }).make()).toThrow(
        new RegExp(`noncurrentVersionExpirationDays must be a whole number >= 1, got ${days}`),
      );
    });

    test.each([0, 1.5])('abortIncompleteUploadDays %p is rejected', (days) => {
      expect(() => fixture({ abortIncompleteUploadDays: days }).make()).toThrow(
        new RegExp(`abortIncompleteUploadDays must be a whole number >= 1, got ${days}`),
      );
    });

    test('expiration days must be a whole number >= 1', () => {
      expect(() => fixture({ expirations: [{ prefix: 'models/checkpoints/', days: 0 }] }).make()).toThrow(
        /expirations\[models\/checkpoints\/\]\.days must be a whole number >= 1, got 0/,
      );
    });

    test('expiration prefix must end with /', () => {
      expect(() => fixture({ expirations: [{ prefix: 'models/checkpoints', days: 14 }] }).make()).toThrow(
        /expirations prefix must end with '\/', got 'models\/checkpoints'/,
      );
    });

    test('every problem is reported in one error', () => {
      expect(() =>
        fixture({ noncurrentVersionExpirationDays: 0, abortIncompleteUploadDays: 0, expirations: [{ prefix: 'x', days: 0 }] }).make(),
      ).toThrow(/Invalid MlBucket props:\n- noncurrentVersionExpirationDays.*\n- abortIncompleteUploadDays.*\n- expirations\[x\]\.days.*\n- expirations prefix/);
    });

    test('unresolved tokens are not validated', () => {
      const f = fixture();
      const days = new CfnParameter(f.stack, 'Days', { type: 'Number' }).valueAsNumber;
      expect(() => f.make({ noncurrentVersionExpirationDays: days, abortIncompleteUploadDays: days })).not.toThrow();
    });
  });
});
