import { Stack, StackProps } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { EnvironmentConfig } from '../config/environment-config';
import { bucketName as platformBucketName } from '../config/naming';
import { BACKUP_VAULT_PURPOSES, backupVaultNames, ReplicaNames, replicaNames, restoredBucketPrefix } from '../config/replicas';
import { ACCESS_LOGS_PURPOSE, INVOCATION_LOGS_PURPOSE, MlBucketKind, STORAGE_LAYOUT } from '../config/storage-layout';
import { AccessLogBucket } from '../constructs/access-log-bucket';
import { BucketBackup } from '../constructs/bucket-backup';
import { ReplicationChoice } from '../constructs/bucket-replication';
import type { ReplicatedBucket } from '../constructs/replication-watch';
import { admitBedrockInvocationLogs } from '../constructs/bedrock-invocation-logging';
import { MlBucket } from '../constructs/ml-bucket';
import type { DisasterRecoveryStack } from './dr-stack';
import { environmentKey } from './environment-key';
import { addOutputs } from './outputs';


export interface StorageStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  /**
   * A failover (`-c failover=true`): the platform's buckets and keys are this DR stack's replicas, in the same
   * region, and this stack makes only what the DR stack lacks (the Bedrock custom-model key). @default - the
   * stack makes every bucket and key
   */
  readonly adopt?: DisasterRecoveryStack;
}

/**
 * What the data buckets get beyond MlBucket's defaults: training data announces new objects to EventBridge
 * (retraining on new data), and checkpoints and data capture expire. The DR stack's replicas get the same,
 * so a failover runs on them as the primary region ran on its buckets.
 */
export function dataBucketOptions(config: EnvironmentConfig): { readonly [K in MlBucketKind]: Partial<ConstructorParameters<typeof MlBucket>[2]> } {
  return {
    trainingData: { eventBridgeEnabled: true },
    modelArtifacts: {
      expirations: [
        { prefix: STORAGE_LAYOUT.modelArtifacts.prefixes.checkpoints, days: config.storage.checkpointExpirationDays },
        { prefix: STORAGE_LAYOUT.modelArtifacts.prefixes.dataCapture, days: config.monitoring.captureRetentionDays },
      ],
    },
    evaluation: {},
  };
}

/** Keys and buckets for training data, model artifacts and evaluation results, plus their access logs. */
export class StorageStack extends Stack {
  /** Encrypts the ML buckets. */
  readonly dataKey: kms.Key;
  /**
   * Encrypts Bedrock custom models. Separate from the data key: the Bedrock role's stack grants itself use
   * of this key, and a shared key would make the storage stack depend on that role, a cycle.
   */
  readonly bedrockCustomModelKey: kms.Key;
  readonly accessLogsBucket: s3.Bucket;
  readonly buckets: Readonly<Record<MlBucketKind, MlBucket>>;
  /** Bedrock model invocation logs (every prompt and answer): their own key and bucket, for auditors only. */
  readonly invocationLogsKey: kms.Key;
  readonly invocationLogsBucket: MlBucket;
  /** Every bucket with a replica in the DR region, and the replica's name (empty without replication). */
  readonly replicated: readonly ReplicatedBucket[];
  /** AWS Backup of the data buckets, when `disasterRecovery.backup` is set. */
  readonly backup?: BucketBackup;

