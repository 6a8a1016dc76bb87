import * as fs from 'fs';
import { DEFAULT_STAGING_P95_MS, EnvironmentConfig, INTERFACE_ENDPOINT_NAMES } from './environment-config';
import { DEFAULT_MONITOR_THRESHOLDS } from './monitoring-metrics';
import { withServingOverrides } from './serving-overrides';
import { ConfigValidationError, validateEnvironmentConfig } from './validate';

/**
 * Every interface endpoint the network stack knows, but API Gateway's: both environments run jobs, Lambdas and
 * Bedrock calls, and both serve a regional inference API (a private one needs `execute-api`).
 */
const ALL_INTERFACE_ENDPOINTS: EnvironmentConfig['network']['interfaceEndpoints'] = INTERFACE_ENDPOINT_NAMES.filter((e) => e !== 'execute-api');

const dev: EnvironmentConfig = {
  name: 'dev',
  primaryRegion: 'us-east-1',
  drRegion: 'us-west-2',
  network: {
    vpcCidr: '10.40.0.0/16',
    availabilityZones: ['us-east-1a', 'us-east-1b'],
    subnetPrefixLengths: { training: 20, processing: 22, inference: 22, privatelink: 24, public: 26 },
    natGateways: 0,
    interfaceEndpoints: ALL_INTERFACE_ENDPOINTS,
    flowLogRetentionDays: 90,
  },
  encryption: { keyRotationPeriodDays: 365, keyDeletionWindowDays: 7 },
  storage: {
    bucketNamePrefix: 'fmft',
    noncurrentVersionExpirationDays: 30,
    checkpointExpirationDays: 14,
    abortIncompleteUploadDays: 7,
    auditLogExpirationDays: 365,
    retainOnDelete: false,
  },
  // Every bucket has a replica in drRegion, written within 15 minutes (S3 Replication Time Control); the data
  // buckets can be restored to any point of the last week, and a daily copy of each is kept in drRegion for a week.
  disasterRecovery: {
    replication: true,
    backup: { continuousRetentionDays: 7, drCopy: { retentionDays: 7 } },
    // With -c failover=true the same stacks deploy to drRegion, on the replicas (README, "Failing over").
    failover: { availabilityZones: ['us-west-2a', 'us-west-2b'] },
  },
  training: {
    baseModels: ['meta-llama/Llama-3.2-1B-Instruct', 'mistralai/Mistral-7B-Instruct-v0.3'],
    trainingInstanceType: 'ml.g5.2xlarge',
    processingInstanceType: 'ml.m5.xlarge',
    endpointInstanceType: 'ml.g5.xlarge',
    useSpot: true,
    maxRuntimeHours: 24,
    // Below 20, and better than the version in production by more than nothing, with 95% confidence.
    qualityGate: {
      task: 'perplexity',
      metricPath: 'generation_metrics.perplexity.value',
      maximum: 20,
      againstProduction: { margin: 0, confidence: 0.95, guards: { 'fairness_metrics.max_disparity': 0.02 } },
    },
    explain: { samples: 8, method: 'occlusion' },
    // Every Monday 03:00 UTC on all the raw data, and half an hour after uploads to training-data/raw/my-dataset/ stop.
    retraining: { schedule: 'cron(0 3 ? * MON *)', datasets: { 'my-dataset': {} }, onNewData: { quietMinutes: 30 } },
  },
  bedrock: {
    defaults: {
      baseModelId: 'amazon.nova-micro-v1:0:128k',
      customizationType: 'FINE_TUNING',
      hyperParameters: { epochCount: 2 },
      provisionedModelUnits: 0,
      evaluationTask: 'summarization',
      maxEvaluationRecords: 200,
    },
    maxProvisionedModelUnits: 1,
    throughputWaitMinutes: 60,
    trigger: { datasetPrefix: 'training-data/processed/bedrock/' },
    throughputGuard: { maxAgeHours: 12, deleteStale: true },
    invocationLogRetentionDays: 90,
  },
  serving: {
    container: 'lmi',
    variants: [],
    stagingInstanceType: 'ml.g5.xlarge',
    highAvailability: false,
    targetInvocationsPerInstance: 30,
    scaleInCooldownSeconds: 600,
    scaleOutCooldownSeconds: 120,
    dataCapturePercent: 100,
    rollout: { mode: 'canary', stepPercent: 10, waitMinutes: 10, terminationWaitMinutes: 15, maxErrorRatePercent: 2, maxP99LatencyMs: 10000 },
    batching: { maxConcurrentRequests: 32, maxTotalTokens: 8192 },
    // Every registered version: staging, validation, a human approval, then the guarded rollout of `current`.
    promotion: {
      variant: 'current',
      validation: { task: 'summarization', records: 20, maxNewTokens: 100, maxLatencyP95Ms: DEFAULT_STAGING_P95_MS, maxErrorRate: 0 },
      stagingTimeoutMinutes: 60,
      approvalTimeoutHours: 168,
    },
  },
  monitoring: {
    intervalHours: 6,
    instanceType: 'ml.m5.xlarge',
    answersAreJson: false,
    captureRetentionDays: 90,
    logRetentionDays: 90,
    // Measured on unshifted and shifted windows (training/tests/test_monitor.py); see the contract file.
    thresholds: DEFAULT_MONITOR_THRESHOLDS,
    // Scored on the served version's own held-out test split (no goldenSetKey).
    canary: { task: 'summarization', records: 20, maxNewTokens: 256 },
    groundTruth: { task: 'summarization', lookbackHours: 72 },
    modelMonitor: { enabled: false },
  },
  audit: { trailLogRetentionDays: 365 },
  alarmEmail: 'ml-platform-alerts@example.com',
  monthlyBudgetUsd: 2000,
  cost: {
    budgetAlerts: { forecastPercents: [80, 100], actualPercents: [50, 100] },
    // Staging endpoints nobody calls for a day are deleted; the rest are reported.
    idleEndpoints: { idleHours: 24, action: 'delete' },
  },
  // One API over whatever is served: each consumer has its own key, rate and daily quota.
  api: {
    endpointType: 'regional',
    authentication: 'api-key',
    throttle: { rateLimit: 50, burstLimit: 100 },
    consumers: [
      { name: 'playground', rateLimit: 5, burstLimit: 10, quota: { limit: 5000, period: 'DAY' } },
      { name: 'integration-tests', rateLimit: 20, burstLimit: 40, quota: { limit: 20000, period: 'DAY' } },
    ],
    modelTimeoutSeconds: 25,
    streamTimeoutSeconds: 300,
    reservedConcurrency: 20,
    wafRateLimitPer5Minutes: 2000,
    accessLogRetentionDays: 90,
    // The same greedy request to the same model versions is answered from the cache for an hour.
    cache: { ttlSeconds: 3600 },
    alarms: { maxServerErrorPercent: 5, maxLatencyP99Ms: 20000 },
  },
  tags: { project: 'fm-finetuning', environment: 'dev', 'cost-center': 'ml-platform' },
};

