import { Stack, StackProps } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { EnvironmentConfig } from '../config/environment-config';
import * as logs from 'aws-cdk-lib/aws-logs';
import { resourceName } from '../config/naming';
import { BACKUP_VAULT_PURPOSES, backupVaultNames, DR_KEY_PURPOSES, REPLICA_KEY_PURPOSES, replicaNames, replicaOf } from '../config/replicas';
import { BedrockModelCopy } from '../constructs/bedrock-model-copy';
import { costTags } from '../config/cost-tags';
import { PlatformAlerts } from '../constructs/platform-alerts';
import { DeadLetterQueue } from '../constructs/dead-letter-queue';
import { acknowledgeNag } from '../constructs/compliance';
import { MlBucketKind } from '../config/storage-layout';
import { AccessLogBucket } from '../constructs/access-log-bucket';
import { PlatformBackupVault } from '../constructs/bucket-backup';
import { admitBedrockInvocationLogs } from '../constructs/bedrock-invocation-logging';
import { MlBucket } from '../constructs/ml-bucket';
import { dataBucketOptions } from './storage-stack';
import { environmentKey } from './environment-key';
import { addOutputs } from './outputs';

export interface DisasterRecoveryStackProps extends StackProps {
  readonly config: EnvironmentConfig;
}

/**
 * The environment's copies in `drRegion`: one replica bucket per primary bucket, with its own customer managed
 * keys (data, and invocation logs apart as in the primary region), versioning, TLS only, the same lifecycle,
 * and server access logs. The primary buckets replicate into them (StorageStack, with S3 Replication Time
 * Control), so this stack is deployed first.
 */
export class DisasterRecoveryStack extends Stack {
  readonly dataKey: kms.Key;
  readonly invocationLogsKey: kms.Key;
  readonly replicas: Readonly<Record<MlBucketKind | 'invocationLogs', MlBucket>>;
  readonly accessLogsBucket: s3.Bucket;
  /** Receives the storage stack's daily backup copies, when `disasterRecovery.backup.drCopy` is set. */
  readonly backupVault?: PlatformBackupVault;
  /** Copies the primary region's Bedrock custom models here, with their own key. */
  readonly bedrockModelCopy: BedrockModelCopy;
  /** The DR region's alert channel (the copies' failures; the failover's stacks have their own). */
  readonly alerts: PlatformAlerts;