  constructor(scope: Construct, id: string, props: StorageStackProps) {
    super(scope, id, props);
    const { config } = props;
    const st = config.storage;
    const key = (name: string, purpose: string, description: string) =>
      environmentKey(this, name, config, purpose, description).key;
    this.bedrockCustomModelKey = key('BedrockCustomModelKey', 'bedrock-custom-model', 'Bedrock custom models');
    const outputs = () =>
      addOutputs(this, {
        TrainingDataBucketName: { value: this.buckets.trainingData.bucket.bucketName, description: 'Raw and prepared training data (training-data/raw/<dataset>/)' },
        ModelArtifactsBucketName: { value: this.buckets.modelArtifacts.bucket.bucketName, description: 'Base models (models/base/), checkpoints and fine-tuned models' },
        EvaluationBucketName: { value: this.buckets.evaluation.bucket.bucketName, description: 'Evaluation reports of every run' },
        ...(this.backup
          ? {
              BackupVaultName: { value: backupVaultNames(config).primary, description: 'AWS Backup vault of the data buckets (point-in-time restore): docs/backup.md' },
              BackupRestoreRoleArn: { value: this.backup.restoreRole.role.roleArn, description: 'Role to pass to aws backup start-restore-job (--iam-role-arn)' },
            }
          : {}),
      });
    if (props.adopt) {
      // The replicas, as they are: no replication onward (the lost region is the only other one) and no backups.
      const dr = props.adopt;
      this.dataKey = dr.dataKey;
      this.invocationLogsKey = dr.invocationLogsKey;
      this.accessLogsBucket = dr.accessLogsBucket;
      this.buckets = { trainingData: dr.replicas.trainingData, modelArtifacts: dr.replicas.modelArtifacts, evaluation: dr.replicas.evaluation };
      this.invocationLogsBucket = dr.replicas.invocationLogs;
      this.replicated = [];
      outputs();
      return;
    }
    this.dataKey = key('DataKey', 'data', 'Training data, model artifacts and evaluation results');

    // Account and region make the global S3 name unique without writing an account id anywhere.
    const bucketName = (purpose: string) => platformBucketName(config, purpose, this.account, this.region);
    // Every bucket has a replica in the DR region (DisasterRecoveryStack), found by name: no cross-region reference.
    const replicas = replicaNames(config, this.account);
    const replication = (kind: keyof ReplicaNames['buckets'], key?: keyof ReplicaNames['keyAliases']): ReplicationChoice =>
      config.disasterRecovery.replication
        ? { to: { bucketName: replicas.buckets[kind], region: replicas.region, keyAlias: key && replicas.keyAliases[key] } }
        : { exemption: `disasterRecovery.replication is off for ${config.name}: this environment keeps no copy in ${config.drRegion}` };
    this.accessLogsBucket = new AccessLogBucket(this, 'AccessLogsBucket', {
      bucketName: bucketName(ACCESS_LOGS_PURPOSE),
      expirationDays: st.auditLogExpirationDays,
      retainOnDelete: st.retainOnDelete,
      replication: replication('accessLogs'),
    }).bucket;

    const ml = (name: string, kind: MlBucketKind, extra: Partial<ConstructorParameters<typeof MlBucket>[2]> = {}) =>
      new MlBucket(this, name, {
        bucketName: bucketName(STORAGE_LAYOUT[kind].purpose),
        encryptionKey: this.dataKey,
        accessLogsBucket: this.accessLogsBucket,
        noncurrentVersionExpirationDays: st.noncurrentVersionExpirationDays,
        abortIncompleteUploadDays: st.abortIncompleteUploadDays,
        retainOnDelete: st.retainOnDelete,
        replication: replication(kind, 'data'),
        ...extra,
      });
    const options = dataBucketOptions(config);
    this.buckets = {
      // New data landing here can start a pipeline run through EventBridge.
      trainingData: ml('TrainingDataBucket', 'trainingData', options.trainingData),
      modelArtifacts: ml('ModelArtifactsBucket', 'modelArtifacts', options.modelArtifacts),
      evaluation: ml('EvaluationBucket', 'evaluation', options.evaluation),
    };
    this.invocationLogsKey = key('InvocationLogsKey', 'invocation-logs', 'Bedrock model invocation logs');
    this.invocationLogsBucket = new MlBucket(this, 'InvocationLogsBucket', {
      bucketName: bucketName(INVOCATION_LOGS_PURPOSE),
      encryptionKey: this.invocationLogsKey,
      accessLogsBucket: this.accessLogsBucket,
      noncurrentVersionExpirationDays: st.noncurrentVersionExpirationDays,
      abortIncompleteUploadDays: st.abortIncompleteUploadDays,
      retainOnDelete: st.retainOnDelete,
      replication: replication('invocationLogs', 'invocationLogs'),
    });
    admitBedrockInvocationLogs(this.invocationLogsBucket.bucket, this.invocationLogsKey);
    // What the platform cannot recreate: the data, the models trained on it, their evaluations and every prompt
    // and answer. Not the access logs: audit evidence that is only ever appended to, kept from deletion by its
    // replica (delete markers are not replicated), and SSE-S3 as S3 delivers it.
    const backup = config.disasterRecovery.backup;
    const vaults = backupVaultNames(config);
    this.backup = backup
      ? new BucketBackup(this, 'Backup', {
          vaultName: vaults.primary,
          encryptionKey: key('BackupKey', BACKUP_VAULT_PURPOSES.primary, 'AWS Backup vault of the data buckets'),
          lock: backup.vaultLock,
          retainOnDelete: st.retainOnDelete,
          planName: vaults.primary,
          buckets: { ...this.buckets, invocationLogs: this.invocationLogsBucket },
          continuousRetentionDays: backup.continuousRetentionDays,
          // The DR stack's vault, found by name: no cross-region reference.
          copy: backup.drCopy && {
            vaultName: vaults.dr,
            region: config.drRegion,
            retentionDays: backup.drCopy.retentionDays,
            restoreKeyAliases: Object.values(replicas.keyAliases),
          },
          restoreBucketPrefix: restoredBucketPrefix(config),
        })
      : undefined;
    const sources: Record<keyof ReplicaNames['buckets'], string> = {
      trainingData: bucketName(STORAGE_LAYOUT.trainingData.purpose),
      modelArtifacts: bucketName(STORAGE_LAYOUT.modelArtifacts.purpose),
      evaluation: bucketName(STORAGE_LAYOUT.evaluation.purpose),
      invocationLogs: bucketName(INVOCATION_LOGS_PURPOSE),
      accessLogs: bucketName(ACCESS_LOGS_PURPOSE),
    };
    this.replicated = config.disasterRecovery.replication
      ? (Object.keys(sources) as (keyof typeof sources)[]).map((label) => ({ label, sourceBucket: sources[label], destinationBucket: replicas.buckets[label] }))
      : [];
    outputs();
  }
}
