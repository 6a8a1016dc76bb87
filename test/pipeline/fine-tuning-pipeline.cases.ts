import { Stack, Token } from 'aws-cdk-lib';
import {
  buildFineTuningPipeline,
  DEFAULT_JOB_RETRY_POLICIES,
  FINE_TUNING_STEP_NAMES as N,
} from '../../lib/pipeline/fine-tuning-pipeline';
import { CHAMPION_BETTER_PATH, CHAMPION_OUTPUTS, MAX_DISPARITY_PATH } from '../../lib/pipeline/fine-tuning-pipeline';
import { COST_TAG_KEYS } from '../../lib/config/cost-tags';
import { allSteps, baseProps, tuningOptions } from './fixtures';

const props = baseProps();
const trainingDef = JSON.parse(JSON.stringify(buildFineTuningPipeline(props)));
const tuningDef = JSON.parse(JSON.stringify(buildFineTuningPipeline({ ...props, tuning: tuningOptions })));
const onDemandDef = JSON.parse(JSON.stringify(buildFineTuningPipeline({ ...props, spot: false })));
const step = (def: any, name: string) => allSteps(def).find((s) => s.Name === name);
const expectedRetries = DEFAULT_JOB_RETRY_POLICIES.map((p) => ({
  ExceptionType: [...p.exceptionTypes],
  IntervalSeconds: p.intervalSeconds,
  BackoffRate: p.backoffRate,
  MaxAttempts: p.maxAttempts,
}));

/** Each SageMaker job of a definition with the fields the security checks need, whatever the step type. */
function jobsOf(def: any) {
  return allSteps(def).flatMap((s) => {
    if (s.Type === 'Processing') {
      const a = s.Arguments;
      return [{ step: s, vpc: a.NetworkConfig.VpcConfig, isolation: a.NetworkConfig.EnableNetworkIsolation, encryption: a.NetworkConfig.EnableInterContainerTrafficEncryption, volumeKms: a.ProcessingResources.ClusterConfig.VolumeKmsKeyId, outputKms: a.ProcessingOutputConfig.KmsKeyId, stopping: a.StoppingCondition }];
    }
    const a = s.Type === 'Training' ? s.Arguments : s.Type === 'Tuning' ? s.Arguments.TrainingJobDefinition : undefined;
    if (!a) return [];
    return [{ step: s, vpc: a.VpcConfig, isolation: a.EnableNetworkIsolation, encryption: a.EnableInterContainerTrafficEncryption, volumeKms: a.ResourceConfig.VolumeKmsKeyId, outputKms: a.OutputDataConfig.KmsKeyId, stopping: a.StoppingCondition, training: a }];
  });
}

describe.each([
  ['training', trainingDef, ['PrepareData', 'FineTune', 'EvaluateModel']],
  ['tuning', tuningDef, ['PrepareData', 'TuneHyperparameters', 'EvaluateModel']],
  ['on-demand training', onDemandDef, ['PrepareData', 'FineTune', 'EvaluateModel']],
])('every job of the %s pipeline', (_name, def, expectedJobs) => {
  const jobs = jobsOf(def);
  test('is one of the expected jobs', () => expect(jobs.map((j) => j.step.Name)).toEqual(expectedJobs));
  test.each(jobs.map((j) => [j.step.Name, j] as const))('%s runs in the VPC, isolated, encrypted, bounded and retried', (_n, job) => {
    const isTraining = job.step.Type !== 'Processing';
    const network = isTraining ? props.trainingNetwork : props.processingNetwork;
    expect(job.vpc).toEqual({ Subnets: network.subnetIds, SecurityGroupIds: network.securityGroupIds });
    expect(job.isolation).toBe(true);
    expect(job.encryption).toBe(true);
    expect(job.volumeKms).toBe(props.volumeKmsKeyId);
    expect(job.outputKms).toBe(props.outputKmsKeyId);
    expect(job.stopping.MaxRuntimeInSeconds).toBe(isTraining ? 86400 : 14400);
    expect(job.step.RetryPolicies).toEqual(expectedRetries);
  });
});