const prod: EnvironmentConfig = {
  ...dev,
  name: 'prod',
  network: {
    ...dev.network,
    vpcCidr: '10.41.0.0/16',
    availabilityZones: ['us-east-1a', 'us-east-1b', 'us-east-1c'],
  },
  encryption: { keyRotationPeriodDays: 365, keyDeletionWindowDays: 30 },
  storage: {
    ...dev.storage,
    noncurrentVersionExpirationDays: 90,
    checkpointExpirationDays: 30,
    auditLogExpirationDays: 2557,
    retainOnDelete: true,
  },
  // As dev, with the longest point-in-time window AWS Backup allows, DR copies kept for a quarter, and both
  // vaults locked in compliance mode: a week after the first deploy nobody (root included) can delete a
  // recovery point before it expires.
  disasterRecovery: {
    ...dev.disasterRecovery,
    backup: {
      continuousRetentionDays: 35,
      drCopy: { retentionDays: 90 },
      vaultLock: { minRetentionDays: 7, maxRetentionDays: 365, changeableForDays: 7 },
    },
  },
  training: {
    ...dev.training,
    tuning: {
      objectiveMetricName: 'eval_loss',
      objectiveType: 'Minimize',
      maxJobs: 12,
      maxParallelJobs: 3,
      learningRate: { min: 1e-5, max: 5e-4 },
      epochs: { min: 1, max: 3 },
      loraR: { values: [8, 16, 32] },
      loraAlpha: { values: [16, 32, 64] },
      perDeviceTrainBatchSize: { values: [1, 2, 4] },
    },
    trainingInstanceType: 'ml.g5.12xlarge',
    processingInstanceType: 'ml.m5.2xlarge',
    endpointInstanceType: 'ml.g5.2xlarge',
    // As dev, and prompts drifting away from the training data (length, vocabulary) retrain on my-dataset too.
    retraining: { ...dev.training.retraining!, onDrift: { dataset: 'my-dataset', metrics: ['PromptTokensPsi', 'OutOfVocabularyRate'] } },
  },
  bedrock: {
    ...dev.bedrock,
    defaults: { ...dev.bedrock.defaults, provisionedModelUnits: 1 },
    maxProvisionedModelUnits: 4,
    // Production throughput may serve traffic for days: report it, never delete it automatically.
    throughputGuard: { maxAgeHours: 72, deleteStale: false },
    invocationLogRetentionDays: 731,
  },
  serving: {
    ...dev.serving,
    highAvailability: true,
    // Every prediction is auditable in production (Athena over the capture).
    dataCapturePercent: 100,
    rollout: { ...dev.serving.rollout, mode: 'linear', stepPercent: 20, waitMinutes: 15, terminationWaitMinutes: 60 },
  },
  monitoring: {
    ...dev.monitoring,
    intervalHours: 1,
    captureRetentionDays: 400,
    logRetentionDays: 731,
    canary: { task: 'summarization', records: 50, maxNewTokens: 256 },
  },
  audit: { trailLogRetentionDays: 2557 },
  monthlyBudgetUsd: 15000,
  cost: {
    budgetAlerts: { forecastPercents: [80, 100], actualPercents: [80, 100] },
    // Production endpoints are only reported: deleting one is a decision for people.
    idleEndpoints: { idleHours: 72, action: 'report' },
  },
  // Callers sign with IAM and present their consumer's key: the key meters, the signature authenticates.
  api: {
    ...dev.api!,
    authentication: 'iam-and-api-key',
    throttle: { rateLimit: 500, burstLimit: 1000 },
    consumers: [
      { name: 'support-app', rateLimit: 200, burstLimit: 400 },
      { name: 'claims-batch', rateLimit: 50, burstLimit: 100, quota: { limit: 1_000_000, period: 'MONTH' } },
    ],
    reservedConcurrency: 200,
    wafRateLimitPer5Minutes: 20000,
    accessLogRetentionDays: 731,
    cache: { ttlSeconds: 86400 },
    alarms: { maxServerErrorPercent: 1, maxLatencyP99Ms: 15000 },
  },
  tags: { ...dev.tags, environment: 'prod' },
};

