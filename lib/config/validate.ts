import metricsContract from '../../training/contracts/training-metrics.json';
import { findBedrockProblems } from './bedrock-models';
import { contains, formatAddress, isPrivateRange, packSubnets, parseCidr } from './cidr';
import {
  BEDROCK_EVALUATION_TASKS,
  SERVING_CONTAINERS,
  EnvironmentConfig,
  EVALUATION_TASKS,
  INTERFACE_ENDPOINT_NAMES,
  LOG_RETENTION_DAYS,
  SUBNET_TIERS,
  SubnetTier,
} from './environment-config';
import { STORAGE_LAYOUT } from './storage-layout';

/** Thrown when a config is invalid; the message lists every problem, one per line. */
export class ConfigValidationError extends Error {
  constructor(
    readonly environment: string,
    readonly problems: string[],
  ) {
    super(`Invalid configuration for environment '${environment}':\n- ${problems.join('\n- ')}`);
    this.name = 'ConfigValidationError';
  }
}

/** Metrics the training script logs (the names SageMaker can tune on). */
const TRAINING_METRIC_NAMES = metricsContract.metrics.map((m) => m.name);
const REGION_PATTERN = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;
const ENV_NAME_PATTERN = /^[a-z][a-z0-9]{1,9}$/;
const BUCKET_PREFIX_PATTERN = /^[a-z0-9][a-z0-9-]*[a-z0-9]$/;
const INSTANCE_TYPE_PATTERN = /^ml\.[a-z0-9-]+\.[0-9]*[a-z]+$/;
const ECR_IMAGE = /^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?\/[a-z0-9._/-]+(:[\w.-]+|@sha256:[0-9a-f]{64})$/;
const EMAIL_PATTERN = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
// Longest purpose suffix, 12-digit account and longest commercial region name, as used by StorageStack.
const LONGEST_BUCKET_PURPOSE = 'evaluation-results';
const LONGEST_REGION = 'ap-southeast-5';

