import { buildFineTuningPipeline, FineTuningPipelineProps } from '../../lib/pipeline/fine-tuning-pipeline';
import { baseProps, tuningOptions } from './fixtures';

/** `count` environment tags, plus fmft:environment when `withEnvironment` (what costTags(config) adds). */
const manyTags = (count: number, withEnvironment: boolean) => ({
  ...Object.fromEntries(Array.from({ length: count }, (_, i) => [`team-tag-${i}`, `value-${i}`])),
  ...(withEnvironment ? { 'fmft:environment': 'dev' } : {}),
});

const build = (change: (p: any) => void) => () => {
  const p: any = { ...baseProps(), tuning: undefined };
  change(p);
  return buildFineTuningPipeline(p as FineTuningPipelineProps);
};

describe('FineTuningPipeline props validation (one rule per test)', () => {
  const rules: [string, (p: any) => void, RegExp][] = [
    ['role ARN empty', (p) => (p.trainingRoleArn = ''), /trainingRoleArn must not be empty/],
    ['champion margin', (p) => (p.champion = { functionArn: 'arn:aws:lambda:us-east-1:111122223333:function:f', margin: -0.1, confidence: 0.95 }), /champion.margin must be a number >= 0, got -0.1/],
    ['champion confidence', (p) => (p.champion = { functionArn: 'arn:aws:lambda:us-east-1:111122223333:function:f', margin: 0, confidence: 1 }), /champion.confidence must be from 0.5 up to \(not including\) 1, got 1/],
    ['champion guard name', (p) => (p.champion = { functionArn: 'arn:aws:lambda:us-east-1:111122223333:function:f', margin: 0, confidence: 0.9, guards: { max_disparity: 0.1 } }), /champion.guards: 'max_disparity' must be <section>.<metric>/],
    ['champion function', (p) => (p.champion = { functionArn: '', margin: 0, confidence: 0.9 }), /champion.functionArn must not be empty/],
    ['role ARN not a role', (p) => (p.processingRoleArn = 'arn:aws:iam::111122223333:user/x'), /processingRoleArn must be an IAM role ARN/],
    ['image empty', (p) => (p.trainingImageUri = ''), /trainingImageUri must not be empty/],
    ['no inference instance types', (p) => (p.inference = { ...p.inference, instanceTypes: [] }), /inference.instanceTypes must not be empty/],
    ['empty training subnets', (p) => (p.trainingNetwork = { ...p.trainingNetwork, subnetIds: [] }), /trainingNetwork.subnetIds must not be empty/],
    ['empty processing security groups', (p) => (p.processingNetwork = { ...p.processingNetwork, securityGroupIds: [] }), /processingNetwork.securityGroupIds must not be empty/],
    ['volume KMS key empty', (p) => (p.volumeKmsKeyId = ''), /volumeKmsKeyId must not be empty/],
    ['output KMS key empty', (p) => (p.outputKmsKeyId = ' '), /outputKmsKeyId must not be empty/],
    ['storage URI without trailing slash', (p) => (p.storage = { ...p.storage, checkpoints: 's3://bucket-name/models/checkpoints' }), /storage.checkpoints must be an S3 prefix URI ending with '\/'/],
    ['code archive URI', (p) => (p.code = { ...p.code, archiveS3Uri: 's3://bucket-name/code/code.zip' }), /code.archiveS3Uri must be an S3 URI ending with '\/sourcedir.tar.gz'/],
    ['code archive file name', (p) => (p.code = { ...p.code, archiveFileName: 'code.zip' }), /code.archiveFileName must be a gzipped tar file name \(.tar.gz, .tgz or .gz\), got 'code.zip'/],
    ['code URI not ending with the archive name', (p) => (p.code = { ...p.code, archiveFileName: 'abc.gz' }), /code.archiveS3Uri must be an S3 URI ending with '\/abc.gz'/],
    ['launcher file name', (p) => (p.code = { ...p.code, launcherFileName: 'run.sh' }), /code.launcherFileName must be a Python file name \(.py\), got 'run.sh'/],
    ['launcher URI not ending with its name', (p) => (p.code = { ...p.code, launcherS3Uri: 's3://bucket-name/code/other.py' }), /code.launcherS3Uri must be an S3 URI ending with '\/run_module.py'/],
    ['base model not on S3', (p) => (p.defaults = { ...p.defaults, baseModelUri: 'meta-llama/Llama-3.1-8B' }), /defaults.baseModelUri must be an S3 URI/],
    ['instance type', (p) => (p.processingInstanceType = 'm5.large'), /processingInstanceType must be a SageMaker instance type/],
    ['instance count', (p) => (p.defaults = { ...p.defaults, instanceCount: 0 }), /defaults.instanceCount must be a positive integer/],
    ['epochs', (p) => (p.defaults = { ...p.defaults, epochs: 1.5 }), /defaults.epochs must be a positive integer/],
    ['learning rate', (p) => (p.defaults = { ...p.defaults, learningRate: 0 }), /defaults.learningRate must be a number above 0/],
    ['training runtime above 28 days', (p) => (p.trainingMaxRuntimeSeconds = 30 * 86400), /trainingMaxRuntimeSeconds must be at most 2419200/],
    ['processing runtime above 7 days', (p) => (p.processingMaxRuntimeSeconds = 8 * 86400), /processingMaxRuntimeSeconds must be at most 604800/],
    ['MaxWait < MaxRuntime', (p) => (p.spotMaxWaitSeconds = 3600), /spotMaxWaitSeconds \(3600\) must be at least trainingMaxRuntimeSeconds \(86400\)/],
    ['MaxWait without spot', (p) => ((p.spot = false), (p.spotMaxWaitSeconds = 200000)), /spotMaxWaitSeconds is only valid with spot training/],
    ['no metric definitions', (p) => (p.metricDefinitions = []), /metricDefinitions must not be empty/],
    ['duplicate metric name', (p) => (p.metricDefinitions = [...p.metricDefinitions, p.metricDefinitions[0]]), /duplicate name 'train_loss'/],
    ['metric regex without group', (p) => (p.metricDefinitions = [{ name: 'loss', regex: 'loss=[0-9.]+' }]), /regex must capture the value in a group/],
    ['metric regex does not compile', (p) => (p.metricDefinitions = [{ name: 'loss', regex: 'loss=([0-9.]+' }]), /regex does not compile/],
    ['threshold not a number', (p) => (p.evaluation = { ...p.evaluation, maximum: Number.NaN }), /evaluation.maximum must be a finite number/],
    ['threshold given twice', (p) => (p.evaluation = { ...p.evaluation, minimum: 1 }), /give exactly one of minimum and maximum/],
    ['metric path', (p) => (p.evaluation = { ...p.evaluation, metricPath: '$.metrics[0]' }), /evaluation.metricPath must be a dotted path/],
    ['model package group name', (p) => (p.modelPackageGroupName = 'bad_name!'), /modelPackageGroupName must be 1-63 letters/],
    ['split ratios', (p) => (p.dataPreparation = { splitRatios: [0.9, 0.1, 0] }), /splitRatios must be three fractions above 0 summing to 1/],
    ['seed', (p) => (p.dataPreparation = { seed: -1 }), /dataPreparation.seed must be an integer/],
    ['data target', (p) => (p.dataPreparation = { target: 'chat; rm -rf /' }), /dataPreparation.target must be lower-case/],
    ['entry point', (p) => (p.trainingEntryPoint = 'train.py && curl x'), /trainingEntryPoint must be a relative path/],
    ['reserved hyperparameter', (p) => (p.extraHyperparameters = { learning_rate: '1' }), /extraHyperparameters must not set 'learning_rate'/],
    ['tuning: max parallel > max jobs', (p) => (p.tuning = { ...tuningOptions, maxParallelJobs: 20 }), /tuning.maxParallelJobs \(20\) must not exceed tuning.maxJobs \(12\)/],
    ['tuning: max jobs', (p) => (p.tuning = { ...tuningOptions, maxJobs: 0, maxParallelJobs: 0 }), /tuning.maxJobs must be a positive integer/],
    ['tuning: objective not a metric', (p) => (p.tuning = { ...tuningOptions, objectiveMetricName: 'accuracy' }), /objectiveMetricName 'accuracy' is not in metricDefinitions/],
    ['tuning: learning rate range', (p) => (p.tuning = { ...tuningOptions, learningRate: { min: 0, max: 1e-4 } }), /tuning.learningRate needs 0 < min < max/],
    ['tuning: integer range', (p) => (p.tuning = { ...tuningOptions, epochs: { min: 3, max: 1 } }), /tuning.epochs needs integers 1 <= min <= max/],
    ['tuning: empty categorical', (p) => (p.tuning = { ...tuningOptions, perDeviceTrainBatchSize: { values: [] } }), /tuning.perDeviceTrainBatchSize.values must not be empty/],
    ['tuning: repeated categorical', (p) => (p.tuning = { ...tuningOptions, loraR: { values: [8, 8] } }), /tuning.loraR.values must be distinct/],
    ['retry policy over the service limit (checked by the builder)', (p) => (p.retryPolicies = [{ exceptionTypes: ['SageMaker.CAPACITY_ERROR'], maxAttempts: 50 }]), /step 'PrepareData': retry policy 1: maxAttempts must be an integer from 1 to 20, got 50/],
    ['49 environment tags: with fmft:environment, fmft:workflow and fmft:execution every job would carry 52', (p) => (p.costTags = manyTags(49, true)),
      /costTags \(the environment's tags and fmft:environment\) has 50 tags; with fmft:workflow and fmft:execution every job would carry 52, and SageMaker allows at most 50 per job: give at most 48 \(remove 2 from the environment config's `tags`\)/],
    ['a cost tag that the run sets', (p) => (p.costTags = { ...p.costTags, 'fmft:execution': 'x' }), /costTags must not set 'fmft:execution': the pipeline sets it for each run/],
    ['a cost tag key the API refuses', (p) => (p.costTags = { ...p.costTags, 'cost#center': 'x' }), /costTags: key 'cost#center' must be 1-128 letters/],
    ['a cost tag value too long', (p) => (p.costTags = { ...p.costTags, owner: 'x'.repeat(257) }), /costTags: value of 'owner' must be at most 256/],
  ];
  test.each(rules)('%s', (_name, change, message) => {
    expect(build(change)).toThrow(message);
  });

  test('every problem is reported at once', () => {
    expect(build((p) => ((p.volumeKmsKeyId = ''), (p.trainingNetwork = { subnetIds: [], securityGroupIds: [] }))))
      .toThrow(/Invalid FineTuningPipeline props:\n- volumeKmsKeyId must not be empty\n- trainingNetwork.subnetIds must not be empty\n- trainingNetwork.securityGroupIds must not be empty/);
  });

  test('valid props build', () => {
    expect(build(() => undefined)).not.toThrow();
  });

  test('47 environment tags build: with fmft:environment and the two run tags every job carries exactly 50', () => {
    const def: any = build((p) => (p.costTags = manyTags(47, true)))();
    const prepare = def.Steps.find((s: any) => s.Name === 'PrepareData');
    expect(prepare.Arguments.Tags).toHaveLength(50);
  });
});
