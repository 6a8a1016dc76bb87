import { z } from 'zod';
import metricsContract from '../../training/contracts/training-metrics.json';
import { findBedrockProblems } from './bedrock-models';
import { contains, formatAddress, isPrivateRange, packSubnets, parseCidr } from './cidr';
import { apiInstanceTypeProblem, cudaImageProblem, describeAccelerators, instanceAccelerators, InstanceUse } from './instance-types';
import { isKnownRegion, KNOWN_REGIONS, partitionOf } from './regions';
import {
  matching,
  numberIn,
  numberWhere,
  oneOf,
  Report,
  reporter,
  strictObject,
  stringWhere,
  wholeNumber,
  yesNo,
} from './schema-kit';
import { MODEL_MONITOR_REGIONS } from './model-monitor-images';
import { MonitoringMetric, THRESHOLD_METRICS } from './monitoring-metrics';
import { scheduleExpressionProblem } from './schedules';
import { datasetFolderProblem, STORAGE_LAYOUT } from './storage-layout';

/**
 * The one definition of every per-environment setting: the zod schema below gives both the TypeScript types
 * (`EnvironmentConfig` and its parts are inferred from it) and every check, cross-field rules included.
 * `environments.ts` gives the values for `dev` and `prod`; `validateEnvironmentConfig` (validate.ts) checks a
 * config at synth time and reports every problem at once, each with its key path, its value and what is
 * allowed. The schema has no defaults and no transforms: a valid config is used exactly as written. The
 * `.describe()` texts are the config reference in the README (test/config/reference.cases.ts keeps them equal).
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
  'sns',
  'sqs',
  'states',
  'cloudformation',
  // API Gateway's, for a private inference API (api.endpointType 'private'); the API's callers reach it.
  'execute-api',
] as const;
export type InterfaceEndpointName = (typeof INTERFACE_ENDPOINT_NAMES)[number];
/** Interface endpoints the staged promotion's functions need in isolated subnets. */
const PROMOTION_ENDPOINTS: readonly InterfaceEndpointName[] = ['sagemaker-runtime', 'cloudformation', 'states'];

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

/** Evaluation task whose report gates registration. */
export const EVALUATION_TASKS = ['perplexity', 'classification', 'summarization', 'qa'] as const;

/** Bedrock customization kinds (CreateModelCustomizationJob customizationType). */
export const CUSTOMIZATION_TYPES = ['FINE_TUNING', 'CONTINUED_PRE_TRAINING'] as const;
export type CustomizationType = (typeof CUSTOMIZATION_TYPES)[number];

/** Evaluation of a Bedrock custom model on the test split; `none` skips it. */
export const BEDROCK_EVALUATION_TASKS = ['none', 'summarization', 'qa', 'classification'] as const;

/** Serving containers of the endpoints: AWS's LMI (DJL) or Hugging Face TGI, per region from serving-images.json. */
export const SERVING_CONTAINERS = ['lmi', 'tgi'] as const;
export type ServingContainer = (typeof SERVING_CONTAINERS)[number];

/** Metrics the training script logs (the names SageMaker can tune on). */
const TRAINING_METRIC_NAMES = metricsContract.metrics.map((m) => m.name);
const ECR_IMAGE = /^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?\/[a-z0-9._/-]+(:[\w.-]+|@sha256:[0-9a-f]{64})$/;
const ECR_IMAGE_ALLOWED = 'an ECR image URI <account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>';
const VARIANT_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
const COMPONENT_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,39}$/;
/** What follows `arn:<partition>:` in a versioned model package ARN (the endpoints stack's parameters use it too). */
export const MODEL_PACKAGE_ARN_AFTER_PARTITION = 'sagemaker:[a-z0-9-]+:\\d{12}:model-package/[a-zA-Z0-9-]{1,63}/\\d+$';
const MODEL_PACKAGE_ARN = new RegExp(`^arn:aws[a-z-]*:${MODEL_PACKAGE_ARN_AFTER_PARTITION}`);
const MODEL_PACKAGE_ARN_ALLOWED = 'a versioned model package ARN arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>';
// Longest purpose suffix, 12-digit account and longest commercial region name, as used by StorageStack.
/** Replica buckets in the DR region are named `<prefix>-<env>-dr-<purpose>-<account>-<region>`. */
export const REPLICA_PURPOSE_PREFIX = 'dr-';
const LONGEST_BUCKET_PURPOSE = `${REPLICA_PURPOSE_PREFIX}evaluation-results`;
const LONGEST_REGION = 'ap-southeast-5';
// Without NAT these are the only way SageMaker jobs reach the APIs they cannot run without.
const REQUIRED_WITHOUT_NAT: readonly InterfaceEndpointName[] = ['sagemaker-api', 'ecr-api', 'ecr-docker', 'logs', 'sts'];
// SageMaker's CategoricalParameterRange takes at most 30 values.
const MAX_CATEGORICAL_VALUES = 30;

const region = () =>
  stringWhere((r) => (isKnownRegion(r) ? undefined : `allowed: a region of aws-cdk-lib's region-info: ${KNOWN_REGIONS.join(', ')}`), 'an AWS region name such as us-east-1');

/** An instance type the SageMaker API accepts for `use` (its own enumeration in the pinned SDK). */
const instanceType = (use: InstanceUse) => stringWhere((t) => apiInstanceTypeProblem(use, t), 'a SageMaker instance type such as ml.g5.2xlarge');

const logRetentionDays = () => numberIn(LOG_RETENTION_DAYS);
/** A count whose bounds depend on other fields (checked in the refinement that knows them). */
const count = () => wholeNumber(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 'a whole number');
const days = () => wholeNumber(1, 36500, 'a whole number of days >= 1');

// ---------------------------------------------------------------------------------------------- network

const networkSchema = strictObject({
  vpcCidr: stringWhere((text) => {
    const vpc = parseCidr(text);
    if (typeof vpc === 'string') return vpc;
    if (vpc.prefixLength < 16 || vpc.prefixLength > 24) return 'allowed: a prefix length from /16 to /24 (the VPC limits)';
    if (!isPrivateRange(vpc)) return 'allowed: a private range inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16';
    return undefined;
  }, 'an IPv4 CIDR a.b.c.d/n').describe('IPv4 range of the VPC: a private (RFC 1918) range, /16 to /24'),
  availabilityZones: z
    .array(z.string({ error: 'allowed: a zone name such as us-east-1a' }), { error: 'allowed: a list of zone names' })
    .describe('zones to spread the subnets over: at least 2, all in `primaryRegion`'),
  subnetPrefixLengths: strictObject(
    Object.fromEntries(SUBNET_TIERS.map((tier) => [tier, wholeNumber(16, 28, 'a whole number from 16 to 28 (the subnet limits)')])) as Record<
      SubnetTier,
      ReturnType<typeof wholeNumber>
    >,
  ).describe('prefix length of each tier\'s subnets, one subnet per tier and zone, laid out in this order (`public` only with NAT gateways)'),
  natGateways: count().describe('NAT gateways, at most one per zone; 0 keeps every subnet without a route to the internet'),
  interfaceEndpoints: z
    .array(oneOf(INTERFACE_ENDPOINT_NAMES), { error: `allowed: a list of ${INTERFACE_ENDPOINT_NAMES.join(', ')}` })
    .describe('AWS APIs that get an interface endpoint; isolated subnets need at least sagemaker-api, ecr-api, ecr-docker, logs, sts'),
  flowLogRetentionDays: logRetentionDays().describe('days to keep VPC flow logs (a CloudWatch Logs retention value)'),
}).superRefine((n, ctx) => checkNetwork(n, reporter(ctx)));

function checkNetwork(n: z.infer<typeof networkSchema>, report: Report): void {
  const azs = n.availabilityZones;
  if (azs.length < 2) report(['availabilityZones'], azs, 'list at least 2 zones so training and endpoints survive a zone outage');
  if (new Set(azs).size !== azs.length) report(['availabilityZones'], azs, 'zones must be unique');
  if (n.natGateways < 0 || n.natGateways > azs.length) {
    report(['natGateways'], n.natGateways, `allowed: a whole number from 0 (isolated, the default) to ${azs.length} (one per zone)`);
  }
  const vpc = parseCidr(n.vpcCidr);
  const tiers = SUBNET_TIERS.filter((tier) => tier !== 'public' || n.natGateways > 0);
  if (typeof vpc !== 'string') {
    const lengths = tiers.flatMap((tier) => azs.map(() => n.subnetPrefixLengths[tier]));
    if (lengths.every((l) => l >= vpc.prefixLength)) {
      const { end, subnets } = packSubnets(vpc, lengths);
      const last = subnets[subnets.length - 1];
      if (last && !contains(vpc, last)) {
        report(
          ['subnetPrefixLengths'],
          n.subnetPrefixLengths,
          `${subnets.length} subnets (${tiers.join(', ')} x ${azs.length} zones) need addresses up to ${formatAddress(end - 1)}, ` +
            `outside ${n.vpcCidr}: they would overlap or spill out; use longer prefixes or a larger VPC`,
        );
      }
    } else {
      report(['subnetPrefixLengths'], n.subnetPrefixLengths, `every subnet must be smaller than the VPC ${n.vpcCidr}`);
    }
  }
  if (new Set(n.interfaceEndpoints).size !== n.interfaceEndpoints.length) {
    report(['interfaceEndpoints'], n.interfaceEndpoints, 'each endpoint may be listed once');
  }
  const missing = REQUIRED_WITHOUT_NAT.filter((e) => !n.interfaceEndpoints.includes(e));
  if (n.natGateways === 0 && missing.length) {
    report(['interfaceEndpoints'], n.interfaceEndpoints, `isolated subnets (natGateways 0) need ${missing.join(', ')}`);
  }
}