/** Every check in one place; returns the problems instead of throwing so all are reported together. */
export function findConfigProblems(c: EnvironmentConfig): string[] {
  const problems: string[] = [];
  const bad = (key: string, value: unknown, allowed: string) =>
    problems.push(`${key}: got ${JSON.stringify(value)}; ${allowed}`);

  if (!ENV_NAME_PATTERN.test(c.name)) {
    bad('name', c.name, 'allowed: 2-10 lower-case letters and digits, starting with a letter');
  }
  for (const key of ['primaryRegion', 'drRegion'] as const) {
    if (!REGION_PATTERN.test(c[key])) bad(key, c[key], 'allowed: an AWS region name such as us-east-1');
  }
  if (c.drRegion === c.primaryRegion) {
    bad('drRegion', c.drRegion, 'must differ from primaryRegion so a regional outage cannot take both');
  }
  checkNetwork(c, bad);

  const enc = c.encryption;
  if (!Number.isInteger(enc.keyRotationPeriodDays) || enc.keyRotationPeriodDays < 90 || enc.keyRotationPeriodDays > 2560) {
    bad('encryption.keyRotationPeriodDays', enc.keyRotationPeriodDays, 'allowed: a whole number from 90 to 2560');
  }
  if (!Number.isInteger(enc.keyDeletionWindowDays) || enc.keyDeletionWindowDays < 7 || enc.keyDeletionWindowDays > 30) {
    bad('encryption.keyDeletionWindowDays', enc.keyDeletionWindowDays, 'allowed: a whole number from 7 to 30');
  }

  const st = c.storage;
  if (!BUCKET_PREFIX_PATTERN.test(st.bucketNamePrefix) || st.bucketNamePrefix.includes('--')) {
    bad('storage.bucketNamePrefix', st.bucketNamePrefix, 'allowed: lower-case letters, digits and single hyphens');
  }
  const longest = `${st.bucketNamePrefix}-${c.name}-${LONGEST_BUCKET_PURPOSE}-123456789012-${LONGEST_REGION}`;
  if (longest.length > 63) {
    bad(
      'storage.bucketNamePrefix',
      st.bucketNamePrefix,
      `too long: bucket names such as '${longest}' would exceed S3's 63 characters; use at most ${st.bucketNamePrefix.length - (longest.length - 63)} characters`,
    );
  }
  for (const key of ['noncurrentVersionExpirationDays', 'checkpointExpirationDays', 'abortIncompleteUploadDays', 'auditLogExpirationDays'] as const) {
    if (!Number.isInteger(st[key]) || st[key] < 1) bad(`storage.${key}`, st[key], 'allowed: a whole number of days >= 1');
  }
  if (Number.isInteger(st.auditLogExpirationDays) && st.auditLogExpirationDays < 365) {
    bad('storage.auditLogExpirationDays', st.auditLogExpirationDays, 'audit logs must be kept at least 365 days');
  }

  const t = c.training;
  if (t.baseModels.length === 0) bad('training.baseModels', t.baseModels, 'list at least one Hugging Face model id');
  t.baseModels.forEach((m, i) => {
    if (!/^[A-Za-z0-9][\w.-]*\/[\w.-]+$/.test(m)) bad(`training.baseModels[${i}]`, m, 'allowed: a Hugging Face id such as org/model');
  });
  for (const key of ['trainingInstanceType', 'processingInstanceType', 'endpointInstanceType'] as const) {
    if (!INSTANCE_TYPE_PATTERN.test(t[key])) bad(`training.${key}`, t[key], 'allowed: a SageMaker instance type such as ml.g5.2xlarge');
  }
  if (!Number.isInteger(t.maxRuntimeHours) || t.maxRuntimeHours < 1 || t.maxRuntimeHours > 120) {
    bad('training.maxRuntimeHours', t.maxRuntimeHours, 'allowed: a whole number of hours from 1 to 120');
  }
  checkQualityGate(t.qualityGate, bad);
  if (t.tuning && !TRAINING_METRIC_NAMES.includes(t.tuning.objectiveMetricName)) {
    bad('training.tuning.objectiveMetricName', t.tuning.objectiveMetricName, `allowed: a logged metric, one of ${TRAINING_METRIC_NAMES.join(', ')}`);
  }
  for (const [key, uri] of Object.entries(t.images ?? {})) {
    if (uri !== undefined && !ECR_IMAGE.test(uri)) {
      bad(`training.images.${key}`, uri, 'allowed: an ECR image URI <account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>');
    }
  }
  findBedrockProblems(c.bedrock, bad);
  if (!(BEDROCK_EVALUATION_TASKS as readonly string[]).includes(c.bedrock.defaults.evaluationTask)) {
    bad('bedrock.defaults.evaluationTask', c.bedrock.defaults.evaluationTask, `allowed: ${BEDROCK_EVALUATION_TASKS.join(', ')}`);
  }
  const processed = STORAGE_LAYOUT.trainingData.prefixes.processed;
  const trigger = c.bedrock.trigger?.datasetPrefix;
  if (trigger !== undefined && (!trigger.startsWith(processed) || !trigger.endsWith('/') || trigger.length <= processed.length)) {
    bad('bedrock.trigger.datasetPrefix', trigger, `allowed: a folder under ${processed} ending in '/', e.g. ${processed}bedrock/`);
  }
  if (!(LOG_RETENTION_DAYS as readonly number[]).includes(c.bedrock.invocationLogRetentionDays)) {
    bad('bedrock.invocationLogRetentionDays', c.bedrock.invocationLogRetentionDays, `allowed: one of ${LOG_RETENTION_DAYS.join(', ')}`);
  }

  checkServing(c, bad);

  if (!(LOG_RETENTION_DAYS as readonly number[]).includes(c.audit.trailLogRetentionDays)) {
    bad('audit.trailLogRetentionDays', c.audit.trailLogRetentionDays, `allowed: one of ${LOG_RETENTION_DAYS.join(', ')}`);
  }
  if (!EMAIL_PATTERN.test(c.alarmEmail)) bad('alarmEmail', c.alarmEmail, 'allowed: an e-mail address');
  if (typeof c.monthlyBudgetUsd !== 'number' || !Number.isFinite(c.monthlyBudgetUsd) || c.monthlyBudgetUsd <= 0) {
    bad('monthlyBudgetUsd', c.monthlyBudgetUsd, 'allowed: a number of US dollars > 0');
  }
  checkTags(c.tags, bad);
  return problems;
}

type Reporter = (key: string, value: unknown, allowed: string) => void;

