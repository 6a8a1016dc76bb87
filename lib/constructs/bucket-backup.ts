import { ArnFormat, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as backup from 'aws-cdk-lib/aws-backup';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { MAX_BACKUP_RETENTION_DAYS, MAX_CONTINUOUS_BACKUP_DAYS, MIN_VAULT_LOCK_CHANGEABLE_DAYS } from '../config/environment-config';
import { acknowledgeNag, iam5ResourceFinding } from './compliance';
import { MlBucket } from './ml-bucket';
import { MlServiceRole } from './ml-service-role';
import { announceOnTopic } from './platform-alerts';

/**
 * AWS Backup Vault Lock (AWS Backup developer guide, "AWS Backup Vault Lock":
 * https://docs.aws.amazon.com/aws-backup/latest/devguide/vault-lock.html): the vault refuses every backup or
 * copy job kept for fewer than `minRetentionDays` or more than `maxRetentionDays`, and nobody can delete a
 * recovery point or shorten its retention.
 */
export interface VaultLock {
  /** The shortest retention a job into the vault may have (1 to 36500 days). */
  readonly minRetentionDays: number;
  /** The longest retention a job into the vault may have (1 to 36500 days, at least `minRetentionDays`). */
  readonly maxRetentionDays: number;
  /**
   * Compliance mode: after these days (3 to 36500; AWS Backup's cooling-off period is 72 hours) the lock can
   * no longer be changed or removed, by anyone, AWS included, while the vault holds recovery points.
   * @default - governance mode: users with IAM permission may remove the lock
   */
  readonly changeableForDays?: number;
}

export interface PlatformBackupVaultProps {
  /** Name, unique in the account and region (2 to 50 letters, digits, - and _). */
  readonly vaultName: string;
  /** Customer managed key in the vault's region: S3 backups and copies are encrypted with the vault's key, whatever the bucket's. */
  readonly encryptionKey: kms.IKey;
  /** @default - no lock */
  readonly lock?: VaultLock;
  /** Keep the vault when the stack is deleted (CloudFormation cannot delete a vault that holds recovery points). @default true */
  readonly retainOnDelete?: boolean;
}

/** A named AWS Backup vault encrypted with a customer managed key, optionally locked. */
export class PlatformBackupVault extends Construct {
  readonly vault: backup.BackupVault;

  constructor(scope: Construct, id: string, props: PlatformBackupVaultProps) {
    super(scope, id);
    const problems: string[] = [];
    if (!Token.isUnresolved(props.vaultName) && !/^[a-zA-Z0-9_-]{2,50}$/.test(props.vaultName)) {
      problems.push(`vaultName must be 2 to 50 letters, digits, - and _, got '${props.vaultName}'`);
    }
    problems.push(...lockProblems(props.lock));
    if (problems.length) throw new Error(`Invalid PlatformBackupVault props:\n- ${problems.join('\n- ')}`);
    const lock = props.lock;
    this.vault = new backup.BackupVault(this, 'Vault', {
      backupVaultName: props.vaultName,
      encryptionKey: props.encryptionKey,
      lockConfiguration: lock && {
        minRetention: Duration.days(lock.minRetentionDays),
        maxRetention: Duration.days(lock.maxRetentionDays),
        changeableFor: lock.changeableForDays === undefined ? undefined : Duration.days(lock.changeableForDays),
      },
      removalPolicy: props.retainOnDelete === false ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });
  }
}

/** The copy of each backup to a vault in another region, found by its name (the DR stack creates it). */
export interface BackupCopy {
  /** Name of the destination vault in `region`. */
  readonly vaultName: string;
  /** Another region than the backups'. */
  readonly region: string;
  /** Days each copy is kept (1 to 36500). */
  readonly retentionDays: number;
  /**
   * Aliases (without `alias/`) of keys in `region` that objects restored from a copy may be encrypted with.
   * @default - none: restored objects of a copy need SSE-S3
   */
  readonly restoreKeyAliases?: readonly string[];
}

export interface BucketBackupProps {
  /** The backup vault in this stack's region. */
  readonly vaultName: string;
  /** Encrypts the vault: a key of its own, so that losing a bucket's key (disabled, scheduled for deletion) does not take the backups with it. */
  readonly encryptionKey: kms.IKey;
  /** @default - no lock */
  readonly lock?: VaultLock;
  /** Keep the vault when the stack is deleted. @default true */
  readonly retainOnDelete?: boolean;
  /** Name of the backup plan. */
  readonly planName: string;
  /** The buckets backed up, by label (construct ids, messages); each must be versioned and have a fixed name. */
  readonly buckets: Readonly<Record<string, MlBucket>>;
  /** Days of point-in-time restore (continuous backups: 1 to 35). */
  readonly continuousRetentionDays: number;
  /** @default - no copy */
  readonly copy?: BackupCopy;
  /**
   * When the plan's rule runs each day: AWS Backup takes the snapshot it copies to `copy` then (a continuous
   * rule copies snapshots, not the continuous recovery point). @default 05:00 UTC
   */
  readonly copySchedule?: events.Schedule;
  /**
   * First part of the names of new buckets a restore job may create (in either region), e.g.
   * `fmft-dev-restored-`: a point in time restored next to the live data, to compare before copying back.
   */
  readonly restoreBucketPrefix: string;
}

/** S3 actions AWS Backup needs on a bucket and its objects to back it up (AWS Backup developer guide, "Managed policies for AWS Backup", Amazon S3 backup policy: https://docs.aws.amazon.com/aws-backup/latest/devguide/security-iam-awsmanpol.html). */
export const S3_BACKUP_ACTIONS = {
  bucket: [
    's3:GetInventoryConfiguration',
    's3:PutInventoryConfiguration',
    's3:ListBucketVersions',
    's3:ListBucket',
    's3:GetBucketVersioning',
    's3:GetBucketNotification',
    's3:PutBucketNotification',
    's3:GetBucketLocation',
    's3:GetBucketTagging',
    's3:GetBucketAcl',
  ],
  objects: ['s3:GetObjectAcl', 's3:GetObject', 's3:GetObjectVersionTagging', 's3:GetObjectVersionAcl', 's3:GetObjectTagging', 's3:GetObjectVersion'],
  /** The EventBridge rules AWS Backup manages for continuous S3 backups are named AwsBackupManagedRule*. */
  rules: ['events:DescribeRule', 'events:EnableRule', 'events:PutRule', 'events:DeleteRule', 'events:PutTargets', 'events:RemoveTargets', 'events:ListTargetsByRule', 'events:DisableRule'],
  /** No resource-level permissions. */
  global: ['s3:ListAllMyBuckets', 'cloudwatch:GetMetricData', 'events:ListRules'],
} as const;

/** S3 actions of a restore (the AWS managed policy AWSBackupServiceRolePolicyForS3Restore: https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSBackupServiceRolePolicyForS3Restore.html). */
export const S3_RESTORE_ACTIONS = {
  /** On a bucket that exists: read-only, so a restore cannot switch versioning off or ACLs on. */
  existingBucket: ['s3:ListBucketVersions', 's3:ListBucket', 's3:GetBucketVersioning', 's3:GetBucketLocation', 's3:GetBucketOwnershipControls'],
  /** On a bucket the restore creates. */
  newBucket: [
    's3:CreateBucket',
    's3:ListBucketVersions',
    's3:ListBucket',
    's3:GetBucketVersioning',
    's3:GetBucketLocation',
    's3:PutBucketVersioning',
    's3:PutBucketOwnershipControls',
    's3:GetBucketOwnershipControls',
  ],
  /** Objects of either; s3:DeleteObject only in new buckets (a restore into a live bucket never replaces nor deletes). */
  objects: [
    's3:GetObject',
    's3:GetObjectVersion',
    's3:PutObjectVersionAcl',
    's3:GetObjectVersionAcl',
    's3:GetObjectTagging',
    's3:PutObjectTagging',
    's3:GetObjectAcl',
    's3:PutObjectAcl',
    's3:ListMultipartUploadParts',
    's3:PutObject',
  ],
} as const;

/** The daily time of the rule that feeds the DR copy. */
const DEFAULT_COPY_SCHEDULE = events.Schedule.cron({ minute: '0', hour: '5' });

/**
 * AWS Backup of S3 buckets: continuous backups (point-in-time restore for `continuousRetentionDays`) of exactly
 * the given buckets, selected by ARN (a tag could be put on any bucket), into a vault of their own with its
 * own customer managed key, optionally locked, and a daily copy to a vault in another region. Two roles AWS
 * Backup assumes for this account only: one backs up (reads the buckets, decrypts with their keys through S3),
 * one restores (writes into the backed-up buckets, or into new buckets named `restoreBucketPrefix*`), each with
 * the S3 actions AWS documents and nothing account-wide that has a resource-level permission.
 */
export class BucketBackup extends Construct {
  readonly vault: backup.BackupVault;
  /** The vault's name (a string, usable in other stacks without an export). */
  readonly vaultName: string;
  readonly plan: backup.BackupPlan;
  readonly selection: backup.BackupSelection;
  /** Assigned to the selection: backs up and copies. */
  readonly backupRole: MlServiceRole;
  /** Passed to StartRestoreJob (`--iam-role-arn`). */
  readonly restoreRole: MlServiceRole;
  /** ARN of the copy's destination vault, built from its name. */
  readonly copyVaultArn?: string;

  constructor(scope: Construct, id: string, props: BucketBackupProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const problems: string[] = [];
    const days = props.continuousRetentionDays;
    if (!Token.isUnresolved(days) && !(Number.isInteger(days) && days >= 1 && days <= MAX_CONTINUOUS_BACKUP_DAYS)) {
      problems.push(`continuousRetentionDays must be a whole number from 1 to ${MAX_CONTINUOUS_BACKUP_DAYS} (AWS Backup's limit for continuous backups), got ${days}`);
    }
    const labels = Object.keys(props.buckets);
    if (labels.length === 0) problems.push('buckets: got none; back up at least one bucket');
    for (const [label, b] of Object.entries(props.buckets)) {
      // AWS Backup for S3 needs versioning (developer guide, "Amazon S3 backups": "You must enable S3 Versioning").
      const versioning = (b.bucket.node.defaultChild as s3.CfnBucket).versioningConfiguration as s3.CfnBucket.VersioningConfigurationProperty | undefined;
      if (versioning?.status !== 'Enabled') problems.push(`buckets.${label}: the bucket must be versioned (AWS Backup for S3 needs versioning)`);
      if (b.bucketArnForGrants === b.bucket.bucketArn) problems.push(`buckets.${label}: the bucket needs a fixed bucketName (the selection and grants name it)`);
    }
    const copy = props.copy;
    if (copy) {
      if (!Token.isUnresolved(copy.region) && copy.region === stack.region) problems.push(`copy.region: got "${copy.region}"; a copy must go to another region than the backups`);
      if (!Token.isUnresolved(copy.retentionDays) && !(Number.isInteger(copy.retentionDays) && copy.retentionDays >= 1 && copy.retentionDays <= MAX_BACKUP_RETENTION_DAYS)) {
        problems.push(`copy.retentionDays must be a whole number from 1 to ${MAX_BACKUP_RETENTION_DAYS}, got ${copy.retentionDays}`);
      }
    }
    const lock = props.lock;
    if (lock && !Token.isUnresolved(days) && (days < lock.minRetentionDays || days > lock.maxRetentionDays)) {
      problems.push(`continuousRetentionDays ${days} is outside the vault lock's ${lock.minRetentionDays} to ${lock.maxRetentionDays} days: the vault would fail every backup`);
    }
    if (!/^[a-z0-9][a-z0-9.-]*-$/.test(props.restoreBucketPrefix)) problems.push(`restoreBucketPrefix must be lower-case letters, digits, . and - ending with '-', got '${props.restoreBucketPrefix}'`);
    if (problems.length) throw new Error(`Invalid BucketBackup props:\n- ${problems.join('\n- ')}`);

    this.vaultName = props.vaultName;
    this.vault = new PlatformBackupVault(this, 'Vault', {
      vaultName: props.vaultName,
      encryptionKey: props.encryptionKey,
      lock,
      retainOnDelete: props.retainOnDelete,
    }).vault;

    const buckets = Object.values(props.buckets);
    const bucketArns = buckets.map((b) => b.bucketArnForGrants);
    const keys = [...new Set(buckets.map((b) => b.encryptionKey))];
    // AWS Backup assumes both roles for this account's jobs, in either region (restores of a copy run in copy.region).
    const trust = { service: 'backup.amazonaws.com', sourceArnPattern: stack.formatArn({ service: 'backup', region: '*', resource: '*' }) };

    this.backupRole = new MlServiceRole(this, 'BackupRole', { description: `AWS Backup backs up ${labels.join(', ')} into ${props.vaultName}`, trust });
    this.grantBackup(this.backupRole, bucketArns, keys);

    this.copyVaultArn = copy && stack.formatArn({ service: 'backup', region: copy.region, resource: 'backup-vault', resourceName: copy.vaultName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    // The backup role also runs the copy jobs of the plan's rule.
    const vaults = [this.vault.backupVaultArn, ...(this.copyVaultArn ? [this.copyVaultArn] : [])];
    this.backupRole.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['backup:DescribeBackupVault', 'backup:CopyIntoBackupVault'], resources: vaults }));

    this.restoreRole = new MlServiceRole(this, 'RestoreRole', { description: `AWS Backup restores ${labels.join(', ')} from ${props.vaultName}${copy ? ` or ${copy.vaultName}` : ''}`, trust });
    this.grantRestore(this.restoreRole, bucketArns, keys, props.restoreBucketPrefix, copy);

    this.plan = new backup.BackupPlan(this, 'Plan', {
      backupPlanName: props.planName,
      backupPlanRules: [
        new backup.BackupPlanRule({
          ruleName: copy ? 'ContinuousWithCopy' : 'Continuous',
          backupVault: this.vault,
          enableContinuousBackup: true,
          deleteAfter: Duration.days(days),
          scheduleExpression: props.copySchedule ?? DEFAULT_COPY_SCHEDULE,
          copyActions: copy && [
            {
              destinationBackupVault: backup.BackupVault.fromBackupVaultArn(this, 'CopyVault', this.copyVaultArn!),
              deleteAfter: Duration.days(copy.retentionDays),
            },
          ],
        }),
      ],
    });
    this.selection = this.plan.addSelection('Buckets', {
      backupSelectionName: 'DataBuckets',
      resources: bucketArns.map((arn) => backup.BackupResource.fromArn(arn)),
      role: this.backupRole.role,
      // The role's own policy lists the actions; no AWS managed policy is attached.
      disableDefaultBackupPolicy: true,
    });
    // AWS Backup starts the first continuous backup as soon as the selection exists: its permissions first.
    if (this.backupRole.policy) this.selection.node.addDependency(this.backupRole.policy);
  }

  /** Read the buckets' versions, manage the change feed AWS Backup keeps for them, and decrypt with their keys through S3. */
  private grantBackup(role: MlServiceRole, bucketArns: string[], keys: kms.IKey[]): void {
    const stack = Stack.of(this);
    const add = (actions: readonly string[], resources: string[], conditions?: Record<string, unknown>) =>
      role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: [...actions], resources, conditions }));
    const objects = bucketArns.map((arn) => `${arn}/*`);
    add(S3_BACKUP_ACTIONS.bucket, bucketArns);
    add(S3_BACKUP_ACTIONS.objects, objects);
    const rules = stack.formatArn({ service: 'events', resource: 'rule', resourceName: 'AwsBackupManagedRule*' });
    add(S3_BACKUP_ACTIONS.rules, [rules]);
    add(S3_BACKUP_ACTIONS.global, ['*']);
    this.grantKeys(role, keys, ['kms:Decrypt'], bucketArns);
    acknowledgeNag(
      role,
      ...objects.map((o) => ({ id: iam5ResourceFinding(role, o), reason: 'A backup reads every object version of the bucket it backs up, and only of the selected buckets' })),
      { id: iam5ResourceFinding(role, rules), reason: 'AWS Backup names the EventBridge rules of continuous S3 backups AwsBackupManagedRule<id> at run time; the statement is limited to those names in this account and region' },
      { id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]', reason: 's3:ListAllMyBuckets, cloudwatch:GetMetricData and events:ListRules have no resource-level permissions; AWS documents them for S3 backups' },
    );
  }

  /**
   * Write restored objects into the backed-up buckets (never replacing or deleting: AWS Backup restores are
   * non-destructive), or create and fill new buckets named `<prefix>*`, encrypting with the buckets' keys (or,
   * in the copy's region, with the keys of `restoreKeyAliases`).
   */
  private grantRestore(role: MlServiceRole, bucketArns: string[], keys: kms.IKey[], prefix: string, copy?: BackupCopy): void {
    const stack = Stack.of(this);
    const add = (actions: readonly string[], resources: string[], conditions?: Record<string, unknown>) =>
      role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: [...actions], resources, conditions }));
    const newBuckets = stack.formatArn({ service: 's3', region: '', account: '', resource: `${prefix}*` });
    add(S3_RESTORE_ACTIONS.existingBucket, bucketArns);
    add(S3_RESTORE_ACTIONS.newBucket, [newBuckets]);
    add(S3_RESTORE_ACTIONS.objects, [...bucketArns.map((arn) => `${arn}/*`), `${newBuckets}/*`]);
    add(['s3:DeleteObject'], [`${newBuckets}/*`]);
    this.grantKeys(role, keys, ['kms:GenerateDataKey', 'kms:Decrypt'], [...bucketArns, newBuckets]);
    const acks = [
      ...bucketArns.map((arn) => ({ id: iam5ResourceFinding(role, `${arn}/*`), reason: 'A restore writes objects under any key of the bucket it restores; it cannot delete any' })),
      { id: iam5ResourceFinding(role, newBuckets), reason: `Restores into a new bucket create it under a name chosen at restore time; only names starting with ${prefix} are allowed` },
      { id: iam5ResourceFinding(role, `${newBuckets}/*`), reason: `A restore into a new bucket writes every object of the backup; only into buckets named ${prefix}*` },
    ];
    const aliases = copy?.restoreKeyAliases ?? [];
    if (copy && aliases.length) {
      // The copy's region has its own keys (another stack's): found by alias, used only through S3 there, only for new buckets.
      const copyKeys = stack.formatArn({ service: 'kms', region: copy.region, resource: 'key', resourceName: '*' });
      const via = { 'kms:ViaService': `s3.${copy.region}.amazonaws.com` };
      const byAlias = { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': aliases.map((a) => `alias/${a}`) } };
      add(['kms:GenerateDataKey', 'kms:Decrypt'], [copyKeys], { StringEquals: via, ...byAlias, StringLike: { 'kms:EncryptionContext:aws:s3:arn': [newBuckets, `${newBuckets}/*`] } });
      add(['kms:DescribeKey'], [copyKeys], { StringEquals: via, ...byAlias });
      acks.push({ id: iam5ResourceFinding(role, copyKeys), reason: `The keys of ${copy.region} live in the DR stack; the kms:ResourceAliases condition admits ${aliases.join(', ')} only, through S3, only for new restore buckets` });
    }
    acknowledgeNag(role, ...acks);
  }

  /** `actions` on the keys through S3 in this region, for objects of `bucketArns` only (the encryption context), and DescribeKey. */
  private grantKeys(role: MlServiceRole, keys: kms.IKey[], actions: string[], bucketArns: string[]): void {
    const via = { 'kms:ViaService': `s3.${Stack.of(this).region}.amazonaws.com` };
    const resources = keys.map((k) => k.keyArn);
    // With S3 bucket keys the encryption context is the bucket's ARN, without them the object's.
    const context = bucketArns.flatMap((arn) => [arn, `${arn}/*`]);
    role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources, conditions: { StringEquals: via, StringLike: { 'kms:EncryptionContext:aws:s3:arn': context } } }));
    role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['kms:DescribeKey'], resources, conditions: { StringEquals: via } }));
  }
}