// ------------------------------------------------------------------------------- encryption and storage

const encryptionSchema = strictObject({
  keyRotationPeriodDays: wholeNumber(90, 2560).describe('days between automatic rotations of every customer managed key (90 to 2560)'),
  keyDeletionWindowDays: wholeNumber(7, 30).describe('waiting period before a deleted key is destroyed (7 to 30 days)'),
});

const storageSchema = strictObject({
  bucketNamePrefix: matching(/^[a-z0-9](-?[a-z0-9])*$/, 'lower-case letters, digits and single hyphens').describe(
    'first part of every bucket name `<prefix>-<env>-<purpose>-<account>-<region>` and of every name that must be unique in the account',
  ),
  noncurrentVersionExpirationDays: days().describe('days after which a noncurrent object version is deleted'),
  checkpointExpirationDays: days().describe('days after which training checkpoints under `models/checkpoints/` are deleted'),
  abortIncompleteUploadDays: days().describe('days after which an incomplete multipart upload is aborted'),
  auditLogExpirationDays: days()
    .refine((d) => d >= 365, { error: 'audit logs must be kept at least 365 days' })
    .describe('days to keep S3 server access logs and CloudTrail files (at least 365)'),
  retainOnDelete: yesNo().describe('keep buckets and keys when the stack is deleted (then delete them by hand)'),
});

// -------------------------------------------------------------------------------------------- backup

/**
 * AWS Backup keeps continuous backups (point-in-time restore) from 1 to 35 days (AWS Backup developer guide,
 * "Changing your retention period": "The minimum retention period is 1 day. The maximum retention period is
 * 35 days." https://docs.aws.amazon.com/aws-backup/latest/devguide/point-in-time-recovery-retention-period.html).
 */
export const MAX_CONTINUOUS_BACKUP_DAYS = 35;
/** The longest retention a vault lock (and a recovery point's lifecycle) can name: 36500 days (PutBackupVaultLockConfiguration, MaxRetentionDays). */
export const MAX_BACKUP_RETENTION_DAYS = 36500;
/** AWS Backup's 72-hour cooling-off period: ChangeableForDays must be 3 or more (PutBackupVaultLockConfiguration, ChangeableForDays). */
export const MIN_VAULT_LOCK_CHANGEABLE_DAYS = 3;

const retentionDays = (allowed: string) => wholeNumber(1, MAX_BACKUP_RETENTION_DAYS, allowed);

const backupSchema = strictObject({
  continuousRetentionDays: wholeNumber(1, MAX_CONTINUOUS_BACKUP_DAYS, `a whole number of days from 1 to ${MAX_CONTINUOUS_BACKUP_DAYS} (AWS Backup's limit for continuous backups)`).describe(
    `days of point-in-time restore of every data bucket (continuous backups, 1 to ${MAX_CONTINUOUS_BACKUP_DAYS})`,
  ),
  drCopy: strictObject({
    retentionDays: retentionDays(`a whole number of days from 1 to ${MAX_BACKUP_RETENTION_DAYS}`).describe('days each copy is kept in the DR vault'),
  })
    .optional()
    .describe('a daily copy of each bucket\'s backup to a vault in `drRegion` (a snapshot: copies of continuous backups have no point-in-time restore); needs `disasterRecovery.replication`; omit for none'),
  vaultLock: strictObject({
    minRetentionDays: retentionDays(`a whole number of days from 1 to ${MAX_BACKUP_RETENTION_DAYS}`).describe('the vault refuses a backup or copy kept for fewer days'),
    maxRetentionDays: retentionDays(`a whole number of days from 1 to ${MAX_BACKUP_RETENTION_DAYS}`).describe('the vault refuses a backup or copy kept for more days'),
    changeableForDays: wholeNumber(MIN_VAULT_LOCK_CHANGEABLE_DAYS, MAX_BACKUP_RETENTION_DAYS, `a whole number of days from ${MIN_VAULT_LOCK_CHANGEABLE_DAYS} (AWS Backup's 72-hour cooling-off period) to ${MAX_BACKUP_RETENTION_DAYS}`)
      .optional()
      .describe('compliance mode: after these days nobody, root and AWS included, can remove the lock or delete a recovery point before it expires; omit for governance mode (removable with IAM permission)'),
  })
    .optional()
    .describe('AWS Backup Vault Lock on both vaults: no recovery point can be deleted or shortened; omit for none'),
});

/** Cross-field rules of `disasterRecovery`: the DR copy needs the DR stack, and a locked vault accepts only retentions within its range. */
function checkBackup(dr: { replication: boolean; backup?: z.infer<typeof backupSchema>; failover?: { availabilityZones: string[] } }, report: Report): void {
  if (dr.failover && !dr.replication) {
    report(['failover'], dr.failover, 'needs disasterRecovery.replication true: a failover runs on the replicas of the DR stack; allowed: omit failover or turn replication on');
  }
  const azs = dr.failover?.availabilityZones ?? [];
  if (dr.failover && azs.length < 2) report(['failover', 'availabilityZones'], azs, 'list at least 2 zones so training and endpoints survive a zone outage');
  if (new Set(azs).size !== azs.length) report(['failover', 'availabilityZones'], azs, 'zones must be unique');
  const b = dr.backup;
  if (!b) return;
  if (b.drCopy && !dr.replication) {
    report(['backup', 'drCopy'], b.drCopy, 'needs disasterRecovery.replication true: the DR vault is in the DR stack, which exists only with replication; allowed: omit drCopy or turn replication on');
  }
  const lock = b.vaultLock;
  if (!lock) return;
  if (lock.minRetentionDays > lock.maxRetentionDays) {
    report(['backup', 'vaultLock'], lock, `allowed: minRetentionDays (${lock.minRetentionDays}) at most maxRetentionDays (${lock.maxRetentionDays})`);
    return;
  }
  // A locked vault fails every backup or copy job whose retention is outside the lock's range (PutBackupVaultLockConfiguration).
  const range = `from vaultLock.minRetentionDays (${lock.minRetentionDays}) to vaultLock.maxRetentionDays (${lock.maxRetentionDays}): the locked vault fails jobs kept for less or longer`;
  if (b.continuousRetentionDays < lock.minRetentionDays || b.continuousRetentionDays > lock.maxRetentionDays) {
    report(['backup', 'continuousRetentionDays'], b.continuousRetentionDays, `allowed: ${range}`);
  }
  if (b.drCopy && (b.drCopy.retentionDays < lock.minRetentionDays || b.drCopy.retentionDays > lock.maxRetentionDays)) {
    report(['backup', 'drCopy', 'retentionDays'], b.drCopy.retentionDays, `allowed: ${range}`);
  }
}

// ------------------------------------------------------------------------------------------- training

const qualityGateSchema = strictObject({
  task: oneOf(EVALUATION_TASKS),
  metricPath: matching(/^[a-z_]+\.[A-Za-z0-9_]+\.value$/, '<section>.<metric>.value as in evaluation.json, e.g. generation_metrics.perplexity.value'),
  minimum: z.number({ error: 'allowed: a finite number' }).optional(),
  maximum: z.number({ error: 'allowed: a finite number' }).optional(),
  protectedAttributes: z
    .array(matching(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'a record field name: letters, digits and _'), { error: 'allowed: a list of record field names' })
    .optional()
    .describe('record fields kept through preparation to the test split (under metadata); evaluation reports fairness per attribute; every record must have them'),
  maxDisparity: numberWhere((n) => n > 0 && n <= 1, 'a number > 0 and <= 1 (the largest demographic parity or equal opportunity difference, or per-group metric gap)')
    .optional()
    .describe('register only when fairness_metrics.max_disparity.value is at most this (needs protectedAttributes)'),
  againstProduction: strictObject({
    margin: numberWhere((n) => n >= 0, 'a number >= 0, in the units of metricPath').describe(
      'how much the gate metric must improve on the production version at the confidence interval\'s worse end (0: significantly better)',
    ),
    confidence: numberWhere((n) => n >= 0.5 && n < 1, 'a number from 0.5 up to (not including) 1').describe('two-sided confidence of the paired bootstrap interval, e.g. 0.95'),
    guards: z
      .record(z.string(), numberWhere((n) => n >= 0, 'a tolerance >= 0'), { error: 'allowed: an object of <section>.<metric> names and tolerances' })
      .optional()
      .describe('metrics that may get worse than production by at most the tolerance, e.g. {"fairness_metrics.max_disparity": 0.02}'),
  })
    .optional()
    .describe(
      'register only a candidate that beats the production version (served in this environment, else the latest approved) on the same test split; omit for the absolute gate alone',
    ),
}).superRefine((g, ctx) => {
  for (const key of Object.keys(g.againstProduction?.guards ?? {})) {
    if (!/^[a-z_]+\.[A-Za-z0-9_]+$/.test(key)) {
      ctx.addIssue({ code: 'custom', path: ['againstProduction', 'guards', key], input: key, message: 'allowed: <section>.<metric> as in evaluation.json, e.g. fairness_metrics.max_disparity' });
    }
  }
  if ((g.minimum === undefined) === (g.maximum === undefined)) {
    ctx.addIssue({ code: 'custom', input: { minimum: g.minimum, maximum: g.maximum }, message: 'set exactly one of minimum and maximum, a finite number' });
  }
  const attributes = g.protectedAttributes ?? [];
  if (new Set(attributes).size !== attributes.length) {
    ctx.addIssue({ code: 'custom', path: ['protectedAttributes'], input: attributes, message: 'each attribute may be listed once' });
  }
  if (g.maxDisparity !== undefined && attributes.length === 0) {
    ctx.addIssue({ code: 'custom', path: ['maxDisparity'], input: g.maxDisparity, message: 'needs protectedAttributes: without them the disparity is 0 and the gate always passes' });
  }
});

