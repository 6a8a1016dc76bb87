import { ConfigValidationError, findConfigProblems, validateEnvironmentConfig } from '../../lib/config/validate';
import { ENVIRONMENTS, loadEnvironmentConfig } from '../../lib/config/environments';
import { configWith } from '../support/app';

const component = (change: Record<string, unknown> = {}) => ({
  name: 'm',
  modelPackageArn: 'arn:aws:sagemaker:us-east-1:111122223333:model-package/fmft-dev-fine-tuning-models/1',
  copies: 1,
  acceleratorsPerCopy: 1,
  memoryMiB: 8192,
  ...change,
});
const shared = (change: Record<string, unknown> = {}) => ({ instanceType: 'ml.g5.12xlarge', minInstances: 1, maxInstances: 2, components: [component()], ...change });
const variant = (change: Record<string, unknown> = {}) => ({
  name: 'a',
  modelPackageArn: 'arn:aws:sagemaker:us-east-1:111122223333:model-package/fmft-dev-fine-tuning-models/1',
  initialWeight: 1,
  instanceType: 'ml.g5.xlarge',
  minInstances: 1,
  maxInstances: 2,
  ...change,
});

/** prod's tuning ranges with changes. */
const tuning = (change: Record<string, unknown>) => ({ ...ENVIRONMENTS.prod.training.tuning, ...change });

const dev = ENVIRONMENTS.dev;
const bad = (change: (c: any) => void) => () => validateEnvironmentConfig(configWith(dev, change));

