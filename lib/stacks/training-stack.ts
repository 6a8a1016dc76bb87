import * as path from 'path';
import { Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import metricsContract from '../../training/contracts/training-metrics.json';
import { huggingFaceTrainingImage } from '../config/container-images';
import { EnvironmentConfig } from '../config/environment-config';
import { dashboardName, resourceName } from '../config/naming';
import { STORAGE_LAYOUT } from '../config/storage-layout';
import { JobImage } from '../constructs/job-image';
import { TrainingCodeAsset } from '../constructs/training-code-asset';
import { TrainingJobWatch } from '../constructs/training/training-job-watch';
import { SecurityStack } from './security-stack';
import { StorageStack } from './storage-stack';

export interface TrainingStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  readonly storage: StorageStack;
  readonly security: SecurityStack;
}

/** What a job of this environment runs on, as the pipelines and monitors start it. */
export interface TrainingJobSettings {
  readonly trainingImageUri: string;
  readonly processingImageUri: string;
  readonly trainingInstanceType: string;
  readonly processingInstanceType: string;
  readonly spot: boolean;
  readonly maxRuntimeSeconds: number;
  readonly tuning: EnvironmentConfig['training']['tuning'];
}

/**
 * What training jobs run, and the watch over them: the job image built from training/Dockerfile (unless the
 * config names both images), the jobs' Python code archive, the job roles' read access to the staged base
 * models, the job settings (instance types, spot, runtime, tuning) that the pipelines stack orchestrates and
 * the monitoring and Bedrock stacks reuse for their processing jobs, alerts for jobs that fail or time out
 * (tuning trials included), and the training dashboard. Kept apart from the orchestration so a new job image
 * or code version is one stack's change.
 */
export class TrainingStack extends Stack {
  /** The job image; undefined when the config names both images. */
  readonly jobImage?: JobImage;
  /** The jobs' Python code archive (and its launcher). */
  readonly code: TrainingCodeAsset;
  readonly jobs: TrainingJobSettings;
  /** Failed and timed-out jobs to the alerts topic; the training dashboard. */
  readonly watch: TrainingJobWatch;

  constructor(scope: Construct, id: string, props: TrainingStackProps) {
    super(scope, id, props);
    const { config, storage, security } = props;
    const { roles } = security;
    const t = config.training;
    const trainingDir = path.join(__dirname, '..', '..', 'training');

    // Base models are staged in S3: network isolation keeps jobs off the Hugging Face hub.
    const base = STORAGE_LAYOUT.modelArtifacts.prefixes.base;
    storage.buckets.modelArtifacts.grantReadObjects(roles.training, base);
    storage.buckets.modelArtifacts.grantReadObjects(roles.processing, base);

    // The job image is built only where the config does not name one for both job kinds.
    if (!(t.images?.training && t.images?.processing)) {
      this.jobImage = new JobImage(this, 'JobImage', { directory: trainingDir, baseImage: huggingFaceTrainingImage(this.region) });
      this.jobImage.grantPull(roles.training, roles.processing);
    }
    const imageUri = (override?: string): string => override ?? this.jobImage!.imageUri;
    this.code = new TrainingCodeAsset(this, 'TrainingCode', { sourceDirectory: trainingDir });
    this.jobs = {
      trainingImageUri: imageUri(t.images?.training),
      processingImageUri: imageUri(t.images?.processing),
      trainingInstanceType: t.trainingInstanceType,
      processingInstanceType: t.processingInstanceType,
      spot: t.useSpot,
      maxRuntimeSeconds: t.maxRuntimeHours * 3600,
      tuning: t.tuning,
    };
    this.watch = new TrainingJobWatch(this, 'JobWatch', {
      trainingRole: roles.training.role,
      processingRole: roles.processing.role,
      topic: security.alerts.topic,
      deadLetterQueue: security.alerts.undeliveredAlerts,
      dashboardName: dashboardName(resourceName(config, 'training'), this.region),
      jobMetricNames: metricsContract.metrics.map((m) => m.name),
    });
  }
}