const integerRangeSchema = strictObject({ min: z.number({ error: 'allowed: a whole number' }), max: z.number({ error: 'allowed: a whole number' }) });
const categoricalSchema = strictObject({ values: z.array(z.number({ error: 'allowed: a whole number' }), { error: 'allowed: a list of whole numbers' }) });
const RANGE_OR_VALUES = 'allowed: {"min": <whole number>, "max": <whole number>} or {"values": [<whole number>, ...]}';

const tuningSchema = strictObject({
  objectiveMetricName: z.string({ error: 'allowed: a metric name' }),
  objectiveType: oneOf(['Minimize', 'Maximize']),
  maxJobs: wholeNumber(1, 10000, 'a whole number >= 1'),
  maxParallelJobs: wholeNumber(1, 10000, 'a whole number >= 1'),
  strategy: oneOf(['Bayesian', 'Random']).optional(),
  earlyStopping: oneOf(['Auto', 'Off']).optional(),
  learningRate: strictObject({ min: z.number({ error: 'allowed: a number > 0' }), max: z.number({ error: 'allowed: a number > 0' }) }),
  epochs: integerRangeSchema,
  loraR: z.union([integerRangeSchema, categoricalSchema], { error: RANGE_OR_VALUES }),
  loraAlpha: z.union([integerRangeSchema, categoricalSchema], { error: RANGE_OR_VALUES }),
  perDeviceTrainBatchSize: categoricalSchema,
}).superRefine((t, ctx) => checkTuning(t, reporter(ctx)));

type IntegerRangeOrValues = { readonly min: number; readonly max: number } | { readonly values: number[] };

/** The tuning job's ranges, checked here with their key paths (the pipeline builder checks them again). */
function checkTuning(t: z.infer<typeof tuningSchema>, report: Report): void {
  if (!TRAINING_METRIC_NAMES.includes(t.objectiveMetricName)) {
    report(['objectiveMetricName'], t.objectiveMetricName, `allowed: a logged metric, one of ${TRAINING_METRIC_NAMES.join(', ')}`);
  }
  if (t.maxParallelJobs > t.maxJobs) report(['maxParallelJobs'], t.maxParallelJobs, `allowed: at most training.tuning.maxJobs (${t.maxJobs})`);
  const lr = t.learningRate;
  if (!(lr.min > 0 && lr.min < lr.max)) report(['learningRate'], lr, 'allowed: 0 < min < max (searched on a log scale)');
  const checkRange = (name: string, r: IntegerRangeOrValues) => {
    if ('values' in r) {
      const ok = r.values.length >= 1 && r.values.length <= MAX_CATEGORICAL_VALUES && new Set(r.values).size === r.values.length;
      if (!ok || r.values.some((v) => !(Number.isInteger(v) && v >= 1))) {
        report([name, 'values'], r.values, `allowed: 1 to ${MAX_CATEGORICAL_VALUES} distinct whole numbers >= 1`);
      }
    } else if (!(Number.isInteger(r.min) && Number.isInteger(r.max) && r.min >= 1 && r.min <= r.max)) {
      report([name], r, 'allowed: whole numbers 1 <= min <= max');
    }
  };
  checkRange('epochs', t.epochs);
  checkRange('loraR', t.loraR);
  checkRange('loraAlpha', t.loraAlpha);
  checkRange('perDeviceTrainBatchSize', t.perDeviceTrainBatchSize);
}

const pipelineParameters = z.record(z.string(), z.string({ error: 'allowed: a string value' }), {
  error: 'allowed: an object of pipeline parameter names and values',
});

interface RetrainingInput {
  schedule?: string;
  parameters?: Record<string, string>;
  datasets?: Record<string, unknown>;
  onNewData?: unknown;
  onDrift?: { dataset: string };
}

/** Cross-field rules of `training.retraining`: a trigger at least, and names that exist. */
function checkRetraining(r: RetrainingInput, report: Report): void {
  if (r.schedule === undefined && r.onNewData === undefined && r.onDrift === undefined) {
    report([], r, 'set at least one of schedule, onNewData, onDrift (or omit retraining)');
  }
  if (r.parameters !== undefined && r.schedule === undefined) report(['parameters'], r.parameters, 'applies to scheduled runs only; set schedule too');
  const datasets = Object.keys(r.datasets ?? {});
  for (const name of datasets) {
    const problem = datasetFolderProblem(name);
    if (problem) report(['datasets', name], name, `not a dataset folder name; ${problem}`);
  }
  if ((r.onNewData !== undefined || r.onDrift !== undefined) && datasets.length === 0) {
    report(['datasets'], r.datasets, 'onNewData and onDrift need at least one dataset');
  }
  if (r.onDrift && datasets.length > 0 && !datasets.includes(r.onDrift.dataset)) {
    report(['onDrift', 'dataset'], r.onDrift.dataset, `not in retraining.datasets; allowed: ${datasets.join(', ')}`);
  }
}

const trainingSchema = strictObject({
  baseModels: z
    .array(matching(/^[A-Za-z0-9][\w.-]*\/[\w.-]+$/, 'a Hugging Face id such as org/model'), { error: 'allowed: a list of Hugging Face model ids' })
    .min(1, { error: 'list at least one Hugging Face model id' })
    .describe('Hugging Face model ids the SageMaker pipeline may fine-tune; the first is the default'),
  trainingInstanceType: instanceType('training').describe(
    'instance type of training (and tuning) jobs: one the SageMaker API accepts for training, with NVIDIA GPUs the CUDA training image supports (no CPU-only, Trainium or Inferentia types)',
  ),
  processingInstanceType: instanceType('processing').describe('instance type of the data preparation and evaluation jobs: any the SageMaker API accepts for processing'),
  endpointInstanceType: instanceType('endpoint').describe(
    'instance type recorded in each registered model package for real-time inference: NVIDIA GPUs the serving image supports, unless `serving.imageUri` is set',
  ),
  useSpot: yesNo().describe('managed spot capacity for training; checkpoints make interruptions safe'),
  maxRuntimeHours: wholeNumber(1, 120, 'a whole number of hours from 1 to 120').describe('longest a training job may run, in hours (1 to 120); with spot it may wait as long again'),
  qualityGate: qualityGateSchema.describe('the metric gate between evaluation and registration: an evaluation task, a metric path and exactly one of minimum and maximum'),
  retraining: strictObject({
    schedule: stringWhere(scheduleExpressionProblem, 'an EventBridge Scheduler expression')
      .optional()
      .describe(
        'when to start the pipeline on all the data under training-data/raw/ (EventBridge Scheduler, UTC): cron(<6 fields>) or rate(<n> minutes|hours|days); omit for no schedule',
      ),
    parameters: pipelineParameters
      .optional()
      .describe('pipeline parameter values of every scheduled execution (names checked against the pipeline at synth); omit for the defaults'),
    datasets: z
      .record(z.string(), strictObject({ parameters: pipelineParameters.optional().describe('pipeline parameter values of this dataset\'s runs') }), {
        error: 'allowed: an object of dataset names and their settings',
      })
      .optional()
      .describe(
        'datasets that new data and drift retrain: each is the folder training-data/raw/<name>/ (lowercase letters, digits, single hyphens; at most 40 characters) and its runs get InputDataUri set to it',
      ),
    onNewData: strictObject({
      quietMinutes: wholeNumber(1, 1440, 'a whole number of minutes from 1 to 1440').describe(
        'minutes without a new object under a dataset\'s folder before its run starts, so a burst of uploads gives one run',
      ),
    })
      .optional()
      .describe('start a run of a dataset when objects land under training-data/raw/<dataset>/ (never two at once per dataset); omit for none'),
    onDrift: strictObject({
      dataset: z.string({ error: 'allowed: a dataset name' }).describe('the dataset (of retraining.datasets) a drift alarm retrains'),
      metrics: z
        .array(oneOf([...THRESHOLD_METRICS.values()].map((m) => m.name) as [string, ...string[]]), { error: 'allowed: a list of monitoring metric names' })
        .min(1, { error: 'list at least one metric' })
        .describe('capture-monitor metrics whose alarms (any served variant) start a run when they enter ALARM'),
    })
      .optional()
      .describe('opt-in: the capture monitor\'s alarms start a run of one dataset; omit for none'),
    maxWaitHours: wholeNumber(1, 672, 'a whole number of hours from 1 to 672')
      .optional()
      .describe('how long new data waits for a running execution of its dataset before the trigger gives up (dead-letter queue and alarm); default 48'),
  })
    .superRefine((r, ctx) => checkRetraining(r, reporter(ctx)))
    .optional()
    .describe('retrain without anyone at a console: on a schedule, on new data, on drift; omit for none'),
  explain: strictObject({
    samples: wholeNumber(1, 64).describe('test prompts explained per pipeline execution'),
    method: oneOf(['occlusion', 'integrated-gradients'] as const).describe('occlusion (exact; cost grows with prompt length) or integrated-gradients'),
  })
    .optional()
    .describe('token attributions of a sample of test prompts after evaluation (python -m training.explain), attached to each version as its explainability report; omit for none'),
  tuning: tuningSchema
    .optional()
    .describe('tune hyperparameters (Bayesian search, early stopping) instead of one training job: objective metric, job counts and ranges; omit for one job'),
  images: strictObject({ training: matching(ECR_IMAGE, ECR_IMAGE_ALLOWED).optional(), processing: matching(ECR_IMAGE, ECR_IMAGE_ALLOWED).optional() })
    .optional()
    .describe('your own job images instead of the one built from training/Dockerfile; they must hold the pins of training/requirements.txt'),
}).superRefine((t, ctx) => {
  // Own training images must hold the same pins (CUDA builds of torch), so the GPU rule holds for them too.
  if (!apiInstanceTypeProblem('training', t.trainingInstanceType)) {
    const problem = cudaImageProblem('training', t.trainingInstanceType);
    if (problem) ctx.addIssue({ code: 'custom', path: ['trainingInstanceType'], input: t.trainingInstanceType, message: problem });
  }
});

