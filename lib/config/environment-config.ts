import type { HyperparameterTuningOptions } from '../pipeline/fine-tuning-pipeline';

/**
 * The one definition of every per-environment setting. `environments.ts` gives the values for `dev` and
 * `prod`; `validateEnvironmentConfig` checks a config at synth time and reports every problem at once.
 */

/** Interface VPC endpoints the network stack can create; the list in config picks which. */
export const INTERFACE_ENDPOINT_NAMES = [
  'sagemaker-api',
  'sagemaker-runtime',
  'ecr-api',
  'ecr-docker',
  'logs',
  'monitoring',
  'sts',
  'kms',
  'bedrock',
  'bedrock-runtime',
] as const;
export type InterfaceEndpointName = (typeof INTERFACE_ENDPOINT_NAMES)[number];

/**
 * Subnet tiers in the order their address ranges are allocated. Every tier but `public` is isolated:
 * `training` and `processing` hold SageMaker job ENIs, `inference` endpoint ENIs, `privatelink` the
 * interface endpoints, `public` the NAT gateways (only when `natGateways` > 0).
 */
export const SUBNET_TIERS = ['training', 'processing', 'inference', 'privatelink', 'public'] as const;
export type SubnetTier = (typeof SUBNET_TIERS)[number];

/** CloudWatch Logs retention values that the service accepts, in days. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

export interface NetworkConfig {
  /** IPv4 CIDR of the VPC, a private range (RFC 1918), prefix length /16 to /24. */
  readonly vpcCidr: string;
  /** Availability zones to spread subnets over: at least 2, all in the primary region. */
  readonly availabilityZones: string[];
  /**
   * Prefix length of each subnet per tier, one subnet per tier and AZ, laid out in the order of
   * `SUBNET_TIERS`. `public` is used only when `natGateways` > 0.
   */
  readonly subnetPrefixLengths: Record<SubnetTier, number>;
  /** NAT gateways for outbound internet. 0 (the default) keeps every subnet isolated. */
  readonly natGateways: number;
  /** Interface endpoints to create so isolated subnets can reach AWS APIs. */
  readonly interfaceEndpoints: InterfaceEndpointName[];
  /** Days to keep VPC flow logs. */
  readonly flowLogRetentionDays: number;
}

export interface EncryptionConfig {
  /** Days between automatic rotations of every customer managed key (90 to 2560). */
  readonly keyRotationPeriodDays: number;
  /** Waiting period before a deleted key is destroyed (7 to 30 days). */
  readonly keyDeletionWindowDays: number;
}

export interface StorageConfig {
  /**
   * First part of every bucket name; the full name is `<prefix>-<env>-<purpose>-<account>-<region>`, so one
   * account can hold several environments. Lower-case letters, digits and hyphens.
   */
  readonly bucketNamePrefix: string;
  /** Days after which a noncurrent object version is deleted. */
  readonly noncurrentVersionExpirationDays: number;
  /** Days after which training checkpoints under `models/checkpoints/` are deleted. */
  readonly checkpointExpirationDays: number;
  /** Days after which an incomplete multipart upload is aborted. */
  readonly abortIncompleteUploadDays: number;
  /** Days to keep S3 server access logs and CloudTrail files. */
  readonly auditLogExpirationDays: number;
  /** Keep buckets and keys when the stack is deleted (a user must then delete them by hand). */
  readonly retainOnDelete: boolean;
}

export interface TrainingConfig {
  /** Hugging Face model ids the SageMaker path may fine-tune; the first is the default. */
  readonly baseModels: string[];
  /** SageMaker instance type for training jobs. */
  readonly trainingInstanceType: string;
  /** SageMaker instance type for processing (data preparation and evaluation) jobs. */
  readonly processingInstanceType: string;
  /** SageMaker instance type for real-time endpoints. */
  readonly endpointInstanceType: string;
  /** Use managed spot capacity for training; checkpoints make interruptions safe. */
  readonly useSpot: boolean;
  /** Longest a training job may run, in hours (1 to 120); with spot it may wait as long again. */
  readonly maxRuntimeHours: number;
  /** The metric gate between evaluation and registration. */
  readonly qualityGate: QualityGateConfig;
  /**
   * Tune hyperparameters (Bayesian search over these ranges, early stopping) instead of one training job.
   * The objective must be a metric of training/contracts/training-metrics.json. @default one training job
   */
  readonly tuning?: HyperparameterTuningOptions;
  /**
   * Full image URIs of your own job images instead of the one `cdk deploy` builds from training/Dockerfile.
   * They must hold the versions pinned in training/requirements.txt (jobs cannot pip install).
   * @default - the job image: the region's DLC from container-images.json plus the pinned requirements
   */
  readonly images?: { readonly training?: string; readonly processing?: string };
}