describe('cost tags', () => {
  // costTags(config), then the pipeline's name and the execution id, read from the running execution.
  const expectedTags = [
    ...Object.entries(props.costTags).map(([Key, Value]) => ({ Key, Value })),
    { Key: COST_TAG_KEYS.workflow, Value: { Get: 'Execution.PipelineName' } },
    { Key: COST_TAG_KEYS.execution, Value: { Get: 'Execution.PipelineExecutionId' } },
  ];
  const everything = JSON.parse(JSON.stringify(buildFineTuningPipeline({
    ...props,
    explain: { samples: 4, method: 'occlusion' },
    champion: { functionArn: 'arn:aws:lambda:eu-west-1:111122223333:function:find', margin: 0, confidence: 0.95 },
  })));
  const variants: [string, any][] = [['training', trainingDef], ['tuning', tuningDef], ['on-demand', onDemandDef], ['explained, against production', everything]];
  const jobSteps = (def: any) => allSteps(def).filter((s) => ['Processing', 'Training', 'Tuning'].includes(s.Type));

  test.each(variants)('%s: every job step carries every cost tag key once, the run ones as execution variables', (_n, def) => {
    const steps = jobSteps(def);
    expect(steps.length).toBeGreaterThanOrEqual(3);
    for (const s of steps) {
      expect({ step: s.Name, tags: s.Arguments.Tags }).toEqual({ step: s.Name, tags: expectedTags });
      const keys = s.Arguments.Tags.map((t: any) => t.Key);
      expect(new Set(keys).size).toBe(keys.length);
      expect(keys).toEqual(expect.arrayContaining([COST_TAG_KEYS.environment, COST_TAG_KEYS.workflow, COST_TAG_KEYS.execution]));
    }
  });

  test('the explain step is among the tagged jobs', () => {
    expect(jobSteps(everything).map((s) => s.Name)).toEqual([N.prepareData, N.train, N.evaluate, N.explain]);
  });

  test("tuning: the tags sit on the tuning job, which copies them to its training jobs; the TrainingJobDefinition has no Tags member", () => {
    const tune = step(tuningDef, N.tune).Arguments;
    expect(tune.Tags).toEqual(expectedTags);
    expect(tune.TrainingJobDefinition.Tags).toBeUndefined();
  });

  test.each(variants)('%s: RegisterModel carries no Tags (a versioned package takes its group\'s) and names its run in the metadata', (_n, def) => {
    const register = step(def, N.register).Arguments;
    expect(register.Tags).toBeUndefined();
    expect(register.CustomerMetadataProperties.pipeline_execution).toEqual({ Get: 'Execution.PipelineExecutionId' });
  });
});

describe('spot training', () => {
  test.each([
    ['training', step(trainingDef, N.train).Arguments],
    ['tuning', step(tuningDef, N.tune).Arguments.TrainingJobDefinition],
  ])('%s: spot on, MaxWait >= MaxRuntime, checkpoints under the execution', (_n, job: any) => {
    expect(job.EnableManagedSpotTraining).toBe(true);
    expect(job.StoppingCondition.MaxWaitTimeInSeconds).toBe(2 * 86400);
    expect(job.StoppingCondition.MaxWaitTimeInSeconds).toBeGreaterThanOrEqual(job.StoppingCondition.MaxRuntimeInSeconds);
    expect(job.CheckpointConfig).toEqual({
      S3Uri: { 'Std:Join': { On: '', Values: [props.storage.checkpoints, { Get: 'Execution.PipelineExecutionId' }] } },
      LocalPath: '/opt/ml/checkpoints',
    });
  });

  test('on-demand: spot off and no MaxWaitTimeInSeconds (the API rejects it without spot)', () => {
    const job = step(onDemandDef, N.train).Arguments;
    expect(job.EnableManagedSpotTraining).toBe(false);
    expect(job.StoppingCondition).toEqual({ MaxRuntimeInSeconds: 86400 });
  });

  test('a custom max wait is used', () => {
    const def: any = buildFineTuningPipeline({ ...props, spotMaxWaitSeconds: 100000 });
    expect(step(def, N.train).Arguments.StoppingCondition.MaxWaitTimeInSeconds).toBe(100000);
  });
});