// -------------------------------------------------------------------------------------------- bedrock

const hyperParameterRangeSchema = strictObject({
  type: oneOf(['integer', 'float']),
  min: z.number({ error: 'allowed: a number' }),
  max: z.number({ error: 'allowed: a number' }),
  default: z.number({ error: 'allowed: a number' }),
});

const bedrockModelSpecSchema = strictObject({
  family: z.string({ error: 'allowed: a family of training/contracts/bedrock-models.json' }),
  hyperParameters: z.union([z.string(), z.record(z.string(), hyperParameterRangeSchema)], {
    error: 'allowed: the name of a hyperparameter set of training/contracts/bedrock-models.json, or the ranges inline',
  }),
  customizationTypes: z
    .array(oneOf(CUSTOMIZATION_TYPES), { error: `allowed: a non-empty list of ${CUSTOMIZATION_TYPES.join(', ')}` })
    .min(1, { error: `allowed: a non-empty list of ${CUSTOMIZATION_TYPES.join(', ')}` }),
});

const bedrockSchema = strictObject({
  defaults: strictObject({
    baseModelId: z.string({ error: 'allowed: a model id of training/contracts/bedrock-models.json or bedrock.extraModels' }),
    customizationType: oneOf(CUSTOMIZATION_TYPES),
    hyperParameters: z.record(z.string(), z.number({ error: 'allowed: a number' }), { error: 'allowed: an object of hyperparameter names and numbers' }),
    provisionedModelUnits: wholeNumber(0, 100, 'a whole number from 0 to bedrock.maxProvisionedModelUnits'),
    evaluationTask: oneOf(BEDROCK_EVALUATION_TASKS),
    maxEvaluationRecords: wholeNumber(1, 10000),
  }).describe(
    'what a run uses where its input says nothing: base model, customization type, hyperparameters, provisioned model units, evaluation task and records; checked against the model table',
  ),
  maxProvisionedModelUnits: wholeNumber(0, 100).describe('most model units a run may ask for (provisioned throughput bills per unit and hour)'),
  throughputWaitMinutes: wholeNumber(5, 720, 'a whole number of minutes from 5 to 720').describe(
    'minutes to wait for provisioned throughput to be InService before the run fails and deletes it',
  ),
  extraModels: z
    .record(z.string(), bedrockModelSpecSchema, { error: 'allowed: an object of model ids and model specs' })
    .optional()
    .describe('base models to add to training/contracts/bedrock-models.json, in its shape (family, hyperparameters, customization types)'),
  trigger: strictObject({
    datasetPrefix: z.string({ error: 'allowed: an S3 prefix' }),
    quietMinutes: wholeNumber(1, 1440, 'a whole number of minutes from 1 to 1440').optional(),
  })
    .optional()
    .describe(
      'start a run when a folder `<datasetPrefix><name>/` (under the processed-data prefix) holds train.jsonl and no object has landed in it for `quietMinutes` (default 10); one run per data, one at a time per folder; omit to start runs by hand',
    ),
  throughputGuard: strictObject({
    maxAgeHours: numberWhere((h) => h >= 1 && h <= 24 * 90, '1 to 2160 hours'),
    deleteStale: yesNo(),
  }).describe('hourly check for provisioned throughput older than `maxAgeHours`; `deleteStale` deletes the platform\'s own'),
  invocationLogRetentionDays: logRetentionDays().describe('days to keep model invocation logs in CloudWatch Logs (they are kept in S3 as well)'),
}).superRefine((b, ctx) => {
  const report = reporter(ctx);
  findBedrockProblems(b, report);
  const processed = STORAGE_LAYOUT.trainingData.prefixes.processed;
  const trigger = b.trigger?.datasetPrefix;
  if (trigger !== undefined && (!trigger.startsWith(processed) || !trigger.endsWith('/') || trigger.length <= processed.length)) {
    report(['trigger', 'datasetPrefix'], trigger, `allowed: a folder under ${processed} ending in '/', e.g. ${processed}bedrock/`);
  }
});

// -------------------------------------------------------------------------------------------- serving

/** Tasks the quality canary scores with training.evaluate (a perplexity needs the model's weights, not its answers). */
export const CANARY_TASKS = ['classification', 'summarization', 'qa'] as const;

/** A golden set: a JSON Lines key of the training data bucket. */
function goldenSetKey() {
  const { processed, raw } = STORAGE_LAYOUT.trainingData.prefixes;
  return stringWhere(
    (k) => ((k.startsWith(processed) || k.startsWith(raw)) && k.endsWith('.jsonl') && !k.includes('..') ? undefined : `allowed: a .jsonl key under ${processed} or ${raw} of the training data bucket`),
    'a key of the training data bucket',
  );
}

/** The staging validation's latency bound when the config names none: p95 of a standard request (at most 100 output tokens). */
export const DEFAULT_STAGING_P95_MS = 2000;
/** Output tokens of the standard staging request, at most. */
export const MAX_STAGING_NEW_TOKENS = 100;

const promotionSchema = strictObject({
  variant: matching(VARIANT_NAME, '1-63 letters, digits and hyphens').describe('the production variant whose version an approved candidate replaces'),
  validation: strictObject({
    task: oneOf(CANARY_TASKS).describe('task whose metric scores the staging answers (training.evaluate): classification, summarization or qa'),
    records: wholeNumber(1, 500).describe('golden records sent to the staging endpoint (1 to 500)'),
    maxNewTokens: wholeNumber(1, MAX_STAGING_NEW_TOKENS, `a whole number from 1 to ${MAX_STAGING_NEW_TOKENS}: the standard request`).describe(
      `max_new_tokens of each staging request (at most ${MAX_STAGING_NEW_TOKENS})`,
    ),
    maxLatencyP95Ms: wholeNumber(1, 600000, 'a whole number of milliseconds from 1 to 600000')
      .optional()
      .describe(`highest p95 latency of the staging requests, client side (default ${DEFAULT_STAGING_P95_MS})`),
    maxErrorRate: numberWhere((r) => r >= 0 && r <= 1, 'a fraction from 0 to 1').describe('highest share of staging requests that may fail'),
    minimumScore: numberWhere((r) => r >= 0 && r <= 1, 'a fraction from 0 to 1')
      .optional()
      .describe('lowest primary metric of the task on the staging answers (accuracy, ROUGE-L F1, token F1); omit to record the score without a bound'),
    goldenSetKey: goldenSetKey().optional().describe('golden set in the training data bucket; omit to use the candidate\'s own held-out test split'),
  }).describe('what staging must show before anyone is asked to approve'),
  stagingTimeoutMinutes: wholeNumber(10, 240, 'a whole number of minutes from 10 to 240').describe('longest wait for the staging endpoint to be InService'),
  approvalTimeoutHours: wholeNumber(1, 8760, 'a whole number of hours from 1 to 8760').describe('how long an approval request waits before the promotion ends without one'),
});

const servingVariantSchema = strictObject({
  name: matching(VARIANT_NAME, '1-63 letters, digits and hyphens'),
  modelPackageArn: matching(MODEL_PACKAGE_ARN, MODEL_PACKAGE_ARN_ALLOWED),
  initialWeight: numberWhere((w) => w >= 0, 'a number >= 0'),
  instanceType: instanceType('endpoint'),
  minInstances: count(),
  maxInstances: count(),
});

const inferenceComponentSchema = strictObject({
  name: matching(COMPONENT_NAME, '1-40 letters, digits and hyphens'),
  modelPackageArn: matching(MODEL_PACKAGE_ARN, MODEL_PACKAGE_ARN_ALLOWED),
  copies: wholeNumber(1, 1000, 'a whole number >= 1'),
  acceleratorsPerCopy: wholeNumber(1, 64, 'a whole number >= 1'),
  memoryMiB: wholeNumber(1024, 4 * 1024 * 1024, 'a whole number of MiB >= 1024'),
});

/**
 * What Converse takes as the modelId of a fine-tuned Bedrock model: its provisioned throughput or its on-demand
 * deployment, each with a 12-character id (the modelId pattern of Converse in botocore's bedrock-runtime model).
 */
const BEDROCK_SERVED_ARN = /^arn:aws[a-z-]*:bedrock:([a-z0-9-]+):\d{12}:(provisioned-model|custom-model-deployment)\/[a-z0-9]{12}$/;

