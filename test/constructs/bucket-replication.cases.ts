import { Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AccessLogBucket } from '../../lib/constructs/access-log-bucket';
import { REPLICATION_RULE_ID, REPLICATION_TIME_MINUTES, ReplicationChoice } from '../../lib/constructs/bucket-replication';
import { MlBucket } from '../../lib/constructs/ml-bucket';
import { PlatformKey } from '../../lib/constructs/platform-key';
import { testStack } from '../support/app';

const TO = { bucketName: 'fmft-dev-dr-training-data-111122223333-us-west-2', region: 'us-west-2', keyAlias: 'fmft/dev/dr-data' };
const NOT_HERE = 'A test bucket that has no replica, for the exemption path';

function replicated(replication: ReplicationChoice = { to: TO }, bucketName: string | null = 'fmft-dev-training-data') {
  const stack = testStack();
  const key = new PlatformKey(stack, 'DataKey', { aliasName: 'fmft/dev/data', description: 'data', rotationPeriodDays: 365, deletionWindowDays: 7 });
  const logs = new AccessLogBucket(stack, 'AccessLogs', { expirationDays: 30, replication: { exemption: NOT_HERE } });
  const bucket = new MlBucket(stack, 'TrainingData', {
    bucketName: bucketName ?? undefined,
    encryptionKey: key.key,
    accessLogsBucket: logs.bucket,
    noncurrentVersionExpirationDays: 30,
    abortIncompleteUploadDays: 7,
    replication,
  });
  return { stack, key, bucket, template: () => Template.fromStack(stack) };
}

function acks(construct: { node: { metadata: readonly { type: string; data: unknown }[] } }): Record<string, string> {
  const found: Record<string, string> = {};
  for (const e of construct.node.metadata) if (e.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) Object.assign(found, e.data);
  return found;
}

