import { Stack, StackProps } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { EnvironmentConfig } from '../config/environment-config';
import { resourceName } from '../config/naming';
import { MlBucketKind, STORAGE_LAYOUT } from '../config/storage-layout';
import { AccessLogBucket } from '../constructs/access-log-bucket';
import { admitBedrockInvocationLogs } from '../constructs/bedrock-invocation-logging';
import { MlBucket } from '../constructs/ml-bucket';
import { environmentKey } from './environment-key';
import { addOutputs } from './outputs';

/** Purpose part of the invocation-log bucket's name. */
export const INVOCATION_LOGS_PURPOSE = 'invocation-logs';

export interface StorageStackProps extends StackProps {
  readonly config: EnvironmentConfig;
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

  constructor(scope: Construct, id: string, props: StorageStackProps) {
    super(scope, id, props);
    const { config } = props;
    const st = config.storage;
    const key = (name: string, purpose: string, description: string) =>
      environmentKey(this, name, config, purpose, description).key;
    this.dataKey = key('DataKey', 'data', 'Training data, model artifacts and evaluation results');
    this.bedrockCustomModelKey = key('BedrockCustomModelKey', 'bedrock-custom-model', 'Bedrock custom models');

    // Account and region make the global S3 name unique without writing an account id anywhere.
    const bucketName = (purpose: string) => `${resourceName(config, purpose)}-${this.account}-${this.region}`;
    this.accessLogsBucket = new AccessLogBucket(this, 'AccessLogsBucket', {
      bucketName: bucketName('access-logs'),
      expirationDays: st.auditLogExpirationDays,
      retainOnDelete: st.retainOnDelete,
    }).bucket;

    const ml = (name: string, kind: MlBucketKind, extra: Partial<ConstructorParameters<typeof MlBucket>[2]> = {}) =>
      new MlBucket(this, name, {
        bucketName: bucketName(STORAGE_LAYOUT[kind].purpose),
        encryptionKey: this.dataKey,
        accessLogsBucket: this.accessLogsBucket,
        noncurrentVersionExpirationDays: st.noncurrentVersionExpirationDays,
        abortIncompleteUploadDays: st.abortIncompleteUploadDays,
        retainOnDelete: st.retainOnDelete,
        ...extra,
      });
    this.buckets = {
      // New data landing here can start a pipeline run through EventBridge.
      trainingData: ml('TrainingDataBucket', 'trainingData', { eventBridgeEnabled: true }),
      modelArtifacts: ml('ModelArtifactsBucket', 'modelArtifacts', {
        expirations: [
          { prefix: STORAGE_LAYOUT.modelArtifacts.prefixes.checkpoints, days: st.checkpointExpirationDays },
          { prefix: STORAGE_LAYOUT.modelArtifacts.prefixes.dataCapture, days: config.monitoring.captureRetentionDays },
        ],
      }),
      evaluation: ml('EvaluationBucket', 'evaluation'),
    };
    this.invocationLogsKey = key('InvocationLogsKey', 'invocation-logs', 'Bedrock model invocation logs');
    this.invocationLogsBucket = new MlBucket(this, 'InvocationLogsBucket', {
      bucketName: bucketName(INVOCATION_LOGS_PURPOSE),
      encryptionKey: this.invocationLogsKey,
      accessLogsBucket: this.accessLogsBucket,
      noncurrentVersionExpirationDays: st.noncurrentVersionExpirationDays,
      abortIncompleteUploadDays: st.abortIncompleteUploadDays,
      retainOnDelete: st.retainOnDelete,
    });
    admitBedrockInvocationLogs(this.invocationLogsBucket.bucket, this.invocationLogsKey);
    addOutputs(this, {
      TrainingDataBucketName: { value: this.buckets.trainingData.bucket.bucketName, description: 'Raw and prepared training data (training-data/raw/<dataset>/)' },
      ModelArtifactsBucketName: { value: this.buckets.modelArtifacts.bucket.bucketName, description: 'Base models (models/base/), checkpoints and fine-tuned models' },
      EvaluationBucketName: { value: this.buckets.evaluation.bucket.bucketName, description: 'Evaluation reports of every run' },
    });
  }
}
