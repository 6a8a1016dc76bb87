import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AccessLogBucket } from '../../lib/constructs/access-log-bucket';
import {
  BackupJobAlerts,
  BucketBackup,
  BucketBackupProps,
  FAILED_BACKUP_STATES,
  PlatformBackupVault,
  S3_BACKUP_ACTIONS,
  S3_RESTORE_ACTIONS,
} from '../../lib/constructs/bucket-backup';
import { MlBucket } from '../../lib/constructs/ml-bucket';
import { PlatformKey } from '../../lib/constructs/platform-key';
import { testStack } from '../support/app';
import { templateText } from '../support/template-text';

const NO_REPLICA = { exemption: 'A test bucket without a replica, backed up instead' };
const COPY = { vaultName: 'fmft-dev-dr-backup', region: 'us-west-2', retentionDays: 30, restoreKeyAliases: ['fmft/dev/dr-data'] };
const LOCK = { minRetentionDays: 7, maxRetentionDays: 365, changeableForDays: 3 };

/** A stack with two data buckets under one key, an invocation-log bucket under another, and their backup. */
function fixture(change: Partial<BucketBackupProps> = {}, tweak: (buckets: Record<string, MlBucket>) => void = () => undefined) {
  const stack = testStack();
  const key = (id: string, alias: string) => new PlatformKey(stack, id, { aliasName: alias, description: id, rotationPeriodDays: 365, deletionWindowDays: 7 }).key;
  const dataKey = key('DataKey', 'fmft/dev/data');
  const logsKey = key('LogsKey', 'fmft/dev/invocation-logs');
  const backupKey = key('BackupKey', 'fmft/dev/backup');
  const accessLogs = new AccessLogBucket(stack, 'AccessLogs', { expirationDays: 365, replication: NO_REPLICA }).bucket;
  const bucket = (id: string, bucketName: string | undefined, encryptionKey = dataKey) =>
    new MlBucket(stack, id, { bucketName, encryptionKey, accessLogsBucket: accessLogs, noncurrentVersionExpirationDays: 30, abortIncompleteUploadDays: 7, replication: NO_REPLICA });
  const buckets: Record<string, MlBucket> = {
    trainingData: bucket('TrainingData', 'fmft-dev-training-data'),
    evaluation: bucket('Evaluation', 'fmft-dev-evaluation-results'),
    invocationLogs: bucket('InvocationLogs', 'fmft-dev-invocation-logs', logsKey),
  };
  tweak(buckets);
  const make = () =>
    new BucketBackup(stack, 'Backup', {
      vaultName: 'fmft-dev-backup',
      encryptionKey: backupKey,
      planName: 'fmft-dev-backup',
      buckets,
      continuousRetentionDays: 7,
      copy: COPY,
      restoreBucketPrefix: 'fmft-dev-restored-',
      ...change,
    });
  return { stack, dataKey, logsKey, backupKey, buckets, make };
}

const id = (stack: Stack, c: any) => stack.getLogicalId((c.node?.defaultChild ?? c) as any);
const text = templateText;
const BUCKETS = ['fmft-dev-training-data', 'fmft-dev-evaluation-results', 'fmft-dev-invocation-logs'].map((b) => `arn:<AWS::Partition>:s3:::${b}`);
const arn = (b: string) => text(b).replace('arn:aws:', 'arn:<AWS::Partition>:');

/** Every statement of the policy of one role, found by the role's description. */
function statementsOf(template: Template, description: RegExp): any[] {
  const policies = Object.values(template.findResources('AWS::IAM::ManagedPolicy')).filter((p: any) => description.test(p.Properties.Description));
  expect(policies).toHaveLength(1);
  return (policies[0] as any).Properties.PolicyDocument.Statement;
}
const actionsOf = (s: any): string[] => [s.Action].flat();
const resourcesOf = (s: any): string[] => [s.Resource].flat().map(arn);