function lockProblems(lock: VaultLock | undefined): string[] {
  if (!lock) return [];
  const problems: string[] = [];
  const whole = (name: string, v: number, min: number) => {
    if (!Token.isUnresolved(v) && !(Number.isInteger(v) && v >= min && v <= MAX_BACKUP_RETENTION_DAYS)) problems.push(`lock.${name} must be a whole number from ${min} to ${MAX_BACKUP_RETENTION_DAYS}, got ${v}`);
  };
  whole('minRetentionDays', lock.minRetentionDays, 1);
  whole('maxRetentionDays', lock.maxRetentionDays, 1);
  if (lock.changeableForDays !== undefined) whole('changeableForDays', lock.changeableForDays, MIN_VAULT_LOCK_CHANGEABLE_DAYS);
  if (lock.minRetentionDays > lock.maxRetentionDays) problems.push(`lock.minRetentionDays (${lock.minRetentionDays}) must be at most lock.maxRetentionDays (${lock.maxRetentionDays})`);
  return problems;
}

export interface BackupJobAlertsProps {
  /** The vault whose backup jobs, and copy jobs out of it, are watched (in this stack's region). */
  readonly vaultName: string;
  /** Failures are announced here; EventBridge of this account must be allowed to publish. */
  readonly topic: sns.ITopic;
  /** Announcements EventBridge could not deliver. */
  readonly deadLetterQueue: sqs.IQueue;
}