function checkNetwork(c: EnvironmentConfig, bad: Reporter): void {
  const n = c.network;
  const vpc = parseCidr(n.vpcCidr);
  if (typeof vpc === 'string') {
    bad('network.vpcCidr', n.vpcCidr, `${vpc}`);
  } else if (vpc.prefixLength < 16 || vpc.prefixLength > 24) {
    bad('network.vpcCidr', n.vpcCidr, 'allowed: a prefix length from /16 to /24 (the VPC limits)');
  } else if (!isPrivateRange(vpc)) {
    bad('network.vpcCidr', n.vpcCidr, 'allowed: a private range inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16');
  }

  const azs = n.availabilityZones;
  if (azs.length < 2) bad('network.availabilityZones', azs, 'list at least 2 zones so training and endpoints survive a zone outage');
  if (new Set(azs).size !== azs.length) bad('network.availabilityZones', azs, 'zones must be unique');
  azs.forEach((az, i) => {
    if (!new RegExp(`^${c.primaryRegion}[a-z]$`).test(az)) {
      bad(`network.availabilityZones[${i}]`, az, `allowed: a zone of primaryRegion ${c.primaryRegion}, such as ${c.primaryRegion}a`);
    }
  });

  if (!Number.isInteger(n.natGateways) || n.natGateways < 0 || n.natGateways > azs.length) {
    bad('network.natGateways', n.natGateways, `allowed: a whole number from 0 (isolated, the default) to ${azs.length} (one per zone)`);
  }
  const tiers = SUBNET_TIERS.filter((tier) => tier !== 'public' || n.natGateways > 0);
  for (const tier of SUBNET_TIERS) {
    const len = n.subnetPrefixLengths[tier as SubnetTier];
    if (!Number.isInteger(len) || len < 16 || len > 28) {
      bad(`network.subnetPrefixLengths.${tier}`, len, 'allowed: a whole number from 16 to 28 (the subnet limits)');
    }
  }
  if (typeof vpc !== 'string') {
    const lengths = tiers.flatMap((tier) => azs.map(() => n.subnetPrefixLengths[tier]));
    if (lengths.every((l) => Number.isInteger(l) && l >= vpc.prefixLength)) {
      const { end, subnets } = packSubnets(vpc, lengths);
      const last = subnets[subnets.length - 1];
      if (!contains(vpc, last)) {
        bad(
          'network.subnetPrefixLengths',
          n.subnetPrefixLengths,
          `${subnets.length} subnets (${tiers.join(', ')} x ${azs.length} zones) need addresses up to ${formatAddress(end - 1)}, ` +
            `outside ${n.vpcCidr}: they would overlap or spill out; use longer prefixes or a larger VPC`,
        );
      }
    } else {
      bad('network.subnetPrefixLengths', n.subnetPrefixLengths, `every subnet must be smaller than the VPC ${n.vpcCidr}`);
    }
  }

  const unknown = n.interfaceEndpoints.filter((e) => !(INTERFACE_ENDPOINT_NAMES as readonly string[]).includes(e));
  if (unknown.length) bad('network.interfaceEndpoints', unknown, `allowed: ${INTERFACE_ENDPOINT_NAMES.join(', ')}`);
  if (new Set(n.interfaceEndpoints).size !== n.interfaceEndpoints.length) {
    bad('network.interfaceEndpoints', n.interfaceEndpoints, 'each endpoint may be listed once');
  }
  // Without NAT these are the only way SageMaker jobs reach the APIs they cannot run without.
  const required = ['sagemaker-api', 'ecr-api', 'ecr-docker', 'logs', 'sts'];
  const missing = required.filter((e) => !n.interfaceEndpoints.includes(e as never));
  if (n.natGateways === 0 && missing.length) {
    bad('network.interfaceEndpoints', n.interfaceEndpoints, `isolated subnets (natGateways 0) need ${missing.join(', ')}`);
  }
  if (!(LOG_RETENTION_DAYS as readonly number[]).includes(n.flowLogRetentionDays)) {
    bad('network.flowLogRetentionDays', n.flowLogRetentionDays, `allowed: one of ${LOG_RETENTION_DAYS.join(', ')}`);
  }
}