const bedrockServedModelSchema = strictObject({
  name: matching(COMPONENT_NAME, '1-40 letters, digits and hyphens (the model id of the inference API)'),
  modelArn: matching(BEDROCK_SERVED_ARN, 'a Bedrock ARN arn:aws:bedrock:<region>:<account>:provisioned-model/<id> or .../custom-model-deployment/<id>, the id 12 lowercase letters and digits'),
});

const servingSchema = strictObject({
  container: oneOf(SERVING_CONTAINERS).describe('serving container of every endpoint: AWS LMI (`lmi`) or Hugging Face TGI (`tgi`), per region from serving-images.json'),
  imageUri: matching(ECR_IMAGE, ECR_IMAGE_ALLOWED)
    .optional()
    .describe('your own serving image instead of the table\'s; then any instance type the API accepts may serve (the GPU rule is yours)'),
  variants: z
    .array(servingVariantSchema, { error: 'allowed: a list of variants' })
    .describe('production variants: name, model package version, initial weight, instance type (NVIDIA GPUs the serving image supports, unless `imageUri` is set), min/max instances; empty: no endpoint yet; `-c serving=<file>` replaces it'),
  stagingInstanceType: instanceType('endpoint').describe('instance type of the staging endpoint that every registered version is validated on (same rule as the variants)'),
  highAvailability: yesNo().describe('every variant (and the shared endpoint) keeps at least 2 instances'),
  targetInvocationsPerInstance: wholeNumber(1, 100000).describe('target of the per-variant target-tracking scaling policy (invocations per instance and minute)'),
  scaleInCooldownSeconds: wholeNumber(1, 86400).describe('seconds between scale-in steps'),
  scaleOutCooldownSeconds: wholeNumber(1, 86400).describe('seconds between scale-out steps'),
  dataCapturePercent: wholeNumber(0, 100).describe('share of requests whose input and output are captured to S3 (0 turns capture off)'),
  rollout: strictObject({
    mode: oneOf(['canary', 'linear']),
    stepPercent: wholeNumber(1, 50),
    waitMinutes: wholeNumber(1, 60),
    terminationWaitMinutes: wholeNumber(0, 60),
    maxErrorRatePercent: numberWhere((p) => p > 0 && p <= 100, 'a number above 0 and at most 100'),
    maxP99LatencyMs: wholeNumber(1, 600000),
  }).describe('blue/green rollout of a new endpoint configuration: canary or linear steps, bake and old-fleet wait, rollback thresholds for 5xx rate and p99 latency'),
  sharedEndpoint: strictObject({
    instanceType: instanceType('endpoint'),
    minInstances: count(),
    maxInstances: count(),
    components: z.array(inferenceComponentSchema, { error: 'allowed: a list of inference components' }),
  })
    .optional()
    .describe('several models on one endpoint as inference components (copies, GPUs and memory per copy); each copy\'s GPUs must fit one instance and all copies `maxInstances` instances (lib/config/instance-accelerators.json); omit for none; `-c serving=<file>` replaces it'),
  bedrockModels: z
    .array(bedrockServedModelSchema, { error: 'allowed: a list of Bedrock models' })
    .optional()
    .describe(
      'Bedrock custom models the inference API serves, by name: a provisioned throughput or custom model deployment ARN in `primaryRegion` (the Bedrock workflow\'s run output); omit for none; `-c serving=<file>` replaces it',
    ),
  batching: strictObject({
    maxConcurrentRequests: wholeNumber(1, 1024),
    maxTotalTokens: wholeNumber(1, 1048576),
  }).describe('continuous batching of the serving container: concurrent requests per instance, longest input plus output in tokens'),
  promotion: promotionSchema
    .optional()
    .describe(
      'staged promotion of every registered version: staging deployment, validation (format, score, p95 latency, error rate) recorded on the version, a human approval in the registry, then a guarded production rollout of `variant`; omit for none',
    ),
}).superRefine((s, ctx) => checkServing(s, reporter(ctx)));

function checkServing(s: z.infer<typeof servingSchema>, report: Report): void {
  const least = s.highAvailability ? 2 : 1;
  const whyLeast = s.highAvailability ? ' (serving.highAvailability keeps 2 instances per variant)' : '';
  // Our LMI and TGI images are CUDA builds; an own image (serving.imageUri) may run on anything the API accepts.
  const cuda = (path: PropertyKey[], type: string) => {
    if (s.imageUri === undefined && !apiInstanceTypeProblem('endpoint', type)) {
      const problem = cudaImageProblem(s.container, type);
      if (problem) report(path, type, problem);
    }
  };
  cuda(['stagingInstanceType'], s.stagingInstanceType);

  const names = new Set<string>();
  s.variants.forEach((v, i) => {
    if (names.has(v.name)) report(['variants', i, 'name'], v.name, 'variant names must be unique');
    names.add(v.name);
    cuda(['variants', i, 'instanceType'], v.instanceType);
    if (v.minInstances < least) report(['variants', i, 'minInstances'], v.minInstances, `allowed: a whole number >= ${least}${whyLeast}`);
    if (v.maxInstances < v.minInstances) report(['variants', i, 'maxInstances'], v.maxInstances, `allowed: a whole number >= minInstances (${v.minInstances})`);
  });
  if (s.variants.length > 0 && !(s.variants.reduce((sum, v) => sum + v.initialWeight, 0) > 0)) {
    report(['variants'], s.variants.map((v) => `${v.name}=${v.initialWeight}`), 'the initial weights must sum to more than 0');
  }
  if (s.variants.length > 10) report(['variants'], s.variants.length, 'allowed: at most 10 production variants');

  if (s.promotion && s.variants.length > 0 && !names.has(s.promotion.variant)) {
    report(['promotion', 'variant'], s.promotion.variant, `allowed: a variant of serving.variants (${[...names].join(', ')})`);
  }

  const shared = s.sharedEndpoint;
  if (!shared) return;
  cuda(['sharedEndpoint', 'instanceType'], shared.instanceType);
  if (shared.minInstances < least) report(['sharedEndpoint', 'minInstances'], shared.minInstances, `allowed: a whole number >= ${least}${whyLeast}`);
  if (shared.maxInstances < shared.minInstances) {
    report(['sharedEndpoint', 'maxInstances'], shared.maxInstances, `allowed: a whole number >= minInstances (${shared.minInstances})`);
  }
  if (shared.components.length === 0) report(['sharedEndpoint', 'components'], [], 'list at least one model');
  const seen = new Set<string>();
  shared.components.forEach((m, i) => {
    if (seen.has(m.name)) report(['sharedEndpoint', 'components', i, 'name'], m.name, 'component names must be unique');
    seen.add(m.name);
  });
  checkAcceleratorFit(shared, s.imageUri === undefined, report);
}

/**
 * Inference component copies must fit the instance: each copy's accelerators on one instance, and all copies
 * on `maxInstances` instances (SageMaker cannot place more). The counts come from instance-accelerators.json.
 */
function checkAcceleratorFit(shared: NonNullable<z.infer<typeof servingSchema>['sharedEndpoint']>, cudaRuleApplied: boolean, report: Report): void {
  if (apiInstanceTypeProblem('endpoint', shared.instanceType)) return;
  const acc = instanceAccelerators(shared.instanceType);
  if (acc === 'unknown') {
    // With our images the GPU rule has named the missing facts already.
    if (!cudaRuleApplied) {
      report(['sharedEndpoint', 'instanceType'], shared.instanceType, 'allowed: an instance type of lib/config/instance-accelerators.json (its accelerator count is needed to place the copies); add it there with its source');
    }
    return;
  }
  const perInstance = acc?.count ?? 0;
  const what = acc ? `${shared.instanceType} has ${describeAccelerators(acc)}` : `${shared.instanceType} has no accelerators`;
  shared.components.forEach((m, i) => {
    if (m.acceleratorsPerCopy > perInstance) {
      report(['sharedEndpoint', 'components', i, 'acceleratorsPerCopy'], m.acceleratorsPerCopy, `allowed: at most ${perInstance}: ${what} (lib/config/instance-accelerators.json)`);
    }
  });
  const needed = shared.components.reduce((sum, m) => sum + m.copies * m.acceleratorsPerCopy, 0);
  const available = shared.maxInstances * perInstance;
  if (perInstance > 0 && needed > available && shared.components.every((m) => m.acceleratorsPerCopy <= perInstance)) {
    report(
      ['sharedEndpoint', 'components'],
      Object.fromEntries(shared.components.map((m) => [m.name, `${m.copies} copies x ${m.acceleratorsPerCopy}`])),
      `the copies need ${needed} accelerators, but maxInstances (${shared.maxInstances}) x ${perInstance} of ${shared.instanceType} give ${available}; ` +
        'allowed: fewer copies or accelerators per copy, a higher maxInstances or a larger instance type',
    );
  }
}

// ------------------------------------------------------------------------------------------ monitoring

/** An alarm threshold of one monitor metric: milliseconds, a PSI (unbounded above), or a share or distance in 0..1. */
function monitorThreshold(metric: MonitoringMetric) {
  if (metric.unit === 'Milliseconds') return wholeNumber(1, 600000, 'a whole number of milliseconds from 1 to 600000');
  return metric.name.endsWith('Psi')
    ? numberWhere((n) => n > 0 && n <= 10, 'a population stability index > 0 and <= 10 (0.1: small shift, 0.25: large)')
    : numberWhere((n) => n > 0 && n <= 1, 'a fraction > 0 and <= 1');
}