describe('BucketBackup', () => {
  const f = fixture();
  const b = f.make();
  const template = Template.fromStack(f.stack);

  test('a vault named as given, encrypted with its own key, kept on delete, without a lock unless one is asked for', () => {
    template.resourceCountIs('AWS::Backup::BackupVault', 1);
    template.hasResource('AWS::Backup::BackupVault', {
      Properties: { BackupVaultName: 'fmft-dev-backup', EncryptionKeyArn: { 'Fn::GetAtt': [id(f.stack, f.backupKey), 'Arn'] }, LockConfiguration: Match.absent() },
      DeletionPolicy: 'Retain',
    });
  });

  test('a locked vault: compliance mode with changeableForDays, governance mode without', () => {
    const locked = Template.fromStack(fixture({ lock: LOCK }).make().node.scope as Stack);
    locked.hasResourceProperties('AWS::Backup::BackupVault', { LockConfiguration: { MinRetentionDays: 7, MaxRetentionDays: 365, ChangeableForDays: 3 } });
    const governance = Template.fromStack(fixture({ lock: { minRetentionDays: 1, maxRetentionDays: 30 } }).make().node.scope as Stack);
    governance.hasResourceProperties('AWS::Backup::BackupVault', { LockConfiguration: { MinRetentionDays: 1, MaxRetentionDays: 30, ChangeableForDays: Match.absent() } });
  });

  test('one rule: continuous backups kept for the configured days, into the vault, daily for the copy', () => {
    template.resourceCountIs('AWS::Backup::BackupPlan', 1);
    template.hasResourceProperties('AWS::Backup::BackupPlan', {
      BackupPlan: {
        BackupPlanName: 'fmft-dev-backup',
        BackupPlanRule: [
          Match.objectLike({
            EnableContinuousBackup: true,
            Lifecycle: { DeleteAfterDays: 7 },
            TargetBackupVault: { 'Fn::GetAtt': [id(f.stack, b.vault), 'BackupVaultName'] },
            ScheduleExpression: 'cron(0 5 * * ? *)',
          }),
        ],
      },
    });
  });

  test('the copy goes to the vault of that name in the other region, kept for its own days', () => {
    const [rule] = (Object.values(template.findResources('AWS::Backup::BackupPlan'))[0] as any).Properties.BackupPlan.BackupPlanRule;
    expect(rule.CopyActions).toHaveLength(1);
    expect(arn(rule.CopyActions[0].DestinationBackupVaultArn)).toBe('arn:<AWS::Partition>:backup:us-west-2:<AWS::AccountId>:backup-vault:fmft-dev-dr-backup');
    expect(rule.CopyActions[0].Lifecycle).toEqual({ DeleteAfterDays: 30 });
    expect(b.copyVaultArn).toBeDefined();
    const without = Template.fromStack(fixture({ copy: undefined }).make().node.scope as Stack);
    without.hasResourceProperties('AWS::Backup::BackupPlan', { BackupPlan: { BackupPlanRule: [Match.objectLike({ CopyActions: Match.absent(), EnableContinuousBackup: true })] } });
  });

  test('the selection is exactly the buckets, by ARN (no tags, no conditions), with the backup role, after its policy exists', () => {
    const [[selectionId, selection]] = Object.entries(template.findResources('AWS::Backup::BackupSelection')) as [string, any][];
    const s = selection.Properties.BackupSelection;
    expect(s.Resources.map(arn).sort()).toEqual([...BUCKETS].sort());
    expect(s.ListOfTags).toBeUndefined();
    expect(s.Conditions).toBeUndefined();
    expect(s.NotResources).toBeUndefined();
    expect(s.IamRoleArn).toEqual({ 'Fn::GetAtt': [id(f.stack, b.backupRole.role), 'Arn'] });
    expect(selection.DependsOn).toContain(id(f.stack, b.backupRole.policy!));
    expect(selectionId).toMatch(/Buckets/);
  });

  test('AWS Backup alone may assume both roles, for this account\u2019s Backup resources only, and no AWS managed policy is attached', () => {
    const roles = Object.values(template.findResources('AWS::IAM::Role')).filter((r: any) => JSON.stringify(r).includes('backup.amazonaws.com')) as any[];
    expect(roles).toHaveLength(2);
    for (const r of roles) {
      const [trust] = r.Properties.AssumeRolePolicyDocument.Statement;
      expect(trust.Principal).toEqual({ Service: 'backup.amazonaws.com' });
      expect(trust.Condition.StringEquals).toEqual({ 'aws:SourceAccount': { Ref: 'AWS::AccountId' } });
      expect(arn(trust.Condition.ArnLike['aws:SourceArn'])).toBe('arn:<AWS::Partition>:backup:*:<AWS::AccountId>:*');
      expect(r.Properties.ManagedPolicyArns).toBeUndefined();
    }
    expect(JSON.stringify(template.toJSON())).not.toMatch(/arn:aws:iam::aws:policy|AWSBackupServiceRolePolicy/);
  });

  test('the backup role: the documented S3 backup actions on the buckets and their objects only, the vaults, and decrypt through S3 for these buckets', () => {
    const statements = statementsOf(template, /backs up/);
    const find = (action: string) => statements.filter((s) => actionsOf(s).includes(action));
    expect(resourcesOf(find('s3:PutInventoryConfiguration')[0]).sort()).toEqual([...BUCKETS].sort());
    expect(actionsOf(find('s3:PutInventoryConfiguration')[0]).sort()).toEqual([...S3_BACKUP_ACTIONS.bucket].sort());
    expect(resourcesOf(find('s3:GetObjectVersion')[0]).sort()).toEqual(BUCKETS.map((x) => `${x}/*`).sort());
    expect(actionsOf(find('s3:GetObjectVersion')[0]).sort()).toEqual([...S3_BACKUP_ACTIONS.objects].sort());
    expect(resourcesOf(find('events:PutRule')[0])).toEqual(['arn:<AWS::Partition>:events:us-east-1:<AWS::AccountId>:rule/AwsBackupManagedRule*']);
    expect(actionsOf(statements.find((s) => s.Resource === '*')).sort()).toEqual([...S3_BACKUP_ACTIONS.global].sort());
    expect(resourcesOf(find('backup:CopyIntoBackupVault')[0]).map((r) => r.replace(/\{.*\}/, '<vault>'))).toEqual([
      '<vault>',
      'arn:<AWS::Partition>:backup:us-west-2:<AWS::AccountId>:backup-vault:fmft-dev-dr-backup',
    ]);
    // Nothing that writes or deletes data.
    const all = statements.flatMap(actionsOf);
    expect(all.filter((a) => /^s3:(Put(Object|BucketVersioning|BucketOwnership)|Delete|CreateBucket)/.test(a))).toEqual([]);
    const [decrypt] = find('kms:Decrypt');
    expect(actionsOf(decrypt)).toEqual(['kms:Decrypt']);
    expect(decrypt.Resource.map((r: any) => r['Fn::GetAtt'][0]).sort()).toEqual([id(f.stack, f.dataKey), id(f.stack, f.logsKey)].sort());
    expect(decrypt.Condition.StringEquals).toEqual({ 'kms:ViaService': 's3.us-east-1.amazonaws.com' });
    expect(decrypt.Condition.StringLike['kms:EncryptionContext:aws:s3:arn'].map(arn).sort()).toEqual(BUCKETS.flatMap((x) => [x, `${x}/*`]).sort());
    expect(find('kms:DescribeKey')[0].Condition).toEqual({ StringEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' } });
  });

  test('the restore role writes into the buckets but cannot delete in them nor change their versioning or ownership; new buckets only under the prefix', () => {
    const statements = statementsOf(template, /restores/);
    const grantsOn = (resource: string) => statements.filter((s) => resourcesOf(s).includes(resource)).flatMap(actionsOf).sort();
    for (const bucket of BUCKETS) {
      expect(grantsOn(bucket)).toEqual([...S3_RESTORE_ACTIONS.existingBucket].sort());
      expect(grantsOn(`${bucket}/*`)).toEqual([...S3_RESTORE_ACTIONS.objects].sort());
    }
    expect(grantsOn('arn:<AWS::Partition>:s3:::fmft-dev-restored-*')).toEqual([...S3_RESTORE_ACTIONS.newBucket].sort());
    expect(grantsOn('arn:<AWS::Partition>:s3:::fmft-dev-restored-*/*')).toEqual([...S3_RESTORE_ACTIONS.objects, 's3:DeleteObject'].sort());
    const creates = statements.filter((s) => actionsOf(s).some((a) => /CreateBucket|PutBucket|DeleteObject/.test(a)));
    for (const s of creates) expect(resourcesOf(s).every((r) => r.includes('fmft-dev-restored-'))).toBe(true);
  });

  test('the restore role uses the DR keys only by alias, through S3 in the DR region, for new restore buckets', () => {
    const statements = statementsOf(template, /restores/);
    const dr = statements.filter((s) => resourcesOf(s).some((r) => r.startsWith('arn:<AWS::Partition>:kms:us-west-2:')));
    expect(dr).toHaveLength(2);
    for (const s of dr) {
      expect(resourcesOf(s)).toEqual(['arn:<AWS::Partition>:kms:us-west-2:<AWS::AccountId>:key/*']);
      expect(s.Condition.StringEquals).toEqual({ 'kms:ViaService': 's3.us-west-2.amazonaws.com' });
      expect(s.Condition['ForAnyValue:StringEquals']).toEqual({ 'kms:ResourceAliases': ['alias/fmft/dev/dr-data'] });
    }
    const write = dr.find((s) => actionsOf(s).includes('kms:GenerateDataKey'));
    expect(write.Condition.StringLike['kms:EncryptionContext:aws:s3:arn'].map(arn)).toEqual(['arn:<AWS::Partition>:s3:::fmft-dev-restored-*', 'arn:<AWS::Partition>:s3:::fmft-dev-restored-*/*']);
  });

  test.each<[string, Partial<BucketBackupProps>, ((buckets: Record<string, MlBucket>) => void) | undefined, RegExp]>([
    ['a point-in-time window of 0 days', { continuousRetentionDays: 0 }, undefined, /continuousRetentionDays must be a whole number from 1 to 35 \(AWS Backup's limit for continuous backups\), got 0/],
    ['a point-in-time window beyond 35 days', { continuousRetentionDays: 36 }, undefined, /continuousRetentionDays must be a whole number from 1 to 35.*got 36/],
    ['no buckets', { buckets: {} }, undefined, /buckets: got none; back up at least one bucket/],
    [
      'a bucket without versioning',
      {},
      (buckets) => ((buckets.evaluation.bucket.node.defaultChild as s3.CfnBucket).versioningConfiguration = undefined),
      /buckets.evaluation: the bucket must be versioned \(AWS Backup for S3 needs versioning\)/,
    ],
    ['a copy into the same region', { copy: { ...COPY, region: 'us-east-1' } }, undefined, /copy.region: got "us-east-1"; a copy must go to another region than the backups/],
    ['a copy kept 0 days', { copy: { ...COPY, retentionDays: 0 } }, undefined, /copy.retentionDays must be a whole number from 1 to 36500, got 0/],
    ['a point-in-time window the lock refuses', { lock: { minRetentionDays: 14, maxRetentionDays: 365 } }, undefined, /continuousRetentionDays 7 is outside the vault lock's 14 to 365 days: the vault would fail every backup/],
    ['a restore prefix that is no bucket name part', { restoreBucketPrefix: 'Restored_' }, undefined, /restoreBucketPrefix must be lower-case letters, digits, . and - ending with '-', got 'Restored_'/],
  ])('refuses %s', (_what, change, tweak, message) => {
    expect(() => fixture(change, tweak).make()).toThrow(message);
  });

  test('refuses a bucket without a fixed name (the selection names it)', () => {
    const f2 = fixture({}, () => undefined);
    const unnamed = new MlBucket(f2.stack, 'Unnamed', {
      encryptionKey: f2.dataKey,
      accessLogsBucket: f2.buckets.trainingData.bucket,
      noncurrentVersionExpirationDays: 30,
      abortIncompleteUploadDays: 7,
      replication: NO_REPLICA,
    });
    expect(() => new BucketBackup(f2.stack, 'Other', { vaultName: 'v-2', encryptionKey: f2.backupKey, planName: 'p', buckets: { unnamed }, continuousRetentionDays: 7, restoreBucketPrefix: 'r-' })).toThrow(
      /buckets.unnamed: the bucket needs a fixed bucketName/,
    );
  });
});

describe('PlatformBackupVault', () => {
  const make = (props: Partial<ConstructorParameters<typeof PlatformBackupVault>[2]> = {}) => {
    const stack = testStack();
    const key = new PlatformKey(stack, 'Key', { aliasName: 'fmft/dev/dr-backup', description: 'dr', rotationPeriodDays: 365, deletionWindowDays: 7 }).key;
    new PlatformBackupVault(stack, 'Vault', { vaultName: 'fmft-dev-dr-backup', encryptionKey: key, ...props });
    return Template.fromStack(stack);
  };

  test('deleted with the stack only when asked (a vault with recovery points cannot be deleted anyway)', () => {
    make({ retainOnDelete: false }).hasResource('AWS::Backup::BackupVault', { DeletionPolicy: 'Delete' });
  });

  test.each<[string, object, RegExp]>([
    ['a name with other characters', { vaultName: 'fmft dev' }, /vaultName must be 2 to 50 letters, digits, - and _, got 'fmft dev'/],
    ['a lock minimum of 0 days', { lock: { minRetentionDays: 0, maxRetentionDays: 30 } }, /lock.minRetentionDays must be a whole number from 1 to 36500, got 0/],
    ['a lock maximum beyond 100 years', { lock: { minRetentionDays: 1, maxRetentionDays: 36501 } }, /lock.maxRetentionDays must be a whole number from 1 to 36500, got 36501/],
    ['a grace period under 3 days', { lock: { ...LOCK, changeableForDays: 2 } }, /lock.changeableForDays must be a whole number from 3 to 36500, got 2/],
    ['a lock minimum above its maximum', { lock: { minRetentionDays: 40, maxRetentionDays: 30 } }, /lock.minRetentionDays \(40\) must be at most lock.maxRetentionDays \(30\)/],
  ])('refuses %s', (_what, props, message) => {
    expect(() => make(props)).toThrow(message);
  });
});

describe('BackupJobAlerts', () => {
  const stack = testStack();
  const topic = new sns.Topic(stack, 'Topic');
  const queue = new sqs.Queue(stack, 'Undelivered');
  new BackupJobAlerts(stack, 'Alerts', { vaultName: 'fmft-dev-backup', topic, deadLetterQueue: queue });
  const template = Template.fromStack(stack);
  const rules = Object.values(template.findResources('AWS::Events::Rule')) as any[];
  const target = Match.objectLike({
    Arn: { Ref: id(stack, topic) },
    DeadLetterConfig: { Arn: { 'Fn::GetAtt': [id(stack, queue), 'Arn'] } },
    RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 86400 },
  });

  test('backup jobs of the vault that failed, were aborted, expired, or completed with a status message reach the topic', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.backup'],
        'detail-type': ['Backup Job State Change'],
        detail: { backupVaultName: ['fmft-dev-backup'], $or: [{ state: FAILED_BACKUP_STATES }, { state: ['COMPLETED'], statusMessage: [{ exists: true }] }] },
      },
      Targets: [target],
    });
    expect(FAILED_BACKUP_STATES).toEqual(['FAILED', 'ABORTED', 'EXPIRED']);
  });

  test('failed copy jobs out of the vault (its ARN built from the name) reach the topic, with the job id and the command to see it', () => {
    const copy = rules.find((r) => r.Properties.EventPattern['detail-type'][0] === 'Copy Job State Change');
    expect(copy.Properties.EventPattern.detail.state).toEqual(['FAILED']);
    expect(arn(copy.Properties.EventPattern.detail.sourceBackupVaultArn[0])).toBe('arn:<AWS::Partition>:backup:us-east-1:<AWS::AccountId>:backup-vault:fmft-dev-backup');
    expect(copy.Properties.Targets[0].InputTransformer.InputTemplate).toContain('aws backup describe-copy-job --copy-job-id <detail-copyJobId>');
    expect(rules).toHaveLength(2);
  });
});
