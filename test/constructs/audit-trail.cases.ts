import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { IConstruct } from 'constructs';
import { AccessLogBucket } from '../../lib/constructs/access-log-bucket';
import { AuditTrail, AuditTrailProps } from '../../lib/constructs/audit-trail';
import { PlatformKey } from '../../lib/constructs/platform-key';
import { ENVIRONMENTS } from '../../lib/config/environments';
import { testStack } from '../support/app';

const logicalId = (stack: Stack, c: IConstruct) => stack.getLogicalId(c.node.defaultChild as any);
const arnOf = (stack: Stack, c: IConstruct) => ({ 'Fn::GetAtt': [logicalId(stack, c), 'Arn'] });

function fixture(props: Partial<AuditTrailProps> = {}) {
  const stack = testStack();
  const key = new PlatformKey(stack, 'AuditKey', {
    aliasName: 'fmft/dev/audit',
    description: 'audit',
    rotationPeriodDays: 365,
    deletionWindowDays: 7,
    allowCloudWatchLogs: true,
  }).key;
  const logs = new AccessLogBucket(stack, 'AccessLogs', { expirationDays: 30, replication: { exemption: 'A test bucket: the replication rule is covered by bucket-replication.cases.ts' } });
  const data = new s3.Bucket(stack, 'TrainingData');
  const models = new s3.Bucket(stack, 'ModelArtifacts');
  const make = () =>
    new AuditTrail(stack, 'Audit', {
      key,
      accessLogsBucket: logs.bucket,
      dataEventBuckets: [data, models],
      logRetentionDays: ENVIRONMENTS.dev.audit.trailLogRetentionDays,
      noncurrentVersionExpirationDays: 30,
      ...props,
    });
  return { stack, key, logs, data, models, make };
}