/** Every environment the app can build; add one here to get a new stage (see README). */
export const ENVIRONMENTS: Readonly<Record<string, EnvironmentConfig>> = { dev, prod };

/**
 * The validated config of `name`, or a `ConfigValidationError` naming the known environments. `servingFile`
 * (from `-c serving=<file>`) replaces `serving.variants`/`serving.sharedEndpoint` before validation.
 */
export function loadEnvironmentConfig(name: string, servingFile?: string): EnvironmentConfig {
  if (!Object.prototype.hasOwnProperty.call(ENVIRONMENTS, name)) {
    throw new ConfigValidationError(String(name), [`env: got ${JSON.stringify(name)}; allowed: ${Object.keys(ENVIRONMENTS).join(', ')} (pass -c env=<name>)`]);
  }
  const config = ENVIRONMENTS[name];
  return servingFile ? validateEnvironmentConfig(withServingOverrides(config, servingFile), `serving from ${servingFile}`) : validateEnvironmentConfig(config);
}

/** Where `loadEnvironmentConfigOrExit` reports and how it stops; tests replace them. */
export interface ExitIo {
  readonly writeError: (text: string) => void;
  readonly exit: (code: number) => never;
}

const PROCESS_IO: ExitIo = {
  // Synchronous, so the whole message is out before the process exits.
  writeError: (text) => fs.writeSync(2, text),
  exit: (code) => process.exit(code),
};

/**
 * `loadEnvironmentConfig` for bin/app.ts: an invalid config prints its problems once to stderr, without a
 * stack trace, and exits with status 1 (so `cdk synth` fails with 1). A thrown error would be printed by
 * Node with its stack, and the CDK CLI relays the app's stderr as it is. Other errors are bugs and still throw.
 */
export function loadEnvironmentConfigOrExit(name: string, servingFile?: string, io: ExitIo = PROCESS_IO): EnvironmentConfig {
  return exitOnConfigError(() => loadEnvironmentConfig(name, servingFile), io);
}

/** `check()`, or, when it throws a ConfigValidationError, its message once on stderr and exit status 1. */
export function exitOnConfigError<T>(check: () => T, io: ExitIo = PROCESS_IO): T {
  try {
    return check();
  } catch (e) {
    if (!(e instanceof ConfigValidationError)) throw e;
    io.writeError(`${e.message}\n`);
    return io.exit(1);
  }
}