const monitoringSchema = strictObject({
  intervalHours: wholeNumber(1, 6).describe(
    'hours between capture monitor runs (1 to 6); each run reads the data capture of the whole clock hours since the previous one',
  ),
  instanceType: instanceType('processing').describe('instance type of the monitor\'s processing job: any the SageMaker API accepts for processing'),
  answersAreJson: yesNo().describe('the served task answers in JSON: the monitor reports the share of answers that are not valid JSON'),
  logRetentionDays: logRetentionDays().describe('days to keep the logs of the monitor\'s state machine and functions, and of the retraining trigger'),
  captureRetentionDays: wholeNumber(1, 3650).describe('days captured requests and responses are kept in S3 (and queryable in Athena) before they expire'),
  thresholds: strictObject(
    Object.fromEntries([...THRESHOLD_METRICS].map(([key, metric]) => [key, monitorThreshold(metric).describe(`alarm ${metric.alarmBelow ? 'below' : 'above'} this: ${metric.description} (${metric.name})`)])),
  ).describe('alarm thresholds of the capture monitor, one per metric of training/contracts/monitoring-metrics.json that names a config key'),
  canary: strictObject({
    task: oneOf(CANARY_TASKS).describe('task whose metrics score the answers (training.evaluate): classification, summarization or qa'),
    records: wholeNumber(1, 500).describe('golden records sent to each served variant per monitor run (1 to 500)'),
    maxNewTokens: wholeNumber(1, 4096).describe('max_new_tokens of each canary request'),
    goldenSetKey: goldenSetKey()
      .optional()
      .describe('golden set in the training data bucket; omit to use the served version\'s own held-out test split'),
  })
    .optional()
    .describe('quality canary: each monitor run sends golden prompts to every served A/B variant and scores the answers; omit for none'),
  groundTruth: strictObject({
    task: oneOf(CANARY_TASKS).describe('task whose metrics score captured answers against the uploaded references'),
    lookbackHours: wholeNumber(1, 168).describe('oldest request hour (before each run) whose newly uploaded ground truth is still joined, 1 to 168'),
  })
    .optional()
    .describe('score captured requests against ground truth uploaded later to evaluation/ground-truth/<endpoint>/<variant>/<request hour>/ by inference id; omit for none'),
  modelMonitor: strictObject({
    enabled: yesNo().describe('add an hourly Model Monitor data quality schedule per A/B variant (only for accounts that still have Model Monitor; see the README)'),
  }).describe('SageMaker Model Monitor, off by default: it no longer takes new customers and its analyzer profiles tabular data'),
});

// ------------------------------------------------------------------------------------------------ cost

/** AWS Budgets allows this many notifications per budget ("A budget can have up to ten notifications": the Notification type of the Budgets API). */
export const MAX_BUDGET_NOTIFICATIONS = 10;

/** Percentages of a budget, strictly increasing. */
function budgetPercents() {
  return z
    .array(numberWhere((p) => p > 0 && p <= 1000, 'a percentage above 0 and at most 1000'), { error: 'allowed: a list of percentages' })
    .superRefine((list, ctx) => {
      list.forEach((p, i) => {
        if (i > 0 && !(p > list[i - 1])) ctx.addIssue({ code: 'custom', path: [i], input: p, message: `allowed: a percentage above the one before (${list[i - 1]}): the list increases` });
      });
    });
}

// ------------------------------------------------------------------------------------------- delivery

/**
 * GitHub's rule for account (user and organization) names, as its sign-up and new-organization forms state it:
 * "Username may only contain alphanumeric characters or single hyphens, and cannot begin or end with a hyphen",
 * at most 39 characters (https://github.com/join).
 */
const GITHUB_OWNER = /^[A-Za-z0-9](?:-?[A-Za-z0-9])*$/;
const GITHUB_OWNER_MAX = 39;
/**
 * GitHub's rule for repository names, as its new-repository form states it: "The repository name can only contain
 * ASCII letters, digits, and the characters ., -, and _", at most 100 characters (https://github.com/new); `.`
 * and `..` are refused.
 */
const GITHUB_REPOSITORY = /^[A-Za-z0-9._-]{1,100}$/;
/**
 * GitHub environment names: "Environment names are not case sensitive. An environment name may not exceed 255
 * characters" (docs.github.com, Managing environments for deployment). Ours is narrower: lower case, because
 * IAM's StringEquals on the `sub` claim is case-sensitive while GitHub matches environments in any case; and
 * no `:`, which GitHub writes as `%3A` in the `sub` claim (docs.github.com, OpenID Connect reference).
 */
const GITHUB_ENVIRONMENT = /^[a-z0-9][a-z0-9._-]{0,254}$/;

const githubIdAllowed = (what: string) => `GitHub's numeric ID of the ${what} (a whole number >= 1)`;

const deliverySchema = strictObject({
  github: strictObject({
    owner: stringWhere(
      (o) => (o.length <= GITHUB_OWNER_MAX && GITHUB_OWNER.test(o) ? undefined : `allowed: a GitHub user or organization name: 1-${GITHUB_OWNER_MAX} letters, digits and single hyphens, not starting or ending with a hyphen`),
      'a GitHub user or organization name',
    ).describe('user or organization that owns the repository, spelled as GitHub spells it (IAM compares the `sub` claim case-sensitively)'),
    repository: stringWhere(
      (r) => (GITHUB_REPOSITORY.test(r) && r !== '.' && r !== '..' ? undefined : 'allowed: a GitHub repository name: 1-100 ASCII letters, digits, ., - and _ (not . or ..)'),
      'a GitHub repository name',
    ).describe('the repository whose workflows deploy, without the owner'),
    ownerId: wholeNumber(1, Number.MAX_SAFE_INTEGER, githubIdAllowed('owner'))
      .optional()
      .describe('with `repositoryId`: the repository uses immutable subject claims (default for repositories created or renamed after 2026-07-15), `repo:<owner>@<ownerId>/<repo>@<repositoryId>:...`; omit both for the name-only `sub`'),
    repositoryId: wholeNumber(1, Number.MAX_SAFE_INTEGER, githubIdAllowed('repository')).optional().describe('GitHub\'s numeric ID of the repository, given together with `ownerId`'),
    environment: stringWhere(
      (e) => (GITHUB_ENVIRONMENT.test(e) ? undefined : 'allowed: a GitHub environment name: 1-255 lower-case letters, digits, ., - and _, starting with a letter or digit'),
      'a GitHub environment name',
    )
      .optional()
      .describe('GitHub environment of the deploy job (its required reviewers are the approval); default: the environment name'),
  }).superRefine((g, ctx) => {
    if ((g.ownerId === undefined) !== (g.repositoryId === undefined)) {
      const missing = g.ownerId === undefined ? 'ownerId' : 'repositoryId';
      ctx.addIssue({ code: 'custom', path: [missing], input: undefined, message: 'allowed: ownerId and repositoryId together (the immutable `sub` names both), or neither' });
    }
  }).describe('the one repository whose GitHub Actions jobs may deploy, and the GitHub environment they run in; the role trusts exactly `repo:<owner>/<repository>:environment:<environment>`; omit `delivery` for no delivery stack'),
  oidcProvider: oneOf(['create', 'import']).describe(
    '`create` the account\'s IAM OIDC provider for token.actions.githubusercontent.com in this stack, or `import` the one that exists (an account has at most one per URL)',
  ),
  pullRequestDiff: yesNo().describe('a second role that pull_request workflows of the repository may assume, allowed only the CDK lookup role: `cdk diff --method template` on pull requests'),
});

// ---------------------------------------------------------------------------------------- environment

const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

/** The schema of one environment's config; `EnvironmentConfig` is inferred from it. */
// ------------------------------------------------------------------------------------------------- api

/** How callers of the inference API authenticate: an API key of a usage plan, SigV4 (IAM), or both. */
export const API_AUTHENTICATION = ['api-key', 'iam', 'iam-and-api-key'] as const;
export type ApiAuthentication = (typeof API_AUTHENTICATION)[number];
/** Usage plan quota periods (AWS::ApiGateway::UsagePlan QuotaSettings.Period). */
export const API_QUOTA_PERIODS = ['DAY', 'WEEK', 'MONTH'] as const;
/** The model id of the A/B endpoint of `serving.variants` in the inference API. */
export const SERVING_MODEL_ID = 'serving';
/**
 * API Gateway ends a buffered (non-streaming) integration after 29 seconds by default ("Amazon API Gateway quotas",
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html): the model call must end a second before.
 */
export const MAX_BUFFERED_MODEL_SECONDS = 28;
/** Lambda's longest timeout, which bounds a streamed response (API Gateway streams for up to 15 minutes). */
export const MAX_STREAM_SECONDS = 900;

const apiConsumerSchema = strictObject({
  name: matching(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'lowercase letters, digits and single hyphens').describe('the consumer (an application or team): its API key and usage plan carry the name'),
  rateLimit: numberWhere((r) => r > 0 && r <= 10000, 'a number of requests per second above 0 and at most 10000'),
  burstLimit: wholeNumber(1, 5000, 'a whole number of requests from 1 to 5000'),
  quota: strictObject({
    limit: wholeNumber(1, 1_000_000_000, 'a whole number of requests from 1 to 1000000000'),
    period: oneOf(API_QUOTA_PERIODS),
  }).optional(),
});