describe('steps and data flow', () => {
  test('top-level order, and dependencies come from references only (no DependsOn)', () => {
    expect(trainingDef.Steps.map((s: any) => s.Name)).toEqual([N.prepareData, N.train, N.evaluate, N.qualityGate]);
    for (const s of allSteps(trainingDef)) expect(s.DependsOn).toBeUndefined();
  });

  test('every processing job starts a module of the code archive through the launcher: no inline script', () => {
    for (const name of [N.prepareData, N.evaluate]) {
      const a = step(trainingDef, name).Arguments;
      expect(a.AppSpecification.ContainerEntrypoint).toEqual(['python3', '/opt/ml/processing/input/launcher/run_module.py']);
      expect(a.AppSpecification.ContainerArguments[0]).toBe('/opt/ml/processing/input/code/sourcedir.tar.gz');
      const inputs = Object.fromEntries(a.ProcessingInputs.map((i: any) => [i.InputName, i.S3Input]));
      expect(inputs.code).toMatchObject({ S3Uri: props.code.archiveS3Uri, LocalPath: '/opt/ml/processing/input/code' });
      expect(inputs.launcher).toMatchObject({ S3Uri: props.code.launcherS3Uri, LocalPath: '/opt/ml/processing/input/launcher' });
      for (const text of [...a.AppSpecification.ContainerEntrypoint, ...a.AppSpecification.ContainerArguments]) {
        expect(text).not.toMatch(/[\n;&|]/);
      }
    }
  });

  test('the preparation job runs `training.data prepare` with the target, ratios and seed', () => {
    const args = step(trainingDef, N.prepareData).Arguments.AppSpecification.ContainerArguments;
    expect(args.slice(1)).toEqual([
      'training.data', 'prepare',
      '--input', '/opt/ml/processing/input/raw',
      '--output-dir', '/opt/ml/processing/output',
      '--target', 'chat',
      '--ratios', '0.8', '0.1', '0.1',
      '--seed', '42',
    ]);
    const outputs = step(trainingDef, N.prepareData).Arguments.ProcessingOutputConfig.Outputs.map((o: any) => o.S3Output.LocalPath);
    expect(outputs).toEqual([
      '/opt/ml/processing/output/train',
      '/opt/ml/processing/output/validation',
      '/opt/ml/processing/output/test',
      '/opt/ml/processing/output/baseline',
    ]);
  });

  test('the registered version carries the baseline profile of its training split for the capture monitor', () => {
    for (const def of [trainingDef, tuningDef]) {
      expect(step(def, N.register).Arguments.DriftCheckBaselines).toEqual({
        ModelDataQuality: {
          Statistics: {
            ContentType: 'application/json',
            S3Uri: { 'Std:Join': { On: '/', Values: [{ Get: "Steps.PrepareData.ProcessingOutputConfig.Outputs['baseline'].S3Output.S3Uri" }, 'baseline.json'] } },
          },
        },
      });
    }
  });

  test('a model family is passed to preparation', () => {
    const def: any = buildFineTuningPipeline({ ...props, dataPreparation: { target: 'bedrock', modelFamily: 'amazon-nova' } });
    const args: string[] = step(def, N.prepareData).Arguments.AppSpecification.ContainerArguments;
    expect(args.slice(args.indexOf('--target'), args.indexOf('--ratios'))).toEqual(['--target', 'bedrock', '--model-family', 'amazon-nova']);
  });

  test('training reads the prepared splits, base model and code as channels; hyperparameters follow the HF DLC convention', () => {
    const a = step(trainingDef, N.train).Arguments;
    const channels = Object.fromEntries(a.InputDataConfig.map((c: any) => [c.ChannelName, c.DataSource.S3DataSource.S3Uri]));
    expect(channels).toEqual({
      train: { Get: "Steps.PrepareData.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri" },
      validation: { Get: "Steps.PrepareData.ProcessingOutputConfig.Outputs['validation'].S3Output.S3Uri" },
      model: { Get: 'Parameters.BaseModel' },
      code: props.code.archiveS3Uri,
    });
    expect(a.HyperParameters).toEqual({
      sagemaker_program: 'training/train/launch.py',
      sagemaker_submit_directory: '/opt/ml/input/data/code/sourcedir.tar.gz',
      num_train_epochs: { 'Std:Join': { On: '', Values: [{ Get: 'Parameters.Epochs' }] } },
      learning_rate: { 'Std:Join': { On: '', Values: [{ Get: 'Parameters.LearningRate' }] } },
      lora_r: { 'Std:Join': { On: '', Values: [{ Get: 'Parameters.LoraRank' }] } },
    });
    expect(a.ResourceConfig.InstanceType).toEqual({ Get: 'Parameters.TrainingInstanceType' });
    expect(a.ResourceConfig.InstanceCount).toEqual({ Get: 'Parameters.TrainingInstanceCount' });
    expect(a.AlgorithmSpecification.MetricDefinitions.map((m: any) => m.Name)).toEqual(props.metricDefinitions.map((m) => m.name));
  });

  test('parameters: training mode declares all seven; tuning mode only those it reads', () => {
    expect(trainingDef.Parameters.map((p: any) => p.Name)).toEqual(['BaseModel', 'InputDataUri', 'TrainingInstanceType', 'TrainingInstanceCount', 'Epochs', 'LearningRate', 'LoraRank']);
    expect(tuningDef.Parameters.map((p: any) => p.Name)).toEqual(['BaseModel', 'InputDataUri', 'TrainingInstanceType', 'TrainingInstanceCount']);
    expect(trainingDef.Parameters.find((p: any) => p.Name === 'InputDataUri').DefaultValue).toBe(props.storage.rawData);
  });

  test('tuning: Bayesian, early stopping Auto, log-scale learning rate, integer and categorical ranges', () => {
    const c = step(tuningDef, N.tune).Arguments.HyperParameterTuningJobConfig;
    expect(c.Strategy).toBe('Bayesian');
    expect(c.TrainingJobEarlyStoppingType).toBe('Auto');
    expect(c.HyperParameterTuningJobObjective).toEqual({ Type: 'Minimize', MetricName: 'eval_loss' });
    expect(c.ResourceLimits).toEqual({ MaxNumberOfTrainingJobs: 12, MaxParallelTrainingJobs: 3 });
    expect(c.ParameterRanges.ContinuousParameterRanges).toEqual([{ Name: 'learning_rate', MinValue: '0.00001', MaxValue: '0.0005', ScalingType: 'Logarithmic' }]);
    expect(c.ParameterRanges.IntegerParameterRanges.map((r: any) => r.Name)).toEqual(['num_train_epochs', 'lora_alpha']);
    expect(c.ParameterRanges.CategoricalParameterRanges).toEqual([
      { Name: 'lora_r', Values: ['8', '16', '32'] },
      { Name: 'per_device_train_batch_size', Values: ['1', '2', '4'] },
    ]);
  });

  test('metrics time series is a training job option: set for training, absent from the tuning definition (CreateHyperParameterTuningJob rejects it)', () => {
    expect(step(trainingDef, N.train).Arguments.AlgorithmSpecification.EnableSageMakerMetricsTimeSeries).toBe(true);
    const spec = step(tuningDef, N.tune).Arguments.TrainingJobDefinition.AlgorithmSpecification;
    expect(Object.keys(spec).sort()).toEqual(['MetricDefinitions', 'TrainingImage', 'TrainingInputMode']);
  });

  test('tuning: evaluation and registration read the best training job artifact', () => {
    const best = {
      'Std:Join': {
        On: '',
        Values: [props.storage.finalModels, { Get: 'Execution.PipelineExecutionId' }, '/', { Get: 'Steps.TuneHyperparameters.BestTrainingJob.TrainingJobName' }, '/', 'output', '/', 'model.tar.gz'],
      },
    };
    const model = step(tuningDef, N.evaluate).Arguments.ProcessingInputs.find((i: any) => i.InputName === 'model');
    expect(model.S3Input.S3Uri).toEqual(best);
    expect(step(tuningDef, N.register).Arguments.InferenceSpecification.Containers[0].ModelDataUrl).toEqual(best);
  });

  test('evaluation writes evaluation.json under the reports prefix and declares it as a property file', () => {
    const s = step(trainingDef, N.evaluate);
    expect(s.PropertyFiles).toEqual([{ PropertyFileName: 'EvaluationReport', OutputName: 'evaluation', FilePath: 'evaluation.json' }]);
    const out = s.Arguments.ProcessingOutputConfig.Outputs[0];
    expect(out.S3Output.LocalPath).toBe('/opt/ml/processing/output/evaluation');
    expect(out.S3Output.S3Uri).toEqual({ 'Std:Join': { On: '', Values: [props.storage.evaluationReports, { Get: 'Execution.PipelineExecutionId' }] } });
    expect(s.Arguments.AppSpecification.ContainerArguments.slice(1)).toEqual([
      'training.evaluate', 'model',
      '--task', 'perplexity',
      '--model', '/opt/ml/processing/input/model/model.tar.gz',
      '--data', '/opt/ml/processing/input/test/test.jsonl',
      '--output-dir', '/opt/ml/processing/output/evaluation',
      '--work-dir', '/opt/ml/processing/work',
      '--device', 'cpu',
      '--max-new-tokens', '64',
    ]);
  });

  test('the gate compares the JsonGet metric with the threshold; register pending approval, else fail naming metric, value and threshold', () => {
    const gate = step(trainingDef, N.qualityGate);
    const metric = { 'Std:JsonGet': { PropertyFile: { Get: 'Steps.EvaluateModel.PropertyFiles.EvaluationReport' }, Path: 'generation_metrics.perplexity.value' } };
    expect(gate.Arguments.Conditions).toEqual([{ Type: 'LessThanOrEqualTo', LeftValue: metric, RightValue: 12 }]);
    const register = gate.Arguments.IfSteps[0];
    expect(register.Type).toBe('RegisterModel');
    expect(register.Arguments.ModelApprovalStatus).toBe('PendingManualApproval');
    expect(register.Arguments.ModelPackageGroupName).toBe('fine-tuning-dev');
    expect(register.Arguments.ModelMetrics.ModelQuality.Statistics).toEqual({
      ContentType: 'application/json',
      S3Uri: { 'Std:Join': { On: '/', Values: [{ Get: "Steps.EvaluateModel.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri" }, 'evaluation.json'] } },
    });
    expect(register.RetryPolicies).toEqual(expectedRetries);
    const fail = gate.Arguments.ElseSteps[0];
    expect(fail.Type).toBe('Fail');
    expect(fail.Arguments.ErrorMessage).toEqual({
      'Std:Join': { On: ' ', Values: ['Model quality gate failed:', 'generation_metrics.perplexity.value', '=', metric, '(maximum', '12)'] },
    });
    expect(register.Arguments.ModelMetrics.Bias).toBeUndefined();
    expect(gate.Arguments.Conditions).toHaveLength(1);
  });

  test('with protected attributes they travel through preparation and evaluation, and a maximum disparity joins the gate', () => {
    const def: any = buildFineTuningPipeline({ ...props, evaluation: { ...props.evaluation, protectedAttributes: ['gender', 'age_band'], maxDisparity: 0.1 } });
    for (const name of [N.prepareData, N.evaluate]) {
      const args: string[] = step(def, name).Arguments.AppSpecification.ContainerArguments;
      expect(args.slice(args.indexOf('--protected-attributes'))).toEqual(['--protected-attributes', 'gender', 'age_band']);
    }
    const gate = step(def, N.qualityGate);
    const disparity = { 'Std:JsonGet': { PropertyFile: { Get: 'Steps.EvaluateModel.PropertyFiles.EvaluationReport' }, Path: MAX_DISPARITY_PATH } };
    expect(gate.Arguments.Conditions[1]).toEqual({ Type: 'LessThanOrEqualTo', LeftValue: disparity, RightValue: 0.1 });
    expect(step(def, N.fail).Arguments.ErrorMessage['Std:Join'].Values).toEqual(expect.arrayContaining([MAX_DISPARITY_PATH, disparity, '(maximum 0.1)']));
    const register = gate.Arguments.IfSteps[0];
    expect(register.Arguments.ModelMetrics.Bias.Report.S3Uri).toEqual(register.Arguments.ModelMetrics.ModelQuality.Statistics.S3Uri);
  });

  test('with explain options a step attributes test prompts and the version carries its report as explainability', () => {
    const def: any = buildFineTuningPipeline({ ...props, explain: { samples: 8, method: 'occlusion' } });
    const explain = step(def, N.explain);
    const args: string[] = explain.Arguments.AppSpecification.ContainerArguments;
    expect(args.slice(1, 3)).toEqual(['training.explain', '--model']);
    expect(args.slice(args.indexOf('--samples'))).toEqual(['--samples', '8', '--method', 'occlusion', '--device', 'cpu']);
    expect(explain.Arguments.NetworkConfig.EnableNetworkIsolation).toBe(true);
    const inputs = Object.fromEntries(explain.Arguments.ProcessingInputs.map((i: any) => [i.InputName, i.S3Input.S3Uri]));
    expect(inputs.test).toEqual({ Get: "Steps.PrepareData.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri" });
    expect(inputs.model).toEqual({ Get: 'Steps.FineTune.ModelArtifacts.S3ModelArtifacts' });
    const register = step(def, N.qualityGate).Arguments.IfSteps[0];
    expect(register.Arguments.ModelMetrics.Explainability.Report.S3Uri).toEqual({
      'Std:Join': { On: '/', Values: [{ Get: "Steps.ExplainModel.ProcessingOutputConfig.Outputs['explanations'].S3Output.S3Uri" }, 'explanations.json'] },
    });
    expect(step(trainingDef, N.qualityGate).Arguments.IfSteps[0].Arguments.ModelMetrics.Explainability).toBeUndefined();
    expect(() => buildFineTuningPipeline({ ...props, explain: { samples: 0, method: 'occlusion' } })).toThrow(/explain\.samples must be a whole number from 1 to 64, got 0/);
  });

  test.each<[string, object, RegExp]>([
    ['a disparity bound without attributes', { maxDisparity: 0.1 }, /evaluation\.maxDisparity needs evaluation\.protectedAttributes/],
    ['an attribute that is no field name', { protectedAttributes: ['age band'] }, /evaluation\.protectedAttributes\[0\] must be a field name/],
    ['a repeated attribute', { protectedAttributes: ['a', 'a'] }, /must not repeat a name/],
    ['a bound of zero', { protectedAttributes: ['a'], maxDisparity: 0 }, /evaluation\.maxDisparity must be a number > 0, got 0/],
  ])('%s is refused', (_name, change, message) => {
    expect(() => buildFineTuningPipeline({ ...props, evaluation: { ...props.evaluation, ...change } })).toThrow(message);
  });

  test('against production: a Lambda step finds the version, evaluation scores both on the same records, the gate requires better, the version names what it beat', () => {
    const functionArn = 'arn:aws:lambda:us-east-1:111122223333:function:find';
    const def: any = buildFineTuningPipeline({ ...props, champion: { functionArn, margin: 0.5, confidence: 0.9, guards: { 'fairness_metrics.max_disparity': 0.02 } } });
    expect(def.Steps.map((s: any) => s.Name)).toEqual([N.prepareData, N.train, N.findChampion, N.evaluate, N.qualityGate]);
    const find = step(def, N.findChampion);
    expect(find).toEqual({
      Name: N.findChampion,
      Type: 'Lambda',
      Description: expect.any(String),
      FunctionArn: functionArn,
      Arguments: { modelPackageGroupName: 'fine-tuning-dev', candidateModelUri: { Get: 'Steps.FineTune.ModelArtifacts.S3ModelArtifacts' } },
      OutputParameters: CHAMPION_OUTPUTS.map((OutputName) => ({ OutputName, OutputType: 'String' })),
    });
    const output = (name: string) => ({ Get: `Steps.${N.findChampion}.OutputParameters['${name}']` });
    const evaluate = step(def, N.evaluate).Arguments;
    const args: any[] = evaluate.AppSpecification.ContainerArguments;
    expect(args.slice(args.indexOf('--champion-model'))).toEqual([
      '--champion-model', '/opt/ml/processing/input/champion',
      '--champion-present', output('hasChampion'),
      '--champion-name', output('championModelPackageArn'),
      '--primary-metric', 'generation_metrics.perplexity',
      '--margin', '0.5',
      '--confidence', '0.9',
      '--guards', 'fairness_metrics.max_disparity=0.02',
    ]);
    const inputs = Object.fromEntries(evaluate.ProcessingInputs.map((i: any) => [i.InputName, i.S3Input]));
    expect(inputs.champion).toMatchObject({ S3Uri: output('championModelDataUrl'), LocalPath: '/opt/ml/processing/input/champion' });
    expect(evaluate.NetworkConfig.EnableNetworkIsolation).toBe(true);
    const gate = step(def, N.qualityGate);
    const better = { 'Std:JsonGet': { PropertyFile: { Get: 'Steps.EvaluateModel.PropertyFiles.EvaluationReport' }, Path: CHAMPION_BETTER_PATH } };
    expect(gate.Arguments.Conditions).toContainEqual({ Type: 'GreaterThanOrEqualTo', LeftValue: better, RightValue: 1 });
    expect(step(def, N.fail).Arguments.ErrorMessage['Std:Join'].Values).toEqual(expect.arrayContaining(['better than the production version', output('championModelPackageArn'), better]));
    const metadata = gate.Arguments.IfSteps[0].Arguments.CustomerMetadataProperties;
    expect(metadata.champion_model_package).toEqual(output('championModelPackageArn'));
    expect(metadata.champion_comparison).toEqual({
      'Std:Join': { On: '/', Values: [{ Get: "Steps.EvaluateModel.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri" }, 'comparison.json'] },
    });
    // Without the option nothing of this is there.
    expect(step(trainingDef, N.findChampion)).toBeUndefined();
    expect(step(trainingDef, N.evaluate).Arguments.AppSpecification.ContainerArguments).not.toContain('--champion-model');
  });

  test('a minimum threshold gates with GreaterThanOrEqualTo', () => {
    const def: any = buildFineTuningPipeline({ ...props, evaluation: { task: 'qa', metricPath: 'question_answering_metrics.f1.value', minimum: 0.6 } });
    expect(step(def, N.qualityGate).Arguments.Conditions[0].Type).toBe('GreaterThanOrEqualTo');
    expect(step(def, N.fail).Arguments.ErrorMessage['Std:Join'].Values).toContain('(minimum');
    const args: string[] = step(def, N.evaluate).Arguments.AppSpecification.ContainerArguments;
    expect(args.slice(args.indexOf('--task'), args.indexOf('--task') + 2)).toEqual(['--task', 'qa']);
  });
});

