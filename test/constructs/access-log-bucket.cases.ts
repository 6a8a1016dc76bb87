import { CfnParameter, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AccessLogBucket } from '../../lib/constructs/access-log-bucket';
import { testStack } from '../support/app';

function build(expirationDays: number) {
  const stack = testStack();
  const logs = new AccessLogBucket(stack, 'AccessLogs', { expirationDays, replication: { exemption: 'A test bucket: the replication rule is covered by bucket-replication.cases.ts' } });
  return { stack, logs, template: Template.fromStack(stack) };
}

describe('AccessLogBucket', () => {
  const { logs, template } = build(365);

  test('exactly one bucket, encrypted with S3-managed keys (the only encryption log delivery supports)', () => {
    template.resourceCountIs('AWS::S3::Bucket', 1);
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
    });
    template.resourceCountIs('AWS::KMS::Key', 0);
  });

  test('versioned, all four public access blocks on, ACLs disabled', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
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

  test('does not log into itself', () => {
    template.hasResourceProperties('AWS::S3::Bucket', { LoggingConfiguration: Match.absent() });
  });

  test('logs and their noncurrent versions expire after expirationDays; uploads abort after 1 day', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: [
          {
            Id: 'ExpireLogs',
            Status: 'Enabled',
            ExpirationInDays: 365,
            NoncurrentVersionExpiration: { NoncurrentDays: 365 },
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          },
        ],
      },
    });
  });

  test('bucket policy denies non-TLS requests and TLS below 1.2', () => {
    const bucketArn = { 'Fn::GetAtt': [Match.stringLikeRegexp('^AccessLogsBucket'), 'Arn'] };
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            Resource: Match.arrayWith([bucketArn]),
          }),
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Principal: { AWS: '*' },
            Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
          }),
        ]),
      },
    });
  });

  test('no statement of the bucket policy allows anyone', () => {
    const policy = Object.values(template.findResources('AWS::S3::BucketPolicy'))[0];
    const allows = (policy.Properties.PolicyDocument.Statement as Array<Record<string, any>>).filter((s) => s.Effect === 'Allow');
    expect(allows.filter((s) => JSON.stringify(s.Principal).includes('"*"'))).toEqual([]);
  });

  test('retained on stack deletion by default', () => {
    template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  test('acknowledges SSE-S3 and pending replication with evidence, and skips the self-logging checkov check', () => {
    const acks: Record<string, string> = {};
    for (const e of logs.bucket.node.metadata) {
      if (e.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) Object.assign(acks, e.data);
    }
    expect(Object.keys(acks)).toEqual(
      expect.arrayContaining([
        'HIPAA.Security::HIPAA.Security-S3DefaultEncryptionKMS',
        'NIST.800.53.R5::NIST.800.53.R5-S3DefaultEncryptionKMS',
        'PCI.DSS.321::PCI.DSS.321-S3DefaultEncryptionKMS',
        'PCI.DSS.321::PCI.DSS.321-S3BucketReplicationEnabled',
      ]),
    );
    expect(acks['HIPAA.Security::HIPAA.Security-S3DefaultEncryptionKMS']).toMatch(/SSE-S3/);
    template.hasResource('AWS::S3::Bucket', {
      Metadata: { checkov: { skip: Match.arrayWith([Match.objectLike({ id: 'CKV_AWS_18', comment: Match.stringLikeRegexp('log') })]) } },
    });
  });

  test('bucketName and retainOnDelete false are applied', () => {
    const stack = testStack();
    new AccessLogBucket(stack, 'AccessLogs', { expirationDays: 7, bucketName: 'fmft-dev-access-logs', retainOnDelete: false, replication: { exemption: 'A test bucket: the replication rule is covered by bucket-replication.cases.ts' } });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::S3::Bucket', { BucketName: 'fmft-dev-access-logs' });
    t.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Delete' });
  });

  describe('validation', () => {
    test.each([0, -1, 1.5, Number.NaN])('expirationDays %p is rejected', (days) => {
      expect(() => new AccessLogBucket(testStack(), 'AccessLogs', { expirationDays: days, replication: { exemption: 'A test bucket: the replication rule is covered by bucket-replication.cases.ts' } })).toThrow(
        /Invalid AccessLogBucket props:\n- expirationDays must be a whole number >= 1/,
      );
    });

    // CONVENTIONS.md: "Validate in the constructor ... skip unresolved tokens". s3.Bucket itself accepts a token here.
    test('an unresolved token for expirationDays is not validated', () => {
      const stack = testStack();
      const days = new CfnParameter(stack, 'Days', { type: 'Number' }).valueAsNumber;
      expect(() => new AccessLogBucket(stack, 'AccessLogs', { expirationDays: days, replication: { exemption: 'A test bucket: the replication rule is covered by bucket-replication.cases.ts' } })).not.toThrow();
    });
  });
});