/** Where the inference API answers: a public regional endpoint, or only through the VPC's execute-api endpoint. */
export const API_ENDPOINT_TYPES = ['regional', 'private'] as const;

const apiSchema = strictObject({
  endpointType: oneOf(API_ENDPOINT_TYPES).describe(
    "`regional`: a public HTTPS endpoint (keys, IAM and the web ACL guard it); `private`: reachable only through the VPC's `execute-api` interface endpoint, from `privateClientCidrs`",
  ),
  privateClientCidrs: z
    .array(
      stringWhere((text) => {
        const cidr = parseCidr(text);
        return typeof cidr === 'string' ? cidr : undefined;
      }, 'an IPv4 CIDR a.b.c.d/n'),
      { error: 'allowed: a list of IPv4 CIDRs' },
    )
    .optional()
    .describe('with `private`: the address ranges of the callers (this VPC, peered or on-premises networks) that the execute-api endpoint admits on HTTPS'),
  authentication: oneOf(API_AUTHENTICATION).describe(
    '`api-key`: a key of a usage plan per consumer; `iam`: SigV4 of an IAM principal allowed execute-api:Invoke; `iam-and-api-key`: both',
  ),
  throttle: strictObject({
    rateLimit: numberWhere((r) => r > 0 && r <= 10000, 'a number of requests per second above 0 and at most 10000'),
    burstLimit: wholeNumber(1, 5000, 'a whole number of requests from 1 to 5000'),
  }).describe('requests per second and burst of the whole stage, every caller together'),
  consumers: z
    .array(apiConsumerSchema, { error: 'allowed: a list of consumers' })
    .describe('one API key and usage plan per consumer: requests per second, burst and an optional quota per day, week or month; required with API keys, empty with `iam`'),
  modelTimeoutSeconds: wholeNumber(1, MAX_BUFFERED_MODEL_SECONDS, `a whole number of seconds from 1 to ${MAX_BUFFERED_MODEL_SECONDS}`).describe(
    `longest wait for a model's answer on the buffered routes (API Gateway ends them at 29 s)`,
  ),
  streamTimeoutSeconds: wholeNumber(30, MAX_STREAM_SECONDS, `a whole number of seconds from 30 to ${MAX_STREAM_SECONDS}`).describe('longest streamed generation'),
  reservedConcurrency: wholeNumber(1, 1000).describe('concurrent executions kept for (and limited to) each of the two API functions'),
  wafRateLimitPer5Minutes: wholeNumber(10, 2_000_000_000, 'a whole number from 10 to 2000000000').describe(
    'the web ACL blocks a client IP address for the rest of a 5-minute window once it sends more requests than this',
  ),
  accessLogRetentionDays: logRetentionDays().describe('days to keep the access logs (and the usage metrics they feed)'),
  cache: strictObject({
    ttlSeconds: wholeNumber(60, 604800, 'a whole number of seconds from 60 to 604800 (a week)').describe('how long an answer is served from the cache'),
  })
    .optional()
    .describe('answer cache of deterministic requests (greedy decoding) in a KMS-encrypted DynamoDB table, keyed by model version and request; omit for none'),
  alarms: strictObject({
    maxServerErrorPercent: numberWhere((p) => p > 0 && p <= 100, 'a number above 0 and at most 100').describe('5xx share of requests over 5 minutes that alarms'),
    maxLatencyP99Ms: wholeNumber(1, 900_000).describe('p99 latency over 5 minutes that alarms'),
  }).describe('alarms of the API on the alerts topic'),
});

export const ENVIRONMENT_CONFIG_SCHEMA = strictObject({
  name: matching(/^[a-z][a-z0-9]{1,9}$/, '2-10 lower-case letters and digits, starting with a letter').describe(
    'environment name, part of every stack and resource name: 2-10 lower-case letters and digits',
  ),
  primaryRegion: region().describe('region every stack of the environment is deployed to (a region of aws-cdk-lib\'s region-info)'),
  drRegion: region().describe('region for replicas and backups: another region of the same partition'),
  network: networkSchema.describe('the VPC'),
  encryption: encryptionSchema.describe('customer managed KMS keys'),
  storage: storageSchema.describe('buckets'),
  disasterRecovery: strictObject({
    replication: yesNo().describe(
      'replicate every bucket to a replica in `drRegion` (the `<prefix>-<env>-dr` stack: own KMS keys, Replication Time Control, 15-minute objective), with alarms on latency and failed operations',
    ),
    backup: backupSchema
      .optional()
      .describe('AWS Backup of the data buckets (training data, model artifacts, evaluation, invocation logs) in a KMS-encrypted vault, with failed jobs on the alerts topic; omit for none'),
    failover: strictObject({
      availabilityZones: z
        .array(z.string({ error: 'allowed: a zone name such as us-west-2a' }), { error: 'allowed: a list of zone names' })
        .describe('zones of `drRegion` the platform\'s subnets use when it runs there: at least 2'),
    })
      .optional()
      .describe('how the platform runs in `drRegion` after the primary region is lost (`-c failover=true`: the same stacks there, on the replicas); needs `disasterRecovery.replication`; omit when this environment never fails over'),
  })
    .superRefine((dr, ctx) => checkBackup(dr, reporter(ctx)))
    .describe('copies of the data in `drRegion`, and backups'),
  training: trainingSchema.describe('the SageMaker fine-tuning pipeline'),
  bedrock: bedrockSchema.describe('Bedrock model customization'),
  serving: servingSchema.describe('endpoints'),
  monitoring: monitoringSchema.describe('the capture monitor of the served endpoints, its alarms and the prediction audit tables'),
  audit: strictObject({
    trailLogRetentionDays: logRetentionDays().describe('days to keep CloudTrail events in CloudWatch Logs'),
  }).describe('CloudTrail'),
  alarmEmail: matching(/^[^@\s]+@[^@\s]+\.[^@\s]+$/, 'an e-mail address').describe('address that receives alarms and budget alerts'),
  monthlyBudgetUsd: numberWhere((usd) => usd > 0, 'a number of US dollars > 0').describe('monthly cost budget in USD of the account; `cost.budgetAlerts` says when it alerts'),
  cost: strictObject({
    budgetAlerts: strictObject({
      forecastPercents: budgetPercents().describe('alert when the month\'s forecast spend exceeds these shares of the budget'),
      actualPercents: budgetPercents().describe('alert when the month\'s actual spend exceeds these shares of the budget'),
    }).describe(`percentages of \`monthlyBudgetUsd\` that alert the alerts topic, increasing in each list; at most ${MAX_BUDGET_NOTIFICATIONS} in all (AWS Budgets' limit per budget)`),
    idleEndpoints: strictObject({
      idleHours: wholeNumber(1, 720, 'a whole number of hours from 1 to 720').describe('an endpoint with no invocation for this long (and not changed for as long) is idle'),
      action: oneOf(['delete', 'report']).describe('`delete` idle endpoints the platform made outside CloudFormation (staging) and report the rest; `report` only reports'),
    })
      .optional()
      .describe('hourly check for idle endpoints of the environment; omit for none'),
  }).describe('budget alerts and idle endpoints'),
  delivery: deliverySchema
    .optional()
    .describe('deploy from GitHub Actions with OIDC: the `<prefix>-<env>-delivery` stack (deploy role, CloudFormation execution policy), deployed once with administrator credentials (docs/delivery.md); omit for none'),
  api: apiSchema
    .optional()
    .describe('the inference API (`<prefix>-<env>-api`): one REST API over every served model (SageMaker endpoints, inference components, Bedrock custom models), API keys and usage plans or IAM, web ACL, access logs and usage dashboard; omit for none'),
  tags: z
    .record(z.string(), z.string({ error: 'tag values are at most 256 letters, digits, spaces and _.:/=+-@' }), { error: 'allowed: an object of tag keys and values' })
    .describe('tags on every resource of the environment'),
}).superRefine((c, ctx) => checkEnvironment(c, reporter(ctx)));