/** Evaluation task whose report gates registration. */
export const EVALUATION_TASKS = ['perplexity', 'classification', 'summarization', 'qa'] as const;

/** A model is registered only when its evaluation passes this gate. Exactly one of minimum and maximum. */
export interface QualityGateConfig {
  /** `python -m training.evaluate <task>` on the test split. */
  readonly task: (typeof EVALUATION_TASKS)[number];
  /** Dotted path of the metric in evaluation.json, e.g. `generation_metrics.perplexity.value`. */
  readonly metricPath: string;
  /** Least acceptable value, for metrics where higher is better. */
  readonly minimum?: number;
  /** Greatest acceptable value, for metrics where lower is better (perplexity). */
  readonly maximum?: number;
}

/** Bedrock customization kinds (CreateModelCustomizationJob customizationType). */
export const CUSTOMIZATION_TYPES = ['FINE_TUNING', 'CONTINUED_PRE_TRAINING'] as const;
export type CustomizationType = (typeof CUSTOMIZATION_TYPES)[number];

/** Evaluation of a Bedrock custom model on the test split; `none` skips it. */
export const BEDROCK_EVALUATION_TASKS = ['none', 'summarization', 'qa', 'classification'] as const;

/** A base model not (yet) in training/contracts/bedrock-models.json, in the same shape. */
export interface BedrockModelSpec {
  /** A family of the table (its data format and limits apply). */
  readonly family: string;
  /** A hyperparameter set of the table by name, or the ranges inline. */
  readonly hyperParameters:
    | string
    | Record<string, { readonly type: 'integer' | 'float'; readonly min: number; readonly max: number; readonly default: number }>;
  readonly customizationTypes: CustomizationType[];
}

export interface BedrockConfig {
  /** What a run uses where its input says nothing. Checked against the model table at synth time. */
  readonly defaults: {
    /** A model id of training/contracts/bedrock-models.json or of `extraModels`. */
    readonly baseModelId: string;
    readonly customizationType: CustomizationType;
    /** Hyperparameters of the base model (the table's defaults fill the rest). */
    readonly hyperParameters: Record<string, number>;
    /** Model units of no-commitment provisioned throughput after training; 0 provisions nothing. */
    readonly provisionedModelUnits: number;
    readonly evaluationTask: (typeof BEDROCK_EVALUATION_TASKS)[number];
    /** Test records sent to the custom model for the evaluation (1 to 10000). */
    readonly maxEvaluationRecords: number;
  };
  /** Most model units a run may ask for (provisioned throughput bills per unit and hour). */
  readonly maxProvisionedModelUnits: number;
  /** Minutes to wait for provisioned throughput to be InService before the run fails and deletes it. */
  readonly throughputWaitMinutes: number;
  /** Base models to add to the table. */
  readonly extraModels?: Record<string, BedrockModelSpec>;
  /**
   * A run starts when `<datasetPrefix><name>/train.jsonl` lands in the training-data bucket (with
   * validation.jsonl and test.jsonl beside it, if any). Must lie under the processed-data prefix.
   * Omit to start runs only by hand.
   */
  readonly trigger?: { readonly datasetPrefix: string };
  /** Hourly check for provisioned throughput older than `maxAgeHours`; `deleteStale` deletes the platform's own. */
  readonly throughputGuard: { readonly maxAgeHours: number; readonly deleteStale: boolean };
  /** Days to keep model invocation logs in CloudWatch Logs (they are kept in S3 as well). */
  readonly invocationLogRetentionDays: number;
}

/** Serving containers of the endpoints: AWS's LMI (DJL) or Hugging Face TGI, per region from serving-images.json. */
export const SERVING_CONTAINERS = ['lmi', 'tgi'] as const;
export type ServingContainer = (typeof SERVING_CONTAINERS)[number];

/** One production variant of the endpoint: a registered model version and its capacity. */
export interface ServingVariantConfig {
  /** Variant name, unique in the endpoint: letters, digits and hyphens. */
  readonly name: string;
  /** ARN of an approved model package version of the environment's model package group. */
  readonly modelPackageArn: string;
  /** Relative traffic weight (all weights must sum to more than 0). */
  readonly initialWeight: number;
  readonly instanceType: string;
  /** Bounds of the variant's auto scaling; the variant starts at minInstances. */
  readonly minInstances: number;
  readonly maxInstances: number;
}