function checkQualityGate(g: EnvironmentConfig['training']['qualityGate'], bad: Reporter): void {
  if (!(EVALUATION_TASKS as readonly string[]).includes(g.task)) {
    bad('training.qualityGate.task', g.task, `allowed: ${EVALUATION_TASKS.join(', ')}`);
  }
  if (!/^[a-z_]+\.[A-Za-z0-9_]+\.value$/.test(g.metricPath)) {
    bad('training.qualityGate.metricPath', g.metricPath, 'allowed: <section>.<metric>.value as in evaluation.json, e.g. generation_metrics.perplexity.value');
  }
  const bounds = [g.minimum, g.maximum].filter((v) => v !== undefined);
  if (bounds.length !== 1 || !bounds.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    bad('training.qualityGate', { minimum: g.minimum, maximum: g.maximum }, 'set exactly one of minimum and maximum, a finite number');
  }
}

function checkTags(tags: Record<string, string>, bad: Reporter): void {
  for (const [key, value] of Object.entries(tags)) {
    if (key.length < 1 || key.length > 128 || key.toLowerCase().startsWith('aws:')) {
      bad(`tags.${key}`, key, 'tag keys are 1-128 characters and may not start with aws:');
    }
    if (typeof value !== 'string' || value.length > 256 || !/^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u.test(value)) {
      bad(`tags.${key}`, value, 'tag values are at most 256 letters, digits, spaces and _.:/=+-@');
    }
  }
}

/** Throws a `ConfigValidationError` listing every problem, or returns the config unchanged. */
export function validateEnvironmentConfig(config: EnvironmentConfig): EnvironmentConfig {
  const problems = findConfigProblems(config);
  if (problems.length) throw new ConfigValidationError(config.name, problems);
  return config;
}

const VARIANT_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
const MODEL_PACKAGE_ARN = /^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package\/[a-zA-Z0-9-]{1,63}\/\d+$/;