  constructor(scope: Construct, id: string, props: DisasterRecoveryStackProps) {
    super(scope, id, props);
    const { config } = props;
    if (this.region !== config.drRegion) {
      throw new Error(`Invalid DisasterRecoveryStack props:\n- env.region: got "${this.region}"; the stack must be deployed to drRegion ${config.drRegion}`);
    }
    const st = config.storage;
    const names = replicaNames(config, this.account);
    this.dataKey = environmentKey(this, 'ReplicaDataKey', config, REPLICA_KEY_PURPOSES.data, 'Replicas of training data, model artifacts and evaluation results').key;
    this.invocationLogsKey = environmentKey(this, 'ReplicaInvocationLogsKey', config, REPLICA_KEY_PURPOSES.invocationLogs, 'Replica of Bedrock model invocation logs').key;

    const isReplica = (of: string) => ({
      exemption: `This is the replica of ${of} in the DR region ${config.drRegion}; replicating it onward would need a third region`,
    });
    // Holds the primary access logs' replica (their keys start with the primary bucket names) and the server
    // access logs of the replicas below (under their own names).
    this.accessLogsBucket = new AccessLogBucket(this, 'AccessLogsReplica', {
      bucketName: names.buckets.accessLogs,
      expirationDays: st.auditLogExpirationDays,
      retainOnDelete: st.retainOnDelete,
      replication: isReplica('the access logs'),
    }).bucket;
    // The replicas are what a failover runs on (-c failover=true): the same lifecycle and notifications as
    // their sources, and Bedrock in this region may write invocation logs into the logs' replica.
    const options: Partial<Record<MlBucketKind | 'invocationLogs', Partial<ConstructorParameters<typeof MlBucket>[2]>>> = dataBucketOptions(config);
    const replica = (id: string, kind: MlBucketKind | 'invocationLogs', key: kms.IKey) =>
      new MlBucket(this, id, {
        ...options[kind],
        bucketName: names.buckets[kind],
        encryptionKey: key,
        accessLogsBucket: this.accessLogsBucket,
        noncurrentVersionExpirationDays: st.noncurrentVersionExpirationDays,
        abortIncompleteUploadDays: st.abortIncompleteUploadDays,
        retainOnDelete: st.retainOnDelete,
        replication: isReplica(`the ${kind} bucket`),
      });
    this.replicas = {
      trainingData: replica('TrainingDataReplica', 'trainingData', this.dataKey),
      modelArtifacts: replica('ModelArtifactsReplica', 'modelArtifacts', this.dataKey),
      evaluation: replica('EvaluationReplica', 'evaluation', this.dataKey),
      invocationLogs: replica('InvocationLogsReplica', 'invocationLogs', this.invocationLogsKey),
    };
    admitBedrockInvocationLogs(this.replicas.invocationLogs.bucket, this.invocationLogsKey);
    // The storage stack's backup plan copies into this vault by its name; its own key, and the same lock as the primary vault.
    const backup = config.disasterRecovery.backup;
    this.backupVault = backup?.drCopy
      ? new PlatformBackupVault(this, 'BackupVault', {
          vaultName: backupVaultNames(config).dr,
          encryptionKey: environmentKey(this, 'BackupVaultKey', config, BACKUP_VAULT_PURPOSES.dr, `AWS Backup copies in ${config.drRegion}`).key,
          lock: backup.vaultLock,
          retainOnDelete: st.retainOnDelete,
        })
      : undefined;
    // Bedrock custom models: each one the primary region completes is copied here (Bedrock's model copy runs in
    // the region it copies into), so a failover can serve it again without training it again.
    const operationsKey = environmentKey(this, 'OperationsKey', config, DR_KEY_PURPOSES.operations, `Logs and alerts of the DR workflows in ${config.drRegion}`, {
      allowCloudWatchLogs: true,
    }).key;
    this.alerts = new PlatformAlerts(this, 'Alerts', {
      key: operationsKey,
      email: config.alarmEmail,
      monthlyBudgetUsd: config.monthlyBudgetUsd,
      budgetAlerts: config.cost.budgetAlerts,
    });
    const deadLetters = new DeadLetterQueue(this, 'DeadLetters', { key: operationsKey, topic: this.alerts.topic, sources: 'the Bedrock model copy rule' }).queue;
    acknowledgeNag(deadLetters, {
      id: 'AwsSolutions::AwsSolutions-SQS3',
      reason: 'This queue is the dead-letter queue of the Bedrock model copy rule’s target (an EventBridge DeadLetterConfig, which the rule does not see); it needs none of its own',
    });
    this.bedrockModelCopy = new BedrockModelCopy(this, 'BedrockModelCopy', {
      stateMachineName: resourceName(config, 'bedrock-model-copy'),
      sourceRegion: config.primaryRegion,
      modelKey: environmentKey(this, 'BedrockCustomModelKey', config, DR_KEY_PURPOSES.bedrockCustomModel, `Copies of Bedrock custom models in ${config.drRegion}`).key,
      logKey: operationsKey,
      logRetention: config.monitoring.logRetentionDays as logs.RetentionDays,
      topic: this.alerts.topic,
      tags: costTags(config),
      deadLetterQueue: deadLetters,
    });
    addOutputs(this, {
      BedrockModelCopyStateMachineArn: { value: this.bedrockModelCopy.workflow.stateMachine.stateMachineArn, description: `Copies each Bedrock custom model completed in ${config.primaryRegion} into ${config.drRegion}` },
      TrainingDataReplicaName: { value: this.replicas.trainingData.bucket.bucketName, description: `Replica of the training data in ${config.drRegion}` },
      ModelArtifactsReplicaName: { value: this.replicas.modelArtifacts.bucket.bucketName, description: `Replica of the model artifacts (models, data capture, serving manifests) in ${config.drRegion}` },
      EvaluationReplicaName: { value: this.replicas.evaluation.bucket.bucketName, description: `Replica of the evaluation results in ${config.drRegion}` },
      ...(this.backupVault ? { BackupVaultName: { value: this.backupVault.vault.backupVaultName, description: `AWS Backup vault of the daily copies in ${config.drRegion}: docs/backup.md` } } : {}),
      ReplicaBuckets: {
        value: this.toJsonString(replicaOf(config, this.account)),
        description: 'JSON {primary bucket: its replica here}: python -m training.dr restore maps the registry exports with it',
      },
    });
  }
}