describe('AuditTrail', () => {
  const f = fixture();
  const audit = f.make();
  const { stack } = f;
  const template = Template.fromStack(stack);

  test('one multi-region trail with global events, log file validation and the KMS key', () => {
    template.resourceCountIs('AWS::CloudTrail::Trail', 1);
    template.hasResourceProperties('AWS::CloudTrail::Trail', {
      IsMultiRegionTrail: true,
      IncludeGlobalServiceEvents: true,
      EnableLogFileValidation: true,
      IsLogging: true,
      KMSKeyId: arnOf(stack, f.key),
      S3BucketName: { Ref: logicalId(stack, audit.bucket.bucket) },
    });
  });

  test('delivers to the KMS-encrypted CloudWatch log group with the configured retention', () => {
    template.hasResourceProperties('AWS::CloudTrail::Trail', {
      CloudWatchLogsLogGroupArn: arnOf(stack, audit.logGroup),
      CloudWatchLogsRoleArn: Match.anyValue(),
    });
    template.hasResource('AWS::Logs::LogGroup', {
      Properties: { KmsKeyId: arnOf(stack, f.key), RetentionInDays: ENVIRONMENTS.dev.audit.trailLogRetentionDays },
      DeletionPolicy: 'Retain',
    });
  });

  test('the delivery role may only write streams and events to the trail log group', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [{ Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: arnOf(stack, audit.logGroup) }],
      },
    });
  });

  test('S3 data events (read and write) for every given bucket, plus management events', () => {
    template.hasResourceProperties('AWS::CloudTrail::Trail', {
      EventSelectors: [
        {
          IncludeManagementEvents: true,
          ReadWriteType: 'All',
          DataResources: [
            {
              Type: 'AWS::S3::Object',
              Values: [
                { 'Fn::Join': ['', [arnOf(stack, f.data), '/']] },
                { 'Fn::Join': ['', [arnOf(stack, f.models), '/']] },
              ],
            },
          ],
        },
      ],
    });
  });

  test('trail bucket is a secure MlBucket: KMS with bucket key, versioned, public access blocked, access logs', () => {
    expect(template.findResources('AWS::S3::Bucket')[logicalId(stack, audit.bucket.bucket)].Properties).toMatchObject({
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          { BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: arnOf(stack, f.key) } },
        ],
      },
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LoggingConfiguration: { DestinationBucketName: { Ref: logicalId(stack, f.logs.bucket) } },
      LifecycleConfiguration: {
        Rules: expect.arrayContaining([
          expect.objectContaining({ NoncurrentVersionExpiration: { NoncurrentDays: 30 } }),
          expect.objectContaining({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }),
        ]),
      },
    });
  });

  test('trail bucket policy: TLS only, and CloudTrail may write only under AWSLogs/<this account>/', () => {
    const bucketArn = arnOf(stack, audit.bucket.bucket);
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logicalId(stack, audit.bucket.bucket) },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudtrail.amazonaws.com' },
            Action: 's3:PutObject',
            Resource: { 'Fn::Join': ['', [bucketArn, '/AWSLogs/', { Ref: 'AWS::AccountId' }, '/*']] },
          }),
        ]),
      },
    });
  });

  test('key policy lets CloudTrail create data keys only for this account\'s trails (encryption context)', () => {
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          {
            Sid: 'AllowCloudTrailToEncryptThisAccountsTrails',
            Effect: 'Allow',
            Principal: { Service: 'cloudtrail.amazonaws.com' },
            Action: 'kms:GenerateDataKey*',
            Resource: '*',
            Condition: {
              StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
              StringLike: {
                'kms:EncryptionContext:aws:cloudtrail:arn': {
                  'Fn::Join': ['', ['arn:aws:cloudtrail:*:', { Ref: 'AWS::AccountId' }, ':trail/*']],
                },
              },
            },
          },
        ]),
      },
    });
  });

  test('CloudTrail gets no key permission beyond GenerateDataKey* and DescribeKey', () => {
    const key = Object.values(template.findResources('AWS::KMS::Key'))[0];
    const cloudtrail = (key.Properties.KeyPolicy.Statement as any[]).filter((s) =>
      JSON.stringify(s.Principal ?? {}).includes('cloudtrail.amazonaws.com'),
    );
    expect(cloudtrail.flatMap((s) => [s.Action].flat()).sort()).toEqual(['kms:DescribeKey', 'kms:GenerateDataKey*']);
  });

  test('retainOnDelete false deletes the trail bucket and log group with the stack', () => {
    const g = fixture({ retainOnDelete: false });
    const a = g.make();
    const t = Template.fromStack(g.stack);
    expect(t.findResources('AWS::S3::Bucket')[logicalId(g.stack, a.bucket.bucket)].DeletionPolicy).toBe('Delete');
    t.hasResource('AWS::Logs::LogGroup', { DeletionPolicy: 'Delete' });
  });

  test('an empty dataEventBuckets is rejected', () => {
    expect(() => fixture({ dataEventBuckets: [] }).make()).toThrow(
      /Invalid AuditTrail props:\n- dataEventBuckets must list at least one bucket/,
    );
  });

  test('invalid trail-bucket lifecycle days are rejected through MlBucket', () => {
    expect(() => fixture({ noncurrentVersionExpirationDays: 0 }).make()).toThrow(/noncurrentVersionExpirationDays must be a whole number >= 1/);
  });

  test('a plain kms.Key works as the trail key', () => {
    const g = testStack();
    const key = new kms.Key(g, 'Key');
    new AuditTrail(g, 'Audit', {
      key,
      accessLogsBucket: new s3.Bucket(g, 'Logs'),
      dataEventBuckets: [new s3.Bucket(g, 'Data')],
      logRetentionDays: 90,
      noncurrentVersionExpirationDays: 30,
    });
    Template.fromStack(g).hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
  });
});

describe('AuditTrail retention validation', () => {
  test('rejects a retention CloudWatch Logs does not accept', () => {
    const stack = testStack();
    const key = new kms.Key(stack, 'K');
    const make = () =>
      new AuditTrail(stack, 'T', {
        key,
        accessLogsBucket: new s3.Bucket(stack, 'L'),
        dataEventBuckets: [new s3.Bucket(stack, 'D')],
        logRetentionDays: 10,
        noncurrentVersionExpirationDays: 30,
      });
    expect(make).toThrow(/logRetentionDays must be one of 1, 3, 5, .* got 10/);
  });
});