test('CDK tokens pass through untouched and resolve in Stack.toJsonString', () => {
  const stack = new Stack();
  const role = Token.asString({ 'Fn::GetAtt': ['TrainingRole', 'Arn'] });
  const bucket = Token.asString({ Ref: 'DataBucket' });
  const def = buildFineTuningPipeline({
    ...props,
    trainingRoleArn: role,
    storage: { ...props.storage, processedData: `s3://${bucket}/training-data/processed/` },
  });
  const json = stack.resolve(stack.toJsonString(def));
  expect(JSON.stringify(json)).toContain('TrainingRole');
  expect(JSON.stringify(json)).toContain('DataBucket');
});

test('every registered version carries its lineage: base model, data, execution and hyperparameters', () => {
  const join = (param: string) => ({ 'Std:Join': { On: '', Values: [{ Get: `Parameters.${param}` }] } });
  const trained = step(trainingDef, N.register).Arguments.CustomerMetadataProperties;
  expect(trained).toEqual(
    expect.objectContaining({
      base_model: join('BaseModel'),
      training_data: join('InputDataUri'),
      pipeline_execution: { Get: 'Execution.PipelineExecutionId' },
      hp_num_train_epochs: join('Epochs'),
      hp_learning_rate: join('LearningRate'),
      hp_lora_r: join('LoraRank'),
    }),
  );
  const tuned = step(tuningDef, N.register).Arguments.CustomerMetadataProperties;
  expect(tuned.hyperparameter_tuning).toMatch(/^best of \d+ jobs by eval_loss/);
  expect(tuned.hp_num_train_epochs).toBeUndefined();
});

test('snapshot of the training pipeline definition', () => {
  expect(trainingDef).toMatchSnapshot();
});

test('snapshot of the tuning pipeline definition', () => {
  expect(tuningDef).toMatchSnapshot();
});