describe('environment config', () => {
  test.each(Object.keys(ENVIRONMENTS))('%s is valid', (name) => {
    expect(findConfigProblems(ENVIRONMENTS[name])).toEqual([]);
  });

  test('an unknown environment name lists the known ones', () => {
    expect(() => loadEnvironmentConfig('staging')).toThrow(/env: got "staging"; allowed: dev, prod/);
  });

  test('every problem is reported at once, each naming key and value', () => {
    try {
      validateEnvironmentConfig(configWith(dev, (c) => {
        c.monthlyBudgetUsd = 0;
        c.drRegion = c.primaryRegion;
      }));
      throw new Error('expected a ConfigValidationError');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigValidationError);
      const err = e as ConfigValidationError;
      expect(err.problems).toHaveLength(2);
      expect(err.message).toMatch(/Invalid configuration for environment 'dev'/);
    }
  });

  test.each<[string, (c: any) => void, RegExp]>([
    ['env name', (c) => (c.name = 'Dev_1'), /name: got "Dev_1"; allowed: 2-10 lower-case/],
    ['unknown key in a section', (c) => (c.network.natGateway = 1), /^- network.natGateway: unknown key; allowed: vpcCidr, availabilityZones, subnetPrefixLengths, natGateways, interfaceEndpoints, flowLogRetentionDays$/m],
    ['unknown top-level key', (c) => (c.budget = 5), /^- budget: unknown key; allowed: name, primaryRegion, drRegion, network, /m],
    ['wrong type', (c) => (c.network.natGateways = '1'), /^- network.natGateways: got "1"; allowed: a whole number$/m],
    ['null section', (c) => (c.audit = null), /^- audit: got null; allowed: an object with trailLogRetentionDays$/m],
    ['missing key', (c) => delete c.serving.batching, /^- serving.batching: missing; allowed: an object with maxConcurrentRequests, maxTotalTokens$/m],
    ['negative NAT gateways', (c) => (c.network.natGateways = -1), /network.natGateways: got -1; allowed: a whole number from 0 \(isolated, the default\) to 2/],
    ['primary region not in region-info', (c) => (c.primaryRegion = 'us-east-7'), /primaryRegion: got "us-east-7"; allowed: a region of aws-cdk-lib's region-info: af-south-1, .*, us-east-1, .*, us-west-2$/m],
    ['DR region not in region-info', (c) => (c.drRegion = 'useast2'), /drRegion: got "useast2"; allowed: a region of aws-cdk-lib's region-info: af-south-1, /],
    ['DR region in another partition', (c) => (c.drRegion = 'cn-north-1'), /drRegion: got "cn-north-1"; allowed: a region of primaryRegion's partition aws \(replication does not cross partitions\)/],
    ['DR region equal to primary', (c) => (c.drRegion = 'us-east-1'), /drRegion: got "us-east-1"; must differ from primaryRegion/],
    ['malformed CIDR', (c) => (c.network.vpcCidr = '10.0.0/16'), /network.vpcCidr: got "10.0.0\/16"; is not an IPv4 CIDR/],
    ['CIDR octet above 255', (c) => (c.network.vpcCidr = '10.300.0.0/16'), /network.vpcCidr: .*octet above 255/],
    ['CIDR with host bits', (c) => (c.network.vpcCidr = '10.40.1.0/16'), /network.vpcCidr: .*host bits set \(the network address for \/16 is 10.40.0.0\)/],
    ['VPC too large', (c) => (c.network.vpcCidr = '10.0.0.0/8'), /network.vpcCidr: .*from \/16 to \/24/],
    ['public VPC range', (c) => (c.network.vpcCidr = '8.8.0.0/16'), /network.vpcCidr: .*private range/],
    ['one AZ', (c) => (c.network.availabilityZones = ['us-east-1a']), /network.availabilityZones: .*at least 2 zones/],
    ['duplicate AZ', (c) => (c.network.availabilityZones = ['us-east-1a', 'us-east-1a']), /zones must be unique/],
    ['AZ of another region', (c) => (c.network.availabilityZones = ['us-east-1a', 'eu-west-1b']), /network.availabilityZones\[1\]: got "eu-west-1b"; allowed: a zone of primaryRegion us-east-1/],
    ['overlapping subnets', (c) => (c.network.subnetPrefixLengths.training = 17), /network.subnetPrefixLengths: .*outside 10.40.0.0\/16: they would overlap or spill out/],
    ['subnet larger than VPC', (c) => (c.network.vpcCidr = '10.40.0.0/24'), /network.subnetPrefixLengths: .*every subnet must be smaller than the VPC/],
    ['subnet prefix out of range', (c) => (c.network.subnetPrefixLengths.privatelink = 29), /network.subnetPrefixLengths.privatelink: got 29; allowed: a whole number from 16 to 28/],
    ['NAT above AZ count', (c) => (c.network.natGateways = 3), /network.natGateways: got 3; allowed: a whole number from 0 .* to 2/],
    ['unknown endpoint', (c) => c.network.interfaceEndpoints.push('dynamodb'), /network.interfaceEndpoints\[14\]: got "dynamodb"; allowed: sagemaker-api, sagemaker-runtime, .*, bedrock-runtime, sns, sqs, states, cloudformation, execute-api$/m],
    ['duplicate endpoint', (c) => c.network.interfaceEndpoints.push('kms'), /each endpoint may be listed once/],
    ['replication that is not a yes or no', (c) => (c.disasterRecovery.replication = 'yes'), /disasterRecovery.replication: got "yes"; allowed: true or false/],
    ['bucket prefix too long for the DR replicas', (c) => (c.storage.bucketNamePrefix = 'fmft-platform'), /storage.bucketNamePrefix: got "fmft-platform"; too long: bucket names such as 'fmft-platform-dev-dr-evaluation-results-123456789012-ap-southeast-5' would exceed S3's 63 characters; use at most 9 characters/],
    ['promotion of a variant not served', (c) => (c.serving.variants = [variant()]), /serving.promotion.variant: got "current"; allowed: a variant of serving.variants \(a\)/],
    ['staging request above 100 tokens', (c) => (c.serving.promotion.validation.maxNewTokens = 101), /serving.promotion.validation.maxNewTokens: got 101; allowed: a whole number from 1 to 100: the standard request/],
    ['staging error rate above 1', (c) => (c.serving.promotion.validation.maxErrorRate = 1.5), /serving.promotion.validation.maxErrorRate: got 1.5; allowed: a fraction from 0 to 1/],
    ['staging task without a score', (c) => (c.serving.promotion.validation.task = 'perplexity'), /serving.promotion.validation.task: got "perplexity"; allowed: classification, summarization, qa/],
    ['staging golden set outside the data prefixes', (c) => (c.serving.promotion.validation.goldenSetKey = 'golden.jsonl'), /serving.promotion.validation.goldenSetKey: got "golden.jsonl"; allowed: a .jsonl key under training-data\/processed\//],
    ['approval that never expires', (c) => (c.serving.promotion.approvalTimeoutHours = 0), /serving.promotion.approvalTimeoutHours: got 0; allowed: a whole number of hours from 1 to 8760/],
    ['staging wait too short', (c) => (c.serving.promotion.stagingTimeoutMinutes = 5), /serving.promotion.stagingTimeoutMinutes: got 5; allowed: a whole number of minutes from 10 to 240/],
    [
      'promotion without the endpoints its functions call',
      (c) => (c.network.interfaceEndpoints = c.network.interfaceEndpoints.filter((e: string) => e !== 'cloudformation' && e !== 'states')),
      /serving.promotion: got .*; the promotion's functions call 'cloudformation', 'states' through interface endpoints: add them to network.interfaceEndpoints, or omit the promotion/,
    ],
    ['negative comparison margin', (c) => (c.training.qualityGate.againstProduction.margin = -1), /training.qualityGate.againstProduction.margin: got -1; allowed: a number >= 0, in the units of metricPath/],
    ['comparison confidence of 1', (c) => (c.training.qualityGate.againstProduction.confidence = 1), /training.qualityGate.againstProduction.confidence: got 1; allowed: a number from 0.5 up to \(not including\) 1/],
    ['guard that is no metric path', (c) => (c.training.qualityGate.againstProduction.guards = { max_disparity: 0.1 }), /training.qualityGate.againstProduction.guards.max_disparity: got "max_disparity"; allowed: <section>.<metric> as in evaluation.json/],
    ['negative guard tolerance', (c) => (c.training.qualityGate.againstProduction.guards = { 'fairness_metrics.max_disparity': -0.1 }), /training.qualityGate.againstProduction.guards.fairness_metrics.max_disparity: got -0.1; allowed: a tolerance >= 0/],
    ['Bedrock quiet period of zero', (c) => (c.bedrock.trigger.quietMinutes = 0), /bedrock.trigger.quietMinutes: got 0; allowed: a whole number of minutes from 1 to 1440/],
    ['isolated without required endpoints', (c) => (c.network.interfaceEndpoints = ['kms']), /isolated subnets \(natGateways 0\) need sagemaker-api, ecr-api, ecr-docker, logs, sts/],
    ['flow log retention', (c) => (c.network.flowLogRetentionDays = 45), /network.flowLogRetentionDays: got 45; allowed: one of 1, 3/],
    ['rotation period', (c) => (c.encryption.keyRotationPeriodDays = 30), /encryption.keyRotationPeriodDays: got 30; allowed: a whole number from 90 to 2560/],
    ['deletion window', (c) => (c.encryption.keyDeletionWindowDays = 31), /encryption.keyDeletionWindowDays: got 31; allowed: a whole number from 7 to 30/],
    ['bucket prefix characters', (c) => (c.storage.bucketNamePrefix = 'My_Prefix'), /storage.bucketNamePrefix: got "My_Prefix"; allowed: lower-case letters/],
    ['bucket prefix length', (c) => (c.storage.bucketNamePrefix = 'a-very-long-bucket-prefix'), /storage.bucketNamePrefix: .*too long: .*exceed S3's 63 characters; use at most \d+ characters/],
    ['lifecycle days', (c) => (c.storage.checkpointExpirationDays = 0), /storage.checkpointExpirationDays: got 0; allowed: a whole number of days >= 1/],
    ['audit log days', (c) => (c.storage.auditLogExpirationDays = 90), /storage.auditLogExpirationDays: got 90; audit logs must be kept at least 365 days/],
    ['no base models', (c) => (c.training.baseModels = []), /training.baseModels: got \[\]; list at least one/],
    ['base model id', (c) => (c.training.baseModels = ['llama']), /training.baseModels\[0\]: got "llama"; allowed: a Hugging Face id/],
    ['instance type', (c) => (c.training.trainingInstanceType = 'g5.2xlarge'), /training.trainingInstanceType: got "g5.2xlarge"; allowed: an instance type the SageMaker API accepts for training jobs \(TrainingInstanceType of @aws-sdk\/client-sagemaker\)/],
    ['training runtime', (c) => (c.training.maxRuntimeHours = 200), /training.maxRuntimeHours: got 200; allowed: a whole number of hours from 1 to 120/],
    ['quality gate task', (c) => (c.training.qualityGate.task = 'bleu'), /training.qualityGate.task: got "bleu"; allowed: perplexity, classification/],
    ['quality gate path', (c) => (c.training.qualityGate.metricPath = 'perplexity'), /training.qualityGate.metricPath: got "perplexity"; allowed: <section>.<metric>.value/],
    ['quality gate with both bounds', (c) => (c.training.qualityGate.minimum = 1), /training.qualityGate: got \{"minimum":1,"maximum":20\}; set exactly one of minimum and maximum/],
    ['quality gate without bounds', (c) => delete c.training.qualityGate.maximum, /training.qualityGate: .*set exactly one/],
    ['tuning objective', (c) => (c.training.tuning = tuning({ objectiveMetricName: 'accuracy' })), /training.tuning.objectiveMetricName: got "accuracy"; allowed: a logged metric, one of train_loss, eval_loss/],
    ['tuning objective type', (c) => (c.training.tuning = tuning({ objectiveType: 'Lower' })), /training.tuning.objectiveType: got "Lower"; allowed: Minimize, Maximize/],
    ['tuning job count', (c) => (c.training.tuning = tuning({ maxJobs: 0 })), /training.tuning.maxJobs: got 0; allowed: a whole number >= 1/],
    ['tuning parallel above total jobs', (c) => (c.training.tuning = tuning({ maxJobs: 4, maxParallelJobs: 5 })), /training.tuning.maxParallelJobs: got 5; allowed: at most training.tuning.maxJobs \(4\)/],
    ['tuning strategy', (c) => (c.training.tuning = tuning({ strategy: 'Grid' })), /training.tuning.strategy: got "Grid"; allowed: Bayesian, Random/],
    ['tuning learning rate not above 0', (c) => (c.training.tuning = tuning({ learningRate: { min: 0, max: 1e-4 } })), /training.tuning.learningRate: got \{"min":0,"max":0.0001\}; allowed: 0 < min < max \(searched on a log scale\)/],
    ['tuning range upside down', (c) => (c.training.tuning = tuning({ epochs: { min: 3, max: 1 } })), /training.tuning.epochs: got \{"min":3,"max":1\}; allowed: whole numbers 1 <= min <= max/],
    ['tuning values repeated', (c) => (c.training.tuning = tuning({ loraR: { values: [8, 8] } })), /training.tuning.loraR.values: got \[8,8\]; allowed: 1 to 30 distinct whole numbers >= 1/],
    ['tuning values empty', (c) => (c.training.tuning = tuning({ perDeviceTrainBatchSize: { values: [] } })), /training.tuning.perDeviceTrainBatchSize.values: got \[\]; allowed: 1 to 30 distinct whole numbers >= 1/],
    ['tuning neither range nor values', (c) => (c.training.tuning = tuning({ loraAlpha: { min: 16 } })), /training.tuning.loraAlpha: got \{"min":16\}; allowed: \{"min": <whole number>, "max": <whole number>\} or \{"values": \[<whole number>, ...\]\}/],
    ['tuning unknown key', (c) => (c.training.tuning = tuning({ maxJob: 3 })), /training.tuning.maxJob: unknown key; allowed: objectiveMetricName, objectiveType, maxJobs, maxParallelJobs, strategy, earlyStopping, learningRate, epochs, loraR, loraAlpha, perDeviceTrainBatchSize/],
    ['image override', (c) => (c.training.images = { training: 'my-image:latest' }), /training.images.training: got "my-image:latest"; allowed: an ECR image URI/],
    ['unknown bedrock model', (c) => (c.bedrock.defaults.baseModelId = 'Nova Micro'), /bedrock.defaults.baseModelId: got "Nova Micro"; allowed: amazon.nova-micro-v1:0:128k, .*, or add it in bedrock.extraModels/],
    ['customization type the model lacks', (c) => (c.bedrock.defaults.customizationType = 'CONTINUED_PRE_TRAINING'), /bedrock.defaults.customizationType: got "CONTINUED_PRE_TRAINING"; allowed for amazon.nova-micro-v1:0:128k: FINE_TUNING/],
    ['hyperparameter out of range', (c) => (c.bedrock.defaults.hyperParameters = { epochCount: 9 }), /bedrock.defaults.hyperParameters.epochCount: got 9; allowed for amazon.nova-micro-v1:0:128k: 1 to 5/],
    ['fractional epochs', (c) => (c.bedrock.defaults.hyperParameters = { epochCount: 1.5 }), /bedrock.defaults.hyperParameters.epochCount: got 1.5; allowed: an integer from 1 to 5/],
    ['hyperparameter the model lacks', (c) => (c.bedrock.defaults.hyperParameters = { batchSize: 8 }), /bedrock.defaults.hyperParameters.batchSize: got 8; not a hyperparameter of amazon.nova-micro-v1:0:128k; allowed: epochCount, learningRate, learningRateWarmupSteps/],
    ['more default units than allowed', (c) => (c.bedrock.defaults.provisionedModelUnits = 3), /bedrock.defaults.provisionedModelUnits: got 3; allowed: a whole number from 0 to bedrock.maxProvisionedModelUnits \(1\)/],
    ['evaluation records', (c) => (c.bedrock.defaults.maxEvaluationRecords = 0), /bedrock.defaults.maxEvaluationRecords: got 0; allowed: a whole number from 1 to 10000/],
    ['bedrock evaluation task', (c) => (c.bedrock.defaults.evaluationTask = 'perplexity'), /bedrock.defaults.evaluationTask: got "perplexity"; allowed: none, summarization, qa, classification/],
    ['throughput wait', (c) => (c.bedrock.throughputWaitMinutes = 1), /bedrock.throughputWaitMinutes: got 1; allowed: a whole number of minutes from 5 to 720/],
    ['guard age', (c) => (c.bedrock.throughputGuard.maxAgeHours = 0), /bedrock.throughputGuard.maxAgeHours: got 0; allowed: 1 to 2160 hours/],
    ['trigger outside processed data', (c) => (c.bedrock.trigger = { datasetPrefix: 'training-data/raw/bedrock/' }), /bedrock.trigger.datasetPrefix: got "training-data\/raw\/bedrock\/"; allowed: a folder under training-data\/processed\//],
    ['invocation log retention', (c) => (c.bedrock.invocationLogRetentionDays = 10), /bedrock.invocationLogRetentionDays: got 10; allowed: one of/],
    ['extra model of an unknown family', (c) => (c.bedrock.extraModels = { 'amazon.nova-2-lite-v1:0:256k': { family: 'nova2', hyperParameters: 'amazon-nova', customizationTypes: ['FINE_TUNING'] } }), /bedrock.extraModels.amazon.nova-2-lite-v1:0:256k.family: got "nova2"; allowed: amazon-nova, /],
    ['extra model with an unknown hyperparameter set', (c) => (c.bedrock.extraModels = { 'amazon.nova-2-lite-v1:0:256k': { family: 'amazon-nova', hyperParameters: 'nova2', customizationTypes: ['FINE_TUNING'] } }), /bedrock.extraModels.amazon.nova-2-lite-v1:0:256k.hyperParameters: got "nova2"; allowed: amazon-nova, /],
    ['serving container', (c) => (c.serving.container = 'triton'), /serving.container: got "triton"; allowed: lmi, tgi/],
    ['variant weights summing to 0', (c) => (c.serving.variants = [variant({ initialWeight: 0 }), variant({ name: 'b', initialWeight: 0 })]), /serving.variants: got \["a=0","b=0"\]; the initial weights must sum to more than 0/],
    ['negative weight', (c) => (c.serving.variants = [variant({ initialWeight: -1 })]), /serving.variants\[0\].initialWeight: got -1; allowed: a number >= 0/],
    ['min above max capacity', (c) => (c.serving.variants = [variant({ minInstances: 3, maxInstances: 2 })]), /serving.variants\[0\].maxInstances: got 2; allowed: a whole number >= minInstances \(3\)/],
    ['one instance where high availability is required', (c) => { c.serving.highAvailability = true; c.serving.variants = [variant({ minInstances: 1 })]; }, /serving.variants\[0\].minInstances: got 1; allowed: a whole number >= 2 \(serving.highAvailability keeps 2 instances per variant\)/],
    ['duplicate variant names', (c) => (c.serving.variants = [variant(), variant()]), /serving.variants\[1\].name: got "a"; variant names must be unique/],
    ['variant name characters', (c) => (c.serving.variants = [variant({ name: 'new model' })]), /serving.variants\[0\].name: got "new model"; allowed: 1-63 letters, digits and hyphens/],
    ['unversioned model package', (c) => (c.serving.variants = [variant({ modelPackageArn: 'arn:aws:sagemaker:us-east-1:111122223333:model-package-group/g' })]), /serving.variants\[0\].modelPackageArn: got "arn:aws:sagemaker:us-east-1:111122223333:model-package-group\/g"; allowed: a versioned model package ARN/],
    ['variant instance type', (c) => (c.serving.variants = [variant({ instanceType: 'g5.xlarge' })]), /serving.variants\[0\].instanceType: got "g5.xlarge"; allowed: an instance type the SageMaker API accepts for endpoints \(ProductionVariantInstanceType of @aws-sdk\/client-sagemaker\)/],
    ['staging instance type', (c) => (c.serving.stagingInstanceType = 'g5.xlarge'), /serving.stagingInstanceType: got "g5.xlarge"; allowed: an instance type the SageMaker API accepts for endpoints \(ProductionVariantInstanceType of @aws-sdk\/client-sagemaker\)/],
    ['data capture share', (c) => (c.serving.dataCapturePercent = 150), /serving.dataCapturePercent: got 150; allowed: a whole number from 0 to 100/],
    ['rollout mode', (c) => (c.serving.rollout.mode = 'all-at-once' as any), /serving.rollout.mode: got "all-at-once"; allowed: canary, linear/],
    ['rollout step', (c) => (c.serving.rollout.stepPercent = 80), /serving.rollout.stepPercent: got 80; allowed: a whole number from 1 to 50/],
    ['rollback error rate', (c) => (c.serving.rollout.maxErrorRatePercent = 0), /serving.rollout.maxErrorRatePercent: got 0/],
    ['scaling target', (c) => (c.serving.targetInvocationsPerInstance = 0), /serving.targetInvocationsPerInstance: got 0; allowed: a whole number from 1 to 100000/],
    ['batch size', (c) => (c.serving.batching.maxConcurrentRequests = 0), /serving.batching.maxConcurrentRequests: got 0/],
    ['token budget', (c) => (c.serving.batching.maxTotalTokens = 0), /serving.batching.maxTotalTokens: got 0; allowed: a whole number from 1 to 1048576/],
    ['serving image', (c) => (c.serving.imageUri = 'lmi:latest'), /serving.imageUri: got "lmi:latest"; allowed: an ECR image URI/],
    ['bake time', (c) => (c.serving.rollout.waitMinutes = 0), /serving.rollout.waitMinutes: got 0; allowed: a whole number from 1 to 60/],
    ['old fleet wait', (c) => (c.serving.rollout.terminationWaitMinutes = 90), /serving.rollout.terminationWaitMinutes: got 90; allowed: a whole number from 0 to 60/],
    ['latency threshold', (c) => (c.serving.rollout.maxP99LatencyMs = 0.5), /serving.rollout.maxP99LatencyMs: got 0.5; allowed: a whole number from 1 to 600000/],
    ['scale-in cooldown', (c) => (c.serving.scaleInCooldownSeconds = 0), /serving.scaleInCooldownSeconds: got 0/],
    ['too many variants', (c) => (c.serving.variants = Array.from({ length: 11 }, (_, i) => variant({ name: `v${i}` }))), /serving.variants: got 11; allowed: at most 10 production variants/],
    ['shared endpoint instance type', (c) => (c.serving.sharedEndpoint = shared({ instanceType: 'g5.12xlarge' })), /serving.sharedEndpoint.instanceType: got "g5.12xlarge"/],
    ['shared endpoint bounds', (c) => (c.serving.sharedEndpoint = shared({ minInstances: 3, maxInstances: 2 })), /serving.sharedEndpoint.maxInstances: got 2; allowed: a whole number >= minInstances \(3\)/],
    ['shared endpoint without models', (c) => (c.serving.sharedEndpoint = shared({ components: [] })), /serving.sharedEndpoint.components: got \[\]; list at least one model/],
    ['duplicate model names', (c) => (c.serving.sharedEndpoint = shared({ components: [component(), component()] })), /serving.sharedEndpoint.components\[1\].name: got "m"; component names must be unique/],
    ['trail retention', (c) => (c.audit.trailLogRetentionDays = 100), /audit.trailLogRetentionDays: got 100; allowed: one of/],
    ['alarm e-mail', (c) => (c.alarmEmail = 'ops'), /alarmEmail: got "ops"; allowed: an e-mail address/],
    ['budget alerts that do not increase', (c) => (c.cost.budgetAlerts.actualPercents = [100, 80]), /cost.budgetAlerts.actualPercents\[1\]: got 80; allowed: a percentage above the one before \(100\): the list increases/],
    ['a budget alert of 0 %', (c) => (c.cost.budgetAlerts.forecastPercents = [0]), /cost.budgetAlerts.forecastPercents\[0\]: got 0; allowed: a percentage above 0 and at most 1000/],
    ['more budget alerts than AWS Budgets allows', (c) => (c.cost.budgetAlerts = { forecastPercents: [10, 20, 30, 40, 50, 60], actualPercents: [10, 20, 30, 40, 50] }), /cost.budgetAlerts: got .*; 11 alerts; allowed: 1 to 10 in all/],
    ['no budget alert at all', (c) => (c.cost.budgetAlerts = { forecastPercents: [], actualPercents: [] }), /cost.budgetAlerts: got .*; 0 alerts; allowed: 1 to 10 in all/],
    ['idle endpoints that may not wait an hour', (c) => (c.cost.idleEndpoints.idleHours = 0), /cost.idleEndpoints.idleHours: got 0; allowed: a whole number of hours from 1 to 720/],
    ['an idle action that is not known', (c) => (c.cost.idleEndpoints.action = 'stop'), /cost.idleEndpoints.action: got "stop"; allowed: delete, report/],
    ['zero budget', (c) => (c.monthlyBudgetUsd = 0), /monthlyBudgetUsd: got 0; allowed: a number of US dollars > 0/],
    ['negative budget', (c) => (c.monthlyBudgetUsd = -5), /monthlyBudgetUsd: got -5/],
    ['reserved tag key', (c) => (c.tags['aws:owner'] = 'x'), /tags.aws:owner: got "aws:owner"; tag keys are 1-128 characters and may not start with aws:/],
    ['tag value characters', (c) => (c.tags.team = 'ml#1'), /tags.team: got "ml#1"; tag values are at most 256/],
  ])('rejects %s', (_name, change, message) => {
    expect(bad(change)).toThrow(ConfigValidationError);
    expect(bad(change)).toThrow(message);
  });

  test('NAT gateways add the public tier to the subnet fit check', () => {
    const ok = configWith(dev, (c) => (c.network.natGateways = 1));
    expect(findConfigProblems(ok)).toEqual([]);
    const crowded = configWith(dev, (c) => {
      c.network.natGateways = 2;
      c.network.subnetPrefixLengths = { training: 18, processing: 19, inference: 20, privatelink: 20, public: 17 };
    });
    expect(findConfigProblems(crowded).join('\n')).toMatch(/training, processing, inference, privatelink, public x 2 zones/);
  });
});

describe('bedrock models', () => {
  test('a model added in config can be the default, with its own ranges', () => {
    const config = configWith(ENVIRONMENTS.dev, (c) => {
      c.bedrock.extraModels = {
        'amazon.nova-2-lite-v1:0:256k': {
          family: 'amazon-nova',
          hyperParameters: { epochCount: { type: 'integer', min: 1, max: 3, default: 2 } },
          customizationTypes: ['FINE_TUNING'],
        },
      };
      c.bedrock.defaults.baseModelId = 'amazon.nova-2-lite-v1:0:256k';
      c.bedrock.defaults.hyperParameters = { epochCount: 3 };
    });
    expect(findConfigProblems(config)).toEqual([]);
    config.bedrock.defaults.hyperParameters.epochCount = 4;
    expect(findConfigProblems(config)).toEqual([
      'bedrock.defaults.hyperParameters.epochCount: got 4; allowed for amazon.nova-2-lite-v1:0:256k: 1 to 3',
    ]);
  });
});