/** States of a backup job that made no recovery point (BackupJobState; PARTIAL is for composite jobs, which S3 has none of). */
export const FAILED_BACKUP_STATES = ['FAILED', 'ABORTED', 'EXPIRED'];
/** The failed state of a copy job (CopyJobState has no ABORTED or EXPIRED). */
export const FAILED_COPY_STATES = ['FAILED'];

/**
 * Announces on the alerts topic every backup job of the vault that failed, was aborted or expired unstarted,
 * every one that completed with a status message (AWS Backup's "completed with issues": for S3, objects it
 * could not back up, such as objects whose key the role may not use), and every copy job out of the vault that
 * failed. AWS Backup sends these events to EventBridge in the region of the job (developer guide, "Monitoring
 * AWS Backup events using Amazon EventBridge": https://docs.aws.amazon.com/aws-backup/latest/devguide/eventbridge.html).
 */
export class BackupJobAlerts extends Construct {
  readonly backupJobRule: events.Rule;
  readonly copyJobRule: events.Rule;

  constructor(scope: Construct, id: string, props: BackupJobAlertsProps) {
    super(scope, id);
    const field = (path: string) => events.EventField.fromPath(path);
    // Built from the name, so the vault's stack exports nothing.
    const vaultArn = Stack.of(this).formatArn({ service: 'backup', resource: 'backup-vault', resourceName: props.vaultName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    this.backupJobRule = new events.Rule(this, 'BackupJobFailed', {
      description: `Backup jobs into ${props.vaultName} that failed, or completed with issues`,
      eventPattern: {
        source: ['aws.backup'],
        detailType: ['Backup Job State Change'],
        detail: {
          backupVaultName: [props.vaultName],
          $or: [{ state: FAILED_BACKUP_STATES }, { state: ['COMPLETED'], statusMessage: [{ exists: true }] }],
        } as any,
      },
    });
    const backupJob = field('$.detail.backupJobId');
    announceOnTopic(
      this.backupJobRule,
      `AWS Backup job ${backupJob} of ${field('$.detail.resourceArn')} into ${props.vaultName} ended ${field('$.detail.state')}: ${field('$.detail.statusMessage')}. ` +
        `Details: aws backup describe-backup-job --backup-job-id ${backupJob}`,
      props.topic,
      props.deadLetterQueue,
    );
    this.copyJobRule = new events.Rule(this, 'CopyJobFailed', {
      description: `Copy jobs out of ${props.vaultName} that failed`,
      eventPattern: {
        source: ['aws.backup'],
        detailType: ['Copy Job State Change'],
        detail: { sourceBackupVaultArn: [vaultArn], state: FAILED_COPY_STATES },
      },
    });
    const copyJob = field('$.detail.copyJobId');
    announceOnTopic(
      this.copyJobRule,
      `AWS Backup copy job ${copyJob} to ${field('$.detail.destinationBackupVaultArn')} ended ${field('$.detail.state')}: ${field('$.detail.statusMessage')}. ` +
        `Details: aws backup describe-copy-job --copy-job-id ${copyJob}`,
      props.topic,
      props.deadLetterQueue,
    );
  }

}