describe('bucket replication to the DR region', () => {
  test('one rule for every object: Replication Time Control and metrics at 15 minutes, KMS objects re-encrypted with the replica alias, delete markers kept out', () => {
    const f = replicated();
    const bucket = Object.values(f.template().findResources('AWS::S3::Bucket')).find((b: any) => b.Properties.BucketName === 'fmft-dev-training-data') as any;
    const config = bucket.Properties.ReplicationConfiguration;
    expect(config.Rules).toHaveLength(1);
    const [rule] = config.Rules;
    expect(rule).toEqual(
      expect.objectContaining({
        Id: REPLICATION_RULE_ID,
        Status: 'Enabled',
        Priority: 1,
        Filter: { Prefix: '' },
        DeleteMarkerReplication: { Status: 'Disabled' },
        SourceSelectionCriteria: { SseKmsEncryptedObjects: { Status: 'Enabled' } },
      }),
    );
    expect(REPLICATION_TIME_MINUTES).toBe(15);
    expect(rule.Destination.ReplicationTime).toEqual({ Status: 'Enabled', Time: { Minutes: 15 } });
    expect(rule.Destination.Metrics).toEqual({ Status: 'Enabled', EventThreshold: { Minutes: 15 } });
    expect(JSON.stringify(rule.Destination.Bucket)).toContain(`arn:`);
    expect(JSON.stringify(rule.Destination.Bucket)).toContain(`:s3:::${TO.bucketName}`);
    expect(JSON.stringify(rule.Destination.EncryptionConfiguration.ReplicaKmsKeyID)).toContain(':kms:us-west-2:');
    expect(JSON.stringify(rule.Destination.EncryptionConfiguration.ReplicaKmsKeyID)).toContain(':alias/fmft/dev/dr-data');
    // Replicated: no acknowledgement of the replication rule is left on the bucket.
    expect(Object.keys(acks(f.bucket.bucket)).filter((id) => id.includes('S3BucketReplicationEnabled'))).toEqual([]);
  });

  test('S3 alone may assume the role, for this account and this bucket', () => {
    const f = replicated();
    const role = Object.values(f.template().findResources('AWS::IAM::Role')).find((r: any) => JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes('s3.amazonaws.com')) as any;
    const [trust] = role.Properties.AssumeRolePolicyDocument.Statement;
    expect(trust.Principal).toEqual({ Service: 's3.amazonaws.com' });
    expect(Object.keys(trust.Condition.StringEquals)).toEqual(['aws:SourceAccount']);
    expect(trust.Condition.ArnLike['aws:SourceArn']).toBe('arn:aws:s3:::fmft-dev-training-data');
  });

  test('the role reads versions of this bucket, writes only into the replica, and uses each key only through S3', () => {
    const f = replicated();
    const policies = Object.values(f.template().findResources('AWS::IAM::ManagedPolicy')) as any[];
    const statements: any[] = policies.flatMap((p) => p.Properties.PolicyDocument.Statement);
    const actions = statements.flatMap((s) => [s.Action].flat()).sort();
    expect(actions).toEqual([
      'kms:Decrypt',
      'kms:Encrypt',
      'kms:GenerateDataKey',
      's3:GetObjectVersionAcl',
      's3:GetObjectVersionForReplication',
      's3:GetObjectVersionTagging',
      's3:GetReplicationConfiguration',
      's3:ListBucket',
      's3:ReplicateObject',
      's3:ReplicateTags',
    ]);
    expect(actions).not.toContain('s3:ReplicateDelete');
    const write = statements.find((s) => [s.Action].flat().includes('s3:ReplicateObject'));
    expect(JSON.stringify(write.Resource)).toContain(`:s3:::${TO.bucketName}/*`);
    const encrypt = statements.find((s) => [s.Action].flat().includes('kms:Encrypt'));
    expect(encrypt.Condition.StringEquals['kms:ViaService']).toBe('s3.us-west-2.amazonaws.com');
    expect(encrypt.Condition['ForAnyValue:StringEquals']['kms:ResourceAliases']).toBe('alias/fmft/dev/dr-data');
    const decrypt = statements.find((s) => [s.Action].flat().includes('kms:Decrypt'));
    expect(decrypt.Condition.StringEquals['kms:ViaService']).toBe('s3.us-east-1.amazonaws.com');
    expect(decrypt.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^DataKey/), 'Arn'] });
  });

  test('the bucket waits for the role\u2019s policy: S3 checks the permissions when the configuration is put', () => {
    const f = replicated();
    const [bucketId, bucket] = Object.entries(f.template().findResources('AWS::S3::Bucket')).find(([, b]: any) => b.Properties.BucketName === 'fmft-dev-training-data') as [string, any];
    expect(bucketId).toMatch(/^TrainingData/);
    expect(bucket.DependsOn.some((d: string) => d.startsWith('TrainingDataReplicationRolePolicy'))).toBe(true);
  });

  test('an exemption names its reason in each regulatory pack and adds no replication', () => {
    const f = replicated({ exemption: NOT_HERE });
    expect(acks(f.bucket.bucket)).toEqual(
      expect.objectContaining({ 'NIST.800.53.R5::NIST.800.53.R5-S3BucketReplicationEnabled': NOT_HERE, 'PCI.DSS.321::PCI.DSS.321-S3BucketReplicationEnabled': NOT_HERE }),
    );
    expect(JSON.stringify(f.template().toJSON())).not.toContain('ReplicationConfiguration');
  });

  test.each([
    ['a replica in the same region', { to: { ...TO, region: 'us-east-1' } }, 'fmft-dev-training-data', /to.region: got "us-east-1"; a replica must be in another region than its bucket/],
    ['a replicated bucket without a name', { to: TO }, null, /replication: a replicated bucket needs a bucketName/],
  ])('refuses %s', (_what, choice, name, message) => {
    expect(() => replicated(choice as ReplicationChoice, name)).toThrow(message);
  });

  test('access logs replicate to an SSE-S3 replica: a replica key is refused', () => {
    expect(() => new AccessLogBucket(testStack(), 'Logs', { expirationDays: 30, bucketName: 'fmft-dev-access-logs', replication: { to: TO } })).toThrow(
      /replication.to.keyAlias: access logs are SSE-S3/,
    );
  });
});