/** Rules that span sections. */
function checkEnvironment(c: z.infer<typeof ENVIRONMENT_CONFIG_SCHEMA>, report: Report): void {
  const alerts = c.cost.budgetAlerts;
  const notifications = alerts.forecastPercents.length + alerts.actualPercents.length;
  if (notifications === 0 || notifications > MAX_BUDGET_NOTIFICATIONS) {
    report(['cost', 'budgetAlerts'], alerts, `${notifications} alerts; allowed: 1 to ${MAX_BUDGET_NOTIFICATIONS} in all (AWS Budgets' limit per budget)`);
  }
  if (c.drRegion === c.primaryRegion) {
    report(['drRegion'], c.drRegion, 'must differ from primaryRegion so a regional outage cannot take both');
  } else {
    const partition = partitionOf(c.primaryRegion);
    const drPartition = partitionOf(c.drRegion);
    if (partition && drPartition && partition !== drPartition) {
      report(['drRegion'], c.drRegion, `allowed: a region of primaryRegion's partition ${partition} (replication does not cross partitions)`);
    }
  }
  c.network.availabilityZones.forEach((az, i) => {
    if (!new RegExp(`^${c.primaryRegion}[a-z]$`).test(az)) {
      report(['network', 'availabilityZones', i], az, `allowed: a zone of primaryRegion ${c.primaryRegion}, such as ${c.primaryRegion}a`);
    }
  });
  // Only once drRegion itself is right: zones of a wrong region say nothing new.
  (c.drRegion === c.primaryRegion ? [] : (c.disasterRecovery.failover?.availabilityZones ?? [])).forEach((az, i) => {
    if (!new RegExp(`^${c.drRegion}[a-z]$`).test(az)) {
      report(['disasterRecovery', 'failover', 'availabilityZones', i], az, `allowed: a zone of drRegion ${c.drRegion}, such as ${c.drRegion}a`);
    }
  });
  const prefix = c.storage.bucketNamePrefix;
  const longest = `${prefix}-${c.name}-${LONGEST_BUCKET_PURPOSE}-123456789012-${LONGEST_REGION}`;
  if (longest.length > 63) {
    report(
      ['storage', 'bucketNamePrefix'],
      prefix,
      `too long: bucket names such as '${longest}' would exceed S3's 63 characters; use at most ${prefix.length - (longest.length - 63)} characters`,
    );
  }
  if (c.serving.imageUri === undefined && !apiInstanceTypeProblem('endpoint', c.training.endpointInstanceType)) {
    const problem = cudaImageProblem(c.serving.container, c.training.endpointInstanceType);
    if (problem) report(['training', 'endpointInstanceType'], c.training.endpointInstanceType, problem);
  }
  if (c.monitoring.canary && c.network.natGateways === 0 && !c.network.interfaceEndpoints.includes('sagemaker-runtime')) {
    report(['monitoring', 'canary'], c.monitoring.canary, "the canary function calls the endpoints through the 'sagemaker-runtime' interface endpoint: add it to network.interfaceEndpoints, or omit the canary");
  }
  if (c.serving.promotion && c.network.natGateways === 0) {
    // The staging canary calls the staging endpoint; the steps update the endpoints stack; the events function resumes the workflow.
    const missing = PROMOTION_ENDPOINTS.filter((e) => !c.network.interfaceEndpoints.includes(e));
    if (missing.length) {
      report(['serving', 'promotion'], c.serving.promotion, `the promotion's functions call ${missing.map((e) => `'${e}'`).join(', ')} through interface endpoints: add them to network.interfaceEndpoints, or omit the promotion`);
    }
  }
  const isolated = c.network.natGateways === 0;
  if (c.monitoring.canary && isolated && c.network.interfaceEndpoints.includes('bedrock') && !c.network.interfaceEndpoints.includes('bedrock-runtime')) {
    report(['monitoring', 'canary'], c.monitoring.canary, "the canary asks Bedrock provisioned models through the 'bedrock-runtime' interface endpoint: add it to network.interfaceEndpoints, or omit the canary");
  }
  if (c.monitoring.modelMonitor.enabled && !MODEL_MONITOR_REGIONS.includes(c.primaryRegion)) {
    report(['monitoring', 'modelMonitor', 'enabled'], true, `Model Monitor's analyzer image is not known in primaryRegion ${c.primaryRegion}; allowed: false, or a primaryRegion of ${MODEL_MONITOR_REGIONS.join(', ')}`);
  }
  checkBedrockModels(c, report);
  if (c.api) checkApi(c, c.api, report);
  for (const [key, value] of Object.entries(c.tags)) {
    if (key.length < 1 || key.length > 128 || key.toLowerCase().startsWith('aws:')) {
      report(['tags', key], key, 'tag keys are 1-128 characters and may not start with aws:');
    }
    if (value.length > 256 || !TAG_VALUE.test(value)) report(['tags', key], value, 'tag values are at most 256 letters, digits, spaces and _.:/=+-@');
  }
}

/** Bedrock models are served in primaryRegion, under names no other served model has. */
function checkBedrockModels(c: z.infer<typeof ENVIRONMENT_CONFIG_SCHEMA>, report: Report): void {
  const taken = new Set<string>([SERVING_MODEL_ID, ...(c.serving.sharedEndpoint?.components ?? []).map((m) => m.name)]);
  (c.serving.bedrockModels ?? []).forEach((m, i) => {
    if (taken.has(m.name)) {
      report(['serving', 'bedrockModels', i, 'name'], m.name, `the inference API's model ids must be unique: '${SERVING_MODEL_ID}' (the A/B endpoint), the inference components' and the Bedrock models' names`);
    }
    taken.add(m.name);
    const region = BEDROCK_SERVED_ARN.exec(m.modelArn)?.[1];
    if (region !== undefined && region !== c.primaryRegion) {
      report(['serving', 'bedrockModels', i, 'modelArn'], m.modelArn, `allowed: a model in primaryRegion ${c.primaryRegion} (the API calls Bedrock there)`);
    }
  });
  if (c.serving.sharedEndpoint?.components.some((m) => m.name === SERVING_MODEL_ID)) {
    const i = c.serving.sharedEndpoint.components.findIndex((m) => m.name === SERVING_MODEL_ID);
    report(['serving', 'sharedEndpoint', 'components', i, 'name'], SERVING_MODEL_ID, `'${SERVING_MODEL_ID}' is the inference API's id of the A/B endpoint; choose another name`);
  }
}

/** Consumers fit the stage and the authentication; without NAT the API function reaches the runtimes it calls. */
function checkApi(c: z.infer<typeof ENVIRONMENT_CONFIG_SCHEMA>, api: z.infer<typeof apiSchema>, report: Report): void {
  const keys = api.authentication !== 'iam';
  if (keys && api.consumers.length === 0) {
    report(['api', 'consumers'], [], `authentication '${api.authentication}' gives each consumer an API key: list at least one consumer`);
  }
  if (!keys && api.consumers.length > 0) {
    report(['api', 'consumers'], api.consumers.map((k) => k.name), "authentication 'iam' uses no API keys, so consumers get no usage plan: use 'iam-and-api-key', or list none");
  }
  const seen = new Set<string>();
  api.consumers.forEach((k, i) => {
    if (seen.has(k.name)) report(['api', 'consumers', i, 'name'], k.name, 'consumer names must be unique');
    seen.add(k.name);
    if (k.rateLimit > api.throttle.rateLimit) report(['api', 'consumers', i, 'rateLimit'], k.rateLimit, `allowed: at most api.throttle.rateLimit (${api.throttle.rateLimit})`);
    if (k.burstLimit > api.throttle.burstLimit) report(['api', 'consumers', i, 'burstLimit'], k.burstLimit, `allowed: at most api.throttle.burstLimit (${api.throttle.burstLimit})`);
  });
  if (api.endpointType === 'private') {
    if (!api.privateClientCidrs?.length) {
      report(['api', 'privateClientCidrs'], api.privateClientCidrs ?? null, "a private API needs its callers' address ranges: list at least one CIDR (e.g. the VPC's)");
    }
    if (!c.network.interfaceEndpoints.includes('execute-api')) {
      report(['api', 'endpointType'], api.endpointType, "a private API is reached through the 'execute-api' interface endpoint: add it to network.interfaceEndpoints");
    }
  } else if (api.privateClientCidrs !== undefined) {
    report(['api', 'privateClientCidrs'], api.privateClientCidrs, "only a private API (endpointType 'private') has client ranges; omit it");
  }
  if (api.streamTimeoutSeconds < api.modelTimeoutSeconds) {
    report(['api', 'streamTimeoutSeconds'], api.streamTimeoutSeconds, `allowed: at least api.modelTimeoutSeconds (${api.modelTimeoutSeconds})`);
  }
  if (c.network.natGateways === 0) {
    const needed: InterfaceEndpointName[] = [];
    if (c.serving.variants.length > 0 || c.serving.sharedEndpoint) needed.push('sagemaker-runtime');
    if ((c.serving.bedrockModels ?? []).length > 0) needed.push('bedrock-runtime');
    const missing = needed.filter((e) => !c.network.interfaceEndpoints.includes(e));
    if (missing.length) {
      report(['api'], 'api', `the API's functions call ${missing.map((e) => `'${e}'`).join(', ')} through interface endpoints: add them to network.interfaceEndpoints, or omit the api`);
    }
  }
}

export type EnvironmentConfig = z.infer<typeof ENVIRONMENT_CONFIG_SCHEMA>;
export type NetworkConfig = EnvironmentConfig['network'];
export type EncryptionConfig = EnvironmentConfig['encryption'];
export type StorageConfig = EnvironmentConfig['storage'];
export type BackupConfig = NonNullable<EnvironmentConfig['disasterRecovery']['backup']>;
export type TrainingConfig = EnvironmentConfig['training'];
export type QualityGateConfig = TrainingConfig['qualityGate'];
export type BedrockConfig = EnvironmentConfig['bedrock'];
/** A base model not (yet) in training/contracts/bedrock-models.json, in the same shape. */
export type BedrockModelSpec = z.infer<typeof bedrockModelSpecSchema>;
export type ServingConfig = EnvironmentConfig['serving'];
/** One production variant of the endpoint: a registered model version and its capacity. */
export type ServingVariantConfig = ServingConfig['variants'][number];
/** One model of the shared (multi-model) endpoint: an inference component with its own compute share. */
export type InferenceComponentConfig = NonNullable<ServingConfig['sharedEndpoint']>['components'][number];
export type AuditConfig = EnvironmentConfig['audit'];
export type ApiConfig = NonNullable<EnvironmentConfig['api']>;
export type ApiEndpointType = (typeof API_ENDPOINT_TYPES)[number];
/** A Bedrock custom model the inference API serves. */
export type BedrockServedModelConfig = NonNullable<ServingConfig['bedrockModels']>[number];
export type MonitoringConfig = EnvironmentConfig['monitoring'];
export type PromotionConfig = NonNullable<ServingConfig['promotion']>;