function checkServing(c: EnvironmentConfig, bad: (key: string, value: unknown, allowed: string) => void): void {
  const s = c.serving;
  if (!(SERVING_CONTAINERS as readonly string[]).includes(s.container)) bad('serving.container', s.container, `allowed: ${SERVING_CONTAINERS.join(', ')}`);
  if (s.imageUri !== undefined && !ECR_IMAGE.test(s.imageUri)) bad('serving.imageUri', s.imageUri, 'allowed: an ECR image URI <account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>');
  if (!INSTANCE_TYPE_PATTERN.test(s.stagingInstanceType)) bad('serving.stagingInstanceType', s.stagingInstanceType, 'allowed: a SageMaker instance type such as ml.g5.xlarge');
  const names = new Set<string>();
  s.variants.forEach((v, i) => {
    const key = `serving.variants[${i}]`;
    if (!VARIANT_NAME.test(v.name)) bad(`${key}.name`, v.name, 'allowed: 1-63 letters, digits and hyphens');
    if (names.has(v.name)) bad(`${key}.name`, v.name, 'variant names must be unique');
    names.add(v.name);
    if (!MODEL_PACKAGE_ARN.test(v.modelPackageArn)) {
      bad(`${key}.modelPackageArn`, v.modelPackageArn, 'allowed: a versioned model package ARN arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>');
    }
    if (!(typeof v.initialWeight === 'number' && Number.isFinite(v.initialWeight) && v.initialWeight >= 0)) bad(`${key}.initialWeight`, v.initialWeight, 'allowed: a number >= 0');
    if (!INSTANCE_TYPE_PATTERN.test(v.instanceType)) bad(`${key}.instanceType`, v.instanceType, 'allowed: a SageMaker instance type such as ml.g5.2xlarge');
    const least = s.highAvailability ? 2 : 1;
    if (!Number.isInteger(v.minInstances) || v.minInstances < least) {
      bad(`${key}.minInstances`, v.minInstances, `allowed: a whole number >= ${least}${s.highAvailability ? ' (serving.highAvailability keeps 2 instances per variant)' : ''}`);
    }
    if (!Number.isInteger(v.maxInstances) || v.maxInstances < v.minInstances) bad(`${key}.maxInstances`, v.maxInstances, `allowed: a whole number >= minInstances (${v.minInstances})`);
  });
  if (s.variants.length > 0 && !(s.variants.reduce((sum, v) => sum + (v.initialWeight > 0 ? v.initialWeight : 0), 0) > 0)) {
    bad('serving.variants', s.variants.map((v) => `${v.name}=${v.initialWeight}`), 'the initial weights must sum to more than 0');
  }
  if (s.variants.length > 10) bad('serving.variants', s.variants.length, 'allowed: at most 10 production variants');
  const shared = s.sharedEndpoint;
  if (shared) {
    if (!INSTANCE_TYPE_PATTERN.test(shared.instanceType)) bad('serving.sharedEndpoint.instanceType', shared.instanceType, 'allowed: a SageMaker instance type such as ml.g5.12xlarge');
    const least = s.highAvailability ? 2 : 1;
    if (!Number.isInteger(shared.minInstances) || shared.minInstances < least) bad('serving.sharedEndpoint.minInstances', shared.minInstances, `allowed: a whole number >= ${least}`);
    if (!Number.isInteger(shared.maxInstances) || shared.maxInstances < shared.minInstances) {
      bad('serving.sharedEndpoint.maxInstances', shared.maxInstances, `allowed: a whole number >= minInstances (${shared.minInstances})`);
    }
    if (shared.components.length === 0) bad('serving.sharedEndpoint.components', [], 'list at least one model');
    const seen = new Set<string>();
    shared.components.forEach((m, i) => {
      const key = `serving.sharedEndpoint.components[${i}]`;
      if (!VARIANT_NAME.test(m.name) || m.name.length > 40) bad(`${key}.name`, m.name, 'allowed: 1-40 letters, digits and hyphens');
      if (seen.has(m.name)) bad(`${key}.name`, m.name, 'component names must be unique');
      seen.add(m.name);
      if (!MODEL_PACKAGE_ARN.test(m.modelPackageArn)) bad(`${key}.modelPackageArn`, m.modelPackageArn, 'allowed: a versioned model package ARN');
      if (!Number.isInteger(m.copies) || m.copies < 1) bad(`${key}.copies`, m.copies, 'allowed: a whole number >= 1');
      if (!Number.isInteger(m.acceleratorsPerCopy) || m.acceleratorsPerCopy < 1 || m.acceleratorsPerCopy > 8) bad(`${key}.acceleratorsPerCopy`, m.acceleratorsPerCopy, 'allowed: a whole number from 1 to 8');
      if (!Number.isInteger(m.memoryMiB) || m.memoryMiB < 1024) bad(`${key}.memoryMiB`, m.memoryMiB, 'allowed: a whole number of MiB >= 1024');
    });
  }
  const positive = (key: string, v: number, max: number) => {
    if (!(Number.isInteger(v) && v >= 1 && v <= max)) bad(key, v, `allowed: a whole number from 1 to ${max}`);
  };
  positive('serving.targetInvocationsPerInstance', s.targetInvocationsPerInstance, 100000);
  positive('serving.scaleInCooldownSeconds', s.scaleInCooldownSeconds, 86400);
  positive('serving.scaleOutCooldownSeconds', s.scaleOutCooldownSeconds, 86400);
  if (!(Number.isInteger(s.dataCapturePercent) && s.dataCapturePercent >= 0 && s.dataCapturePercent <= 100)) bad('serving.dataCapturePercent', s.dataCapturePercent, 'allowed: a whole number from 0 to 100');
  const r = s.rollout;
  if (!['canary', 'linear'].includes(r.mode)) bad('serving.rollout.mode', r.mode, 'allowed: canary, linear');
  if (!(Number.isInteger(r.stepPercent) && r.stepPercent >= 1 && r.stepPercent <= 50)) bad('serving.rollout.stepPercent', r.stepPercent, 'allowed: a whole number from 1 to 50');
  positive('serving.rollout.waitMinutes', r.waitMinutes, 60);
  if (!(Number.isInteger(r.terminationWaitMinutes) && r.terminationWaitMinutes >= 0 && r.terminationWaitMinutes <= 60)) {
    bad('serving.rollout.terminationWaitMinutes', r.terminationWaitMinutes, 'allowed: a whole number from 0 to 60');
  }
  if (!(r.maxErrorRatePercent > 0 && r.maxErrorRatePercent <= 100)) bad('serving.rollout.maxErrorRatePercent', r.maxErrorRatePercent, 'allowed: a number above 0 and at most 100');
  positive('serving.rollout.maxP99LatencyMs', r.maxP99LatencyMs, 600000);
  positive('serving.batching.maxConcurrentRequests', s.batching.maxConcurrentRequests, 1024);
  positive('serving.batching.maxTotalTokens', s.batching.maxTotalTokens, 1048576);
}