/** One model of the shared (multi-model) endpoint: an inference component with its own compute share. */
export interface InferenceComponentConfig {
  /** Component name suffix, also the invoke target: letters, digits and hyphens. */
  readonly name: string;
  readonly modelPackageArn: string;
  /** Copies of the model kept loaded (each needs the resources below). */
  readonly copies: number;
  /** GPUs (accelerator devices) per copy. */
  readonly acceleratorsPerCopy: number;
  /** Host memory per copy, in MiB. */
  readonly memoryMiB: number;
}

export interface ServingConfig {
  readonly container: ServingContainer;
  /** Own serving image instead of the table's. @default - serving-images.json for the region */
  readonly imageUri?: string;
  /**
   * What the endpoint serves. Empty: no endpoint yet (the registry may be empty at the first deploy).
   * `-c serving=<file.json>` replaces it at synth, so a pipeline can deploy approved versions.
   */
  readonly variants: ServingVariantConfig[];
  /**
   * Instance type of the staging endpoint `<prefix>-<env>-llm-staging`, which every version approved in
   * the registry is deployed to by the registry stack (outside CloudFormation: delete it when unused).
   */
  readonly stagingInstanceType: string;
  /** Every variant keeps at least 2 instances (spread over AZs) when true. */
  readonly highAvailability: boolean;
  /** Target of the per-variant target-tracking policy (SageMakerVariantInvocationsPerInstance per minute). */
  readonly targetInvocationsPerInstance: number;
  readonly scaleInCooldownSeconds: number;
  readonly scaleOutCooldownSeconds: number;
  /** Share of requests whose input and output are captured to S3 (0 turns capture off). */
  readonly dataCapturePercent: number;
  /** Blue/green rollout of a new endpoint configuration with automatic rollback. */
  readonly rollout: {
    readonly mode: 'canary' | 'linear';
    /** Canary size, or the size of each linear step, in percent of the new fleet's capacity. */
    readonly stepPercent: number;
    /** Minutes between traffic shifts (the bake time of each step). */
    readonly waitMinutes: number;
    /** Minutes the old fleet is kept after the shift, for an instant rollback. */
    readonly terminationWaitMinutes: number;
    /** Rollback when the 5xx error rate of a variant exceeds this, in percent of invocations. */
    readonly maxErrorRatePercent: number;
    /** Rollback when a variant's p99 model latency exceeds this, in milliseconds. */
    readonly maxP99LatencyMs: number;
  };
  /**
   * Several models on one endpoint (`<prefix>-<env>-llm-shared`) as inference components, each invoked by
   * name; the instances scale with the components' demand. Omit for no shared endpoint.
   */
  readonly sharedEndpoint?: {
    readonly instanceType: string;
    readonly minInstances: number;
    readonly maxInstances: number;
    readonly components: InferenceComponentConfig[];
  };
  /** Continuous batching of the serving container. */
  readonly batching: {
    /** Requests one instance serves at once (LMI: OPTION_MAX_ROLLING_BATCH_SIZE; TGI: MAX_CONCURRENT_REQUESTS). */
    readonly maxConcurrentRequests: number;
    /** Longest input plus output, in tokens (LMI: OPTION_MAX_MODEL_LEN; TGI: MAX_TOTAL_TOKENS). */
    readonly maxTotalTokens: number;
  };
}

export interface AuditConfig {
  /** Days to keep CloudTrail events in CloudWatch Logs. */
  readonly trailLogRetentionDays: number;
}

export interface EnvironmentConfig {
  /** Environment name, also part of every stack and resource name. Lower-case letters and digits. */
  readonly name: string;
  /** Region every stack of the environment is deployed to. */
  readonly primaryRegion: string;
  /** Region that holds replicas and backups; must differ from the primary region. */
  readonly drRegion: string;
  readonly network: NetworkConfig;
  readonly encryption: EncryptionConfig;
  readonly storage: StorageConfig;
  readonly training: TrainingConfig;
  readonly bedrock: BedrockConfig;
  readonly serving: ServingConfig;
  readonly audit: AuditConfig;
  /** Address that receives alarms and budget alerts. */
  readonly alarmEmail: string;
  /** Monthly cost budget in USD; alerts fire at 80 % forecast and 100 % actual. */
  readonly monthlyBudgetUsd: number;
  /** Tags applied to every resource of the environment. */
  readonly tags: Record<string, string>;
}
