/**
 * The fine-tuning pipeline: prepare data -> fine-tune (or tune hyperparameters) -> evaluate -> quality gate
 * -> register the model for manual approval, or fail with the metric, its value and the threshold.
 *
 * Two choices are made at synth time, not by runtime parameters:
 * - Training or tuning (`tuning` prop). Evaluation and registration read the model artifact from a property
 *   of the step that produced it; a pipeline cannot read a property of a step on a branch that did not run,
 *   so a runtime switch would need the evaluate/gate/register chain twice. The published schema also does
 *   not allow a Tuning step inside a condition's branches.
 * - Spot capacity (`spot` prop). CreateTrainingJob accepts `MaxWaitTimeInSeconds` only with managed spot
 *   training, and a definition cannot add or drop a field at run time, so a `UseSpot` parameter could not
 *   produce a valid on-demand job.
 *
 * Every job runs in the given private subnets with network isolation, inter-container traffic encryption,
 * KMS-encrypted volumes and outputs, a stopping condition and retry policies for capacity and throttling
 * errors, and carries the cost tags (`costTags`, the pipeline's name and the execution id). Because network
 * isolation keeps the containers off every network (S3 and the Hugging Face hub included), code, base model
 * and data arrive as job inputs that SageMaker copies in.
 */
import { Token } from 'aws-cdk-lib';
import { COST_TAG_KEYS } from '../config/cost-tags';
import {
  buildPipelineDefinition,
  ConditionStep,
  ExecutionVariable,
  FailStep,
  FloatParameter,
  greaterThanOrEqualTo,
  IntegerParameter,
  Join,
  LambdaStep,
  lessThanOrEqualTo,
  MetricDefinition,
  Parameter,
  PipelineDefinitionDocument,
  ProcessingJobArguments,
  ProcessingStep,
  RegisterModelStep,
  RetryPolicy,
  StringParameter,
  StringValue,
  Tag,
  TAG_LIMITS,
  tagEntryProblems,
  TrainingChannel,
  TrainingJobCommon,
  TrainingStep,
  TuningJobArguments,
  TuningStep,
  ValueKind,
} from './definition';
import { JobCode, jobCodeInputs, jobCodeProblems, launcherEntrypoint, moduleArguments, s3ProcessingInput } from './job-code';

/** Names of the pipeline's steps (stable: Studio and alarms refer to them). */
export const FINE_TUNING_STEP_NAMES = {
  prepareData: 'PrepareData',
  train: 'FineTune',
  tune: 'TuneHyperparameters',
  evaluate: 'EvaluateModel',
  qualityGate: 'CheckModelQuality',
  register: 'RegisterModel',
  explain: 'ExplainModel',
  findChampion: 'FindProductionVersion',
  fail: 'ModelQualityTooLow',
} as const;

/** Names of the runtime parameters. */
export const FINE_TUNING_PARAMETER_NAMES = {
  baseModel: 'BaseModel',
  inputDataUri: 'InputDataUri',
  trainingInstanceType: 'TrainingInstanceType',
  trainingInstanceCount: 'TrainingInstanceCount',
  epochs: 'Epochs',
  learningRate: 'LearningRate',
  loraRank: 'LoraRank',
} as const;

/** The property file the quality gate reads. */
export const EVALUATION_PROPERTY_FILE = 'EvaluationReport';

/** Where evaluation.json says whether the candidate beat the production version (1) or not (0). */
export const CHAMPION_BETTER_PATH = 'champion_comparison.better.value';
/** What `training.registry.champion.handler` returns (the Lambda step's outputs). */
export const CHAMPION_OUTPUTS = ['hasChampion', 'championModelDataUrl', 'championModelPackageArn', 'championSource', 'reason'] as const;

/**
 * Compare the candidate with the production version before registering it (the evaluation step evaluates
 * both on the same test split; `training/evaluate/paired.py`).
 */
export interface ChampionComparisonOptions {
  /** `training.registry.champion.handler`: finds the production version (served, else latest approved). */
  readonly functionArn: string;
  /** The primary metric (the quality gate's) must improve by more than this at the interval's worse end. */
  readonly margin: number;
  /** Two-sided confidence of the paired bootstrap interval. */
  readonly confidence: number;
  /** `section.metric` -> how much worse it may get (point estimate). @default none */
  readonly guards?: Readonly<Record<string, number>>;
}

/** Retries for capacity shortages, quota limits, throttling and service faults. */
export const DEFAULT_JOB_RETRY_POLICIES: readonly RetryPolicy[] = [
  // Capacity and quotas free up over minutes: wait 1, 2, 4, 8 minutes.
  { exceptionTypes: ['SageMaker.CAPACITY_ERROR', 'SageMaker.RESOURCE_LIMIT'], intervalSeconds: 60, backoffRate: 2, maxAttempts: 5 },
  { exceptionTypes: ['Step.THROTTLING', 'Step.SERVICE_FAULT'], intervalSeconds: 10, backoffRate: 2, maxAttempts: 5 },
];

/** Longest runtimes the services accept: CreateTrainingJob 28 days, CreateProcessingJob 7 days. */
const MAX_TRAINING_RUNTIME_SECONDS = 28 * 24 * 3600;
const MAX_PROCESSING_RUNTIME_SECONDS = 7 * 24 * 3600;

export interface JobNetwork {
  /** Private subnets for the job's network interfaces; at least one. */
  readonly subnetIds: readonly string[];
  /** Security groups of those interfaces; at least one. */
  readonly securityGroupIds: readonly string[];
}

/** S3 URIs (`s3://bucket/prefix/`, ending with '/') of the storage layout prefixes. */
export interface PipelineStorageUris {
  /** Raw data; the default of the `InputDataUri` parameter. */
  readonly rawData: string;
  /** Prepared splits go to `<processedData><execution id>/{train,validation,test}`. */
  readonly processedData: string;
  /** Training checkpoints, `<checkpoints><execution id>`. */
  readonly checkpoints: string;
  /** Model artifacts, `<finalModels><execution id>/<job name>/output/model.tar.gz`. */
  readonly finalModels: string;
  /** Evaluation reports, `<evaluationReports><execution id>/evaluation.json`. */
  readonly evaluationReports: string;
}

/** Defaults of the runtime parameters. */
export interface TrainingParameterDefaults {
  /** S3 URI of the base model directory (Hugging Face layout), the training job's `model` channel. */
  readonly baseModelUri: string;
  readonly instanceType: string;
  /** @default 1 */
  readonly instanceCount?: number;
  /** @default 1 */
  readonly epochs?: number;
  /** @default 0.0002 */
  readonly learningRate?: number;
  /** @default 16 */
  readonly loraRank?: number;
}

/** Inclusive integer range. */
export interface IntegerRange {
  readonly min: number;
  readonly max: number;
}

/** A fixed list of values to choose from. */
export interface CategoricalValues {
  readonly values: readonly number[];
}

/** Hyperparameter tuning instead of a single training job. */
export interface HyperparameterTuningOptions {
  /** A name from `metricDefinitions`. */
  readonly objectiveMetricName: string;
  readonly objectiveType: 'Minimize' | 'Maximize';
  /** Training jobs in all. */
  readonly maxJobs: number;
  /** Training jobs at once; at most `maxJobs`. */
  readonly maxParallelJobs: number;
  /** @default 'Bayesian' */
  readonly strategy?: 'Bayesian' | 'Random';
  /** Stop jobs that are unlikely to beat the best so far. @default 'Auto' */
  readonly earlyStopping?: 'Auto' | 'Off';
  /** Searched on a log scale; `min` above 0. */
  readonly learningRate: { readonly min: number; readonly max: number };
  readonly epochs: IntegerRange;
  readonly loraR: IntegerRange | CategoricalValues;
  readonly loraAlpha: IntegerRange | CategoricalValues;
  readonly perDeviceTrainBatchSize: CategoricalValues;
}

export type EvaluationTask = 'perplexity' | 'classification' | 'summarization' | 'qa';

export interface EvaluationOptions {
  /** `python -m training.evaluate <task>`; all but perplexity first generate predictions (`predict`). */
  readonly task: EvaluationTask;
  /** Dotted path of the gated metric in evaluation.json, e.g. `generation_metrics.perplexity.value`. */
  readonly metricPath: string;
  /** Least acceptable value (metrics where higher is better). Exclusive with `maximum`. */
  readonly minimum?: number;
  /** Greatest acceptable value (perplexity, loss). Exclusive with `minimum`. */
  readonly maximum?: number;
  /** @default the processing instance type */
  readonly instanceType?: string;
  /** torch device of the evaluation. @default 'cpu' */
  readonly device?: 'cpu' | 'cuda';
  /** Tokens generated per record for the prediction tasks. @default 64 */
  readonly maxNewTokens?: number;
  /**
   * Record fields kept from the raw data through preparation (under `metadata`) to the test split, over
   * which evaluation reports fairness per attribute. @default none
   */
  readonly protectedAttributes?: readonly string[];
  /**
   * Greatest acceptable `fairness_metrics.max_disparity.value` (the largest demographic parity or equal
   * opportunity difference, or per-group metric gap, over the attributes). Needs `protectedAttributes`.
   * @default no fairness gate
   */
  readonly maxDisparity?: number;
}

/** Where evaluation.json holds the largest disparity over the protected attributes (0.0 when none). */
export const MAX_DISPARITY_PATH = 'fairness_metrics.max_disparity.value';

/** Token attributions of a sample of test prompts (`python -m training.explain`), attached to the version. */
export interface ExplainOptions {
  /** Test prompts explained. */
  readonly samples: number;
  /** `occlusion` (exact, cost grows with prompt length) or `integrated-gradients` (16 steps). */
  readonly method: 'occlusion' | 'integrated-gradients';
}

export interface DataPreparationOptions {
  /** `--target` of format and validate. @default 'chat' */
  readonly target?: string;
  /** `--model-family` (limits and Bedrock format). @default none */
  readonly modelFamily?: string;
  /** train, validation, test fractions, each above 0, summing to 1. @default [0.8, 0.1, 0.1] */
  readonly splitRatios?: readonly [number, number, number];
  /** @default 42 */
  readonly seed?: number;
}

export interface FineTuningPipelineProps {
  /** Role of the training and tuning jobs. */
  readonly trainingRoleArn: string;
  /** Role of the processing jobs (preparation and evaluation). */
  readonly processingRoleArn: string;
  /** Hugging Face training image (DLC); it runs `sagemaker_program` from `sagemaker_submit_directory`. */
  readonly trainingImageUri: string;
  /** Image of the processing jobs; needs Python 3 with training/requirements.txt installed. */
  readonly processingImageUri: string;
  /** Inference image and instance types recorded in the model package. */
  readonly inference: { readonly imageUri: string; readonly instanceTypes: readonly string[] };
  readonly trainingNetwork: JobNetwork;
  readonly processingNetwork: JobNetwork;
  /** KMS key for job volumes. */
  readonly volumeKmsKeyId: string;
  /** KMS key for job outputs. */
  readonly outputKmsKeyId: string;
  readonly storage: PipelineStorageUris;
  /**
   * The job code: the archive of the `training/` package (the training job's `sagemaker_submit_directory`)
   * and the launcher that processing jobs start modules of it with (`TrainingCodeAsset.jobCode`).
   */
  readonly code: JobCode;
  /** Script the training container runs, relative to the archive root. @default 'training/train/launch.py' */
  readonly trainingEntryPoint?: string;
  readonly defaults: TrainingParameterDefaults;
  /** Instance type of the preparation job (and of evaluation unless set there). */
  readonly processingInstanceType: string;
  /** @default 100 */
  readonly processingVolumeSizeGb?: number;
  /** @default 200 */
  readonly trainingVolumeSizeGb?: number;
  /** @default 86400 (1 day) */
  readonly trainingMaxRuntimeSeconds?: number;
  /** @default 14400 (4 hours) */
  readonly processingMaxRuntimeSeconds?: number;
  /** Managed spot training; checkpoints make interruptions safe. @default true */
  readonly spot?: boolean;
  /** With spot: the longest wait for capacity plus run time, at least the max runtime. @default 2 x max runtime */
  readonly spotMaxWaitSeconds?: number;
  /** Metric lines the training job prints (from training/contracts/training-metrics.json). */
  readonly metricDefinitions: readonly { readonly name: string; readonly regex: string }[];
  /** Tune hyperparameters instead of one training job. @default a single training job */
  readonly tuning?: HyperparameterTuningOptions;
  readonly evaluation: EvaluationOptions;
  /** Register only a candidate that beats the production version. @default - the quality gate alone */
  readonly champion?: ChampionComparisonOptions;
  /** Explain a sample of test prompts after evaluation; the report is the version's explainability. @default none */
  readonly explain?: ExplainOptions;
  /** @default format to chat, 80/10/10 split, seed 42 */
  readonly dataPreparation?: DataPreparationOptions;
  /** Model package group that receives the model, pending manual approval. */
  readonly modelPackageGroupName: string;
  /** Retry policies of every job and registration step. @default DEFAULT_JOB_RETRY_POLICIES */
  readonly retryPolicies?: readonly RetryPolicy[];
  /** More static hyperparameters for training (text values). @default none */
  readonly extraHyperparameters?: Readonly<Record<string, string>>;
  /**
   * Cost allocation tags of every job (`costTags(config)`: the environment's `tags` and `fmft:environment`).
   * The run's own tags come on top: `fmft:workflow` (the pipeline's name) and `fmft:execution` (the execution
   * id), so at most 48 may be given here (SageMaker allows 50 per job).
   */
  readonly costTags: Readonly<Record<string, string>>;
}

/** Tags the pipeline adds to `costTags` on every job: which pipeline and which of its executions started it. */
export const RUN_TAG_KEYS = [COST_TAG_KEYS.workflow, COST_TAG_KEYS.execution] as const;

// Paths inside the containers.
const PROC = '/opt/ml/processing';
const WORK_DIR = `${PROC}/work`; // on the job's KMS-encrypted volume
const RESERVED_HYPERPARAMETERS = [
  'sagemaker_program',
  'sagemaker_submit_directory',
  'num_train_epochs',
  'learning_rate',
  'lora_r',
  'lora_alpha',
  'per_device_train_batch_size',
];

/** The fine-tuning pipeline definition; throws one error listing every invalid prop. */
export function buildFineTuningPipeline(props: FineTuningPipelineProps): PipelineDefinitionDocument {
  validateProps(props);
  const names = FINE_TUNING_STEP_NAMES;
  const p = FINE_TUNING_PARAMETER_NAMES;
  const d = props.defaults;
  const retryPolicies = props.retryPolicies ?? DEFAULT_JOB_RETRY_POLICIES;
  const prep = { target: 'chat', splitRatios: [0.8, 0.1, 0.1], seed: 42, ...props.dataPreparation };
  const trainingRuntime = props.trainingMaxRuntimeSeconds ?? 86400;
  const processingRuntime = props.processingMaxRuntimeSeconds ?? 14400;
  const spot = props.spot ?? true;
  const executionId = ExecutionVariable.PIPELINE_EXECUTION_ID;
  const underExecution = (prefix: string, ...rest: string[]) => new Join('', [prefix, executionId, ...rest]);
  // One list for every job, so the bill splits by environment, pipeline and run. The pipeline's name is read
  // from the execution like its id: the builder is not told the name, and the variable cannot drift from it.
  // Tuning jobs copy their tags to the training jobs they launch.
  const tags: readonly Tag[] = [
    ...Object.entries(props.costTags).map(([Key, Value]) => ({ Key, Value })),
    { Key: COST_TAG_KEYS.workflow, Value: ExecutionVariable.PIPELINE_NAME },
    { Key: COST_TAG_KEYS.execution, Value: executionId },
  ];

  const baseModel = new StringParameter(p.baseModel, {
    defaultValue: d.baseModelUri,
    description: 'S3 URI of the base model directory (Hugging Face layout); jobs are network isolated, so no hub ids',
  });
  const inputDataUri = new StringParameter(p.inputDataUri, {
    defaultValue: props.storage.rawData,
    description: 'S3 URI (prefix) of the raw records to prepare',
  });
  const instanceType = new StringParameter(p.trainingInstanceType, { defaultValue: d.instanceType });
  const instanceCount = new IntegerParameter(p.trainingInstanceCount, { defaultValue: d.instanceCount ?? 1 });
  const parameters: Parameter<ValueKind, unknown>[] = [baseModel, inputDataUri, instanceType, instanceCount];

  const attributes = props.evaluation.protectedAttributes ?? [];
  const attributeArgs = attributes.length ? ['--protected-attributes', ...attributes] : [];

  // ---- 1. prepare: format, validate, drop duplicates and split in one module (training/data/prepare.py)
  const prepareArgs = [
    '--input', `${PROC}/input/raw`,
    '--output-dir', `${PROC}/output`,
    '--target', prep.target,
    ...(prep.modelFamily ? ['--model-family', prep.modelFamily] : []),
    '--ratios', ...prep.splitRatios.map(String),
    '--seed', String(prep.seed),
    ...attributeArgs,
  ];
  const prepare = new ProcessingStep(names.prepareData, {
    description: 'Format, validate, de-duplicate and split the raw records',
    retryPolicies,
    arguments: processingJob(props, tags, {
      instanceType: props.processingInstanceType,
      runtime: processingRuntime,
      module: 'training.data',
      args: ['prepare', ...prepareArgs],
      inputs: [s3ProcessingInput('raw', inputDataUri, `${PROC}/input/raw`)],
      // The baseline profile of the train split (training/monitor/profile.py) travels with the version.
      outputs: ['train', 'validation', 'test', 'baseline'].map((s) => ({
        OutputName: s,
        S3Output: { S3Uri: underExecution(props.storage.processedData, `/${s}`), LocalPath: `${PROC}/output/${s}`, S3UploadMode: 'EndOfJob' as const },
      })),
    }),
  });

  // ---- 2. train or tune
  const channels: TrainingChannel[] = [
    channel('train', prepare.outputUri('train')),
    channel('validation', prepare.outputUri('validation')),
    channel('model', baseModel),
    channel('code', props.code.archiveS3Uri),
  ];
  const outputPath = underExecution(props.storage.finalModels);
  const common: TrainingJobCommon = {
    RoleArn: props.trainingRoleArn,
    AlgorithmSpecification: {
      TrainingImage: props.trainingImageUri,
      TrainingInputMode: 'File',
      MetricDefinitions: props.metricDefinitions.map((m): MetricDefinition => ({ Name: m.name, Regex: m.regex })),
    },
    InputDataConfig: channels,
    OutputDataConfig: { S3OutputPath: outputPath, KmsKeyId: props.outputKmsKeyId },
    ResourceConfig: {
      InstanceType: instanceType,
      InstanceCount: instanceCount,
      VolumeSizeInGB: props.trainingVolumeSizeGb ?? 200,
      VolumeKmsKeyId: props.volumeKmsKeyId,
    },
    StoppingCondition: {
      MaxRuntimeInSeconds: trainingRuntime,
      ...(spot ? { MaxWaitTimeInSeconds: props.spotMaxWaitSeconds ?? 2 * trainingRuntime } : {}),
    },
    VpcConfig: vpc(props.trainingNetwork),
    EnableNetworkIsolation: true,
    EnableInterContainerTrafficEncryption: true,
    EnableManagedSpotTraining: spot,
    // Checkpoints of one execution share a prefix, so a retried or interrupted job resumes from them.
    CheckpointConfig: { S3Uri: underExecution(props.storage.checkpoints), LocalPath: '/opt/ml/checkpoints' },
  };
  const staticHyperparameters: Record<string, StringValue> = {
    sagemaker_program: props.trainingEntryPoint ?? 'training/train/launch.py',
    // Network isolation blocks the toolkit's own S3 download: the archive arrives as the 'code' channel.
    sagemaker_submit_directory: `/opt/ml/input/data/code/${props.code.archiveFileName}`,
    ...props.extraHyperparameters,
  };

  let modelArtifactsUri: StringValue;
  let trainingStep: TrainingStep | TuningStep;
  // Lineage of every registered version: where its data and base model came from, how it was trained.
  const lineage: Record<string, StringValue> = {
    base_model: baseModel.asString(),
    training_data: inputDataUri.asString(),
    pipeline_execution: executionId,
    // The code archive's name is the hash of the training/ package it holds.
    code_version: props.code.archiveFileName,
    training_instance_type: instanceType.asString(),
    ...Object.fromEntries(Object.entries(props.extraHyperparameters ?? {}).map(([k, v]) => [`hp_${k}`, v])),
  };
  if (props.tuning) {
    const t = props.tuning;
    const range = (name: string, r: IntegerRange | CategoricalValues) =>
      'values' in r ? { categorical: { Name: name, Values: r.values.map(String) } } : { integer: { Name: name, MinValue: String(r.min), MaxValue: String(r.max), ScalingType: 'Auto' as const } };
    const ranges = [range('num_train_epochs', t.epochs), range('lora_r', t.loraR), range('lora_alpha', t.loraAlpha), range('per_device_train_batch_size', t.perDeviceTrainBatchSize)];
    const tuningArgs: TuningJobArguments = {
      HyperParameterTuningJobConfig: {
        Strategy: t.strategy ?? 'Bayesian',
        HyperParameterTuningJobObjective: { Type: t.objectiveType, MetricName: t.objectiveMetricName },
        ResourceLimits: { MaxNumberOfTrainingJobs: t.maxJobs, MaxParallelTrainingJobs: t.maxParallelJobs },
        ParameterRanges: {
          ContinuousParameterRanges: [
            { Name: 'learning_rate', MinValue: String(t.learningRate.min), MaxValue: String(t.learningRate.max), ScalingType: 'Logarithmic' },
          ],
          IntegerParameterRanges: ranges.flatMap((r) => ('integer' in r && r.integer ? [r.integer] : [])),
          CategoricalParameterRanges: ranges.flatMap((r) => ('categorical' in r && r.categorical ? [r.categorical] : [])),
        },
        TrainingJobEarlyStoppingType: t.earlyStopping ?? 'Auto',
      },
      TrainingJobDefinition: { ...common, StaticHyperParameters: staticHyperparameters },
      Tags: tags,
    };
    const tune = new TuningStep(names.tune, { description: 'Tune the fine-tuning hyperparameters', retryPolicies, arguments: tuningArgs });
    modelArtifactsUri = tune.bestModelArtifactsUri(outputPath);
    trainingStep = tune;
    lineage.hyperparameter_tuning = `best of ${t.maxJobs} jobs by ${t.objectiveMetricName} (${t.objectiveType}); see the tuning job of the execution`;
  } else {
    const epochs = new IntegerParameter(p.epochs, { defaultValue: d.epochs ?? 1 });
    const learningRate = new FloatParameter(p.learningRate, { defaultValue: d.learningRate ?? 2e-4 });
    const loraRank = new IntegerParameter(p.loraRank, { defaultValue: d.loraRank ?? 16 });
    parameters.push(epochs, learningRate, loraRank);
    const train = new TrainingStep(names.train, {
      description: 'Fine-tune the base model',
      retryPolicies,
      arguments: {
        ...common,
        // A training job's own option; a tuning job's algorithm specification has no such member.
        AlgorithmSpecification: { ...common.AlgorithmSpecification, EnableSageMakerMetricsTimeSeries: true },
        HyperParameters: {
          ...staticHyperparameters,
          num_train_epochs: epochs.asString(),
          learning_rate: learningRate.asString(),
          lora_r: loraRank.asString(),
        },
        Tags: tags,
      },
    });
    modelArtifactsUri = train.modelArtifactsUri;
    trainingStep = train;
    Object.assign(lineage, { hp_num_train_epochs: epochs.asString(), hp_learning_rate: learningRate.asString(), hp_lora_r: loraRank.asString() });
  }

  // ---- 3. evaluate on the test split (training/evaluate: `model` unpacks model.tar.gz, predicts, scores),
  //         and, with `champion`, the production version on the same records (paired comparison)
  const ev = props.evaluation;
  const reportDir = `${PROC}/output/evaluation`;
  const champion = props.champion;
  const findChampion = champion
    ? new LambdaStep(names.findChampion, {
        description: 'Find the production version: the served one, else the latest approved',
        functionArn: champion.functionArn,
        arguments: { modelPackageGroupName: props.modelPackageGroupName, candidateModelUri: modelArtifactsUri },
        outputs: CHAMPION_OUTPUTS,
      })
    : undefined;
  const championArgs = findChampion
    ? [
        // The directory: the registered archive keeps its own file name.
        '--champion-model', `${PROC}/input/champion`,
        '--champion-present', findChampion.output('hasChampion'),
        '--champion-name', findChampion.output('championModelPackageArn'),
        '--primary-metric', ev.metricPath.replace(/\.value$/, ''),
        '--margin', String(champion!.margin),
        '--confidence', String(champion!.confidence),
        ...(Object.keys(champion!.guards ?? {}).length
          ? ['--guards', ...Object.entries(champion!.guards!).map(([k, v]) => `${k}=${v}`)]
          : []),
      ]
    : [];
  const evaluate = new ProcessingStep(names.evaluate, {
    description: `Evaluate the model on the test split (${ev.task})${champion ? ', and the production version on the same records' : ''}`,
    retryPolicies,
    propertyFiles: [{ name: EVALUATION_PROPERTY_FILE, outputName: 'evaluation', filePath: 'evaluation.json' }],
    arguments: processingJob(props, tags, {
      instanceType: ev.instanceType ?? props.processingInstanceType,
      runtime: processingRuntime,
      module: 'training.evaluate',
      args: [
        'model',
        '--task', ev.task,
        '--model', `${PROC}/input/model/model.tar.gz`,
        '--data', `${PROC}/input/test/test.jsonl`,
        '--output-dir', reportDir,
        '--work-dir', WORK_DIR,
        '--device', ev.device ?? 'cpu',
        '--max-new-tokens', String(ev.maxNewTokens ?? 64),
        ...attributeArgs,
        ...championArgs,
      ],
      inputs: [
        s3ProcessingInput('model', modelArtifactsUri, `${PROC}/input/model`),
        s3ProcessingInput('test', prepare.outputUri('test'), `${PROC}/input/test`),
        // Without a production version the function names the candidate's own archive (an input must point
        // at something); --champion-present false keeps the job from reading it.
        ...(findChampion ? [s3ProcessingInput('champion', findChampion.output('championModelDataUrl'), `${PROC}/input/champion`)] : []),
      ],
      outputs: [
        {
          OutputName: 'evaluation',
          S3Output: { S3Uri: underExecution(props.storage.evaluationReports), LocalPath: reportDir, S3UploadMode: 'EndOfJob' },
        },
      ],
    }),
  });

  // ---- 3b. explain a sample of test prompts (training/explain), in parallel with the gate's inputs
  const explain = props.explain
    ? new ProcessingStep(names.explain, {
        description: `Token attributions of ${props.explain.samples} test prompts (${props.explain.method})`,
        retryPolicies,
        arguments: processingJob(props, tags, {
          instanceType: ev.instanceType ?? props.processingInstanceType,
          runtime: processingRuntime,
          module: 'training.explain',
          args: [
            '--model', `${PROC}/input/model/model.tar.gz`,
            '--data', `${PROC}/input/test/test.jsonl`,
            '--output-dir', `${PROC}/output/explanations`,
            '--work-dir', WORK_DIR,
            '--samples', String(props.explain.samples),
            '--method', props.explain.method,
            '--device', ev.device ?? 'cpu',
          ],
          inputs: [s3ProcessingInput('model', modelArtifactsUri, `${PROC}/input/model`), s3ProcessingInput('test', prepare.outputUri('test'), `${PROC}/input/test`)],
          outputs: [
            {
              OutputName: 'explanations',
              S3Output: { S3Uri: underExecution(props.storage.evaluationReports, '/explanations'), LocalPath: `${PROC}/output/explanations`, S3UploadMode: 'EndOfJob' },
            },
          ],
        }),
      })
    : undefined;

  // ---- 4. gate, then register or fail
  const evaluationJson = new Join('/', [evaluate.outputUri('evaluation'), 'evaluation.json']);
  const metric = evaluate.jsonGet(EVALUATION_PROPERTY_FILE, ev.metricPath);
  const disparity = ev.maxDisparity !== undefined ? evaluate.jsonGet(EVALUATION_PROPERTY_FILE, MAX_DISPARITY_PATH) : undefined;
  const beatsChampion = findChampion ? evaluate.jsonGet(EVALUATION_PROPERTY_FILE, CHAMPION_BETTER_PATH) : undefined;
  const atLeast = ev.minimum !== undefined;
  const threshold = (atLeast ? ev.minimum : ev.maximum) as number;
  const register = new RegisterModelStep(names.register, {
    description: 'Register the model version for manual approval',
    retryPolicies,
    arguments: {
      ModelPackageGroupName: props.modelPackageGroupName,
      ModelPackageDescription: new Join(' ', ['Fine-tuned by pipeline execution', executionId]),
      ModelApprovalStatus: 'PendingManualApproval',
      CustomerMetadataProperties: findChampion
        ? {
            ...lineage,
            // The comparison this version won, beside its evaluation.json.
            champion_model_package: findChampion.output('championModelPackageArn'),
            champion_comparison: new Join('/', [evaluate.outputUri('evaluation'), 'comparison.json']),
          }
        : lineage,
      InferenceSpecification: {
        Containers: [{ Image: props.inference.imageUri, ModelDataUrl: modelArtifactsUri }],
        SupportedContentTypes: ['application/json'],
        SupportedResponseMIMETypes: ['application/json'],
        SupportedRealtimeInferenceInstanceTypes: props.inference.instanceTypes,
      },
      ModelMetrics: {
        ModelQuality: {
          Statistics: { ContentType: 'application/json', S3Uri: evaluationJson },
        },
        // The same report holds fairness per protected attribute (fairness_metrics).
        ...(attributes.length ? { Bias: { Report: { ContentType: 'application/json', S3Uri: evaluationJson } } } : {}),
        ...(explain
          ? { Explainability: { Report: { ContentType: 'application/json', S3Uri: new Join('/', [explain.outputUri('explanations'), 'explanations.json']) } } }
          : {}),
      },
      // The capture monitor compares the served version's traffic with this profile of its training data.
      DriftCheckBaselines: {
        ModelDataQuality: {
          Statistics: { ContentType: 'application/json', S3Uri: new Join('/', [prepare.outputUri('baseline'), 'baseline.json']) },
        },
      },
    },
  });
  const fail = new FailStep(names.fail, {
    errorMessage: new Join(' ', [
      'Model quality gate failed:',
      ev.metricPath,
      '=',
      metric,
      atLeast ? '(minimum' : '(maximum',
      `${threshold})`,
      ...(disparity ? [';', MAX_DISPARITY_PATH, '=', disparity, `(maximum ${ev.maxDisparity})`] : []),
      ...(beatsChampion
        ? [';', 'better than the production version', findChampion!.output('championModelPackageArn'), '=', beatsChampion, '(1 yes, 0 no: comparison.json beside evaluation.json)']
        : []),
    ]),
  });
  const gate = new ConditionStep(names.qualityGate, {
    description: `${ev.metricPath} ${atLeast ? '>=' : '<='} ${threshold}${disparity ? ` and ${MAX_DISPARITY_PATH} <= ${ev.maxDisparity}` : ''}${beatsChampion ? ' and better than the production version' : ''}`,
    conditions: [
      atLeast ? greaterThanOrEqualTo(metric, threshold) : lessThanOrEqualTo(metric, threshold),
      ...(disparity ? [lessThanOrEqualTo(disparity, ev.maxDisparity as number)] : []),
      ...(beatsChampion ? [greaterThanOrEqualTo(beatsChampion, 1)] : []),
    ],
    ifSteps: [register],
    elseSteps: [fail],
  });

  return buildPipelineDefinition({
    parameters,
    steps: [prepare, trainingStep, ...(findChampion ? [findChampion] : []), evaluate, ...(explain ? [explain] : []), gate],
  });
}

// ---------------------------------------------------------------- helpers

function vpc(n: JobNetwork) {
  return { Subnets: [...n.subnetIds], SecurityGroupIds: [...n.securityGroupIds] };
}

function channel(name: string, uri: StringValue): TrainingChannel {
  return { ChannelName: name, DataSource: { S3DataSource: { S3Uri: uri, S3DataType: 'S3Prefix', S3DataDistributionType: 'FullyReplicated' } }, InputMode: 'File' };
}

interface ProcessingJobSpec {
  readonly instanceType: string;
  readonly runtime: number;
  /** `python -m <module> <args...>`, started from the code archive by the launcher. */
  readonly module: string;
  readonly args: readonly StringValue[];
  /** Data inputs; the code and the launcher are added. */
  readonly inputs: NonNullable<ProcessingJobArguments['ProcessingInputs']>;
  readonly outputs: NonNullable<ProcessingJobArguments['ProcessingOutputConfig']>['Outputs'];
}

function processingJob(props: FineTuningPipelineProps, tags: readonly Tag[], spec: ProcessingJobSpec): ProcessingJobArguments {
  return {
    RoleArn: props.processingRoleArn,
    AppSpecification: {
      ImageUri: props.processingImageUri,
      ContainerEntrypoint: launcherEntrypoint(props.code),
      ContainerArguments: moduleArguments(props.code, spec.module, spec.args),
    },
    ProcessingInputs: [...jobCodeInputs(props.code), ...spec.inputs],
    ProcessingOutputConfig: { Outputs: spec.outputs, KmsKeyId: props.outputKmsKeyId },
    ProcessingResources: {
      ClusterConfig: { InstanceType: spec.instanceType, InstanceCount: 1, VolumeSizeInGB: props.processingVolumeSizeGb ?? 100, VolumeKmsKeyId: props.volumeKmsKeyId },
    },
    // Isolation still lets SageMaker copy the S3 inputs in and upload the outputs; only the container is cut off.
    NetworkConfig: { EnableNetworkIsolation: true, EnableInterContainerTrafficEncryption: true, VpcConfig: vpc(props.processingNetwork) },
    StoppingCondition: { MaxRuntimeInSeconds: spec.runtime },
    Tags: tags,
  };
}

// ---------------------------------------------------------------- validation

const known = (v: unknown): boolean => !Token.isUnresolved(v);

function validateProps(props: FineTuningPipelineProps): void {
  const problems: string[] = [];
  const requireText = (name: string, v: string | undefined) => {
    if (v === undefined || (known(v) && v.trim() === '')) problems.push(`${name} must not be empty`);
  };
  const roleArn = /^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/;
  for (const [name, v] of [['trainingRoleArn', props.trainingRoleArn], ['processingRoleArn', props.processingRoleArn]] as const) {
    requireText(name, v);
    if (v && known(v) && v.trim() !== '' && !roleArn.test(v)) problems.push(`${name} must be an IAM role ARN, got '${v}'`);
  }
  requireText('trainingImageUri', props.trainingImageUri);
  requireText('processingImageUri', props.processingImageUri);
  requireText('inference.imageUri', props.inference.imageUri);
  if (props.inference.instanceTypes.length === 0) problems.push('inference.instanceTypes must not be empty');
  requireText('volumeKmsKeyId', props.volumeKmsKeyId);
  requireText('outputKmsKeyId', props.outputKmsKeyId);
  for (const [name, n] of [['trainingNetwork', props.trainingNetwork], ['processingNetwork', props.processingNetwork]] as const) {
    if (n.subnetIds.length === 0) problems.push(`${name}.subnetIds must not be empty`);
    if (n.securityGroupIds.length === 0) problems.push(`${name}.securityGroupIds must not be empty`);
  }

  const s3Prefix = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/(.+\/)?$/;
  for (const [key, uri] of Object.entries(props.storage)) {
    if (known(uri) && !s3Prefix.test(uri)) problems.push(`storage.${key} must be an S3 prefix URI ending with '/', got '${uri}'`);
  }
  problems.push(...jobCodeProblems(props.code, known));
  const ev = props.evaluation;
  const attributes = ev.protectedAttributes ?? [];
  attributes.forEach((a, i) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(a)) problems.push(`evaluation.protectedAttributes[${i}] must be a field name (letters, digits, _), got '${a}'`);
  });
  if (new Set(attributes).size !== attributes.length) problems.push(`evaluation.protectedAttributes must not repeat a name, got ${attributes.join(', ')}`);
  if (ev.maxDisparity !== undefined && (!Number.isFinite(ev.maxDisparity) || ev.maxDisparity <= 0)) {
    problems.push(`evaluation.maxDisparity must be a number > 0, got ${ev.maxDisparity}`);
  }
  if (ev.maxDisparity !== undefined && attributes.length === 0) {
    problems.push('evaluation.maxDisparity needs evaluation.protectedAttributes (without them the disparity is 0 and the gate always passes)');
  }
  const c = props.champion;
  if (c) {
    requireText('champion.functionArn', c.functionArn);
    if (known(c.margin) && !(Number.isFinite(c.margin) && c.margin >= 0)) problems.push(`champion.margin must be a number >= 0, got ${c.margin}`);
    if (known(c.confidence) && !(c.confidence >= 0.5 && c.confidence < 1)) problems.push(`champion.confidence must be from 0.5 up to (not including) 1, got ${c.confidence}`);
    for (const [key, tolerance] of Object.entries(c.guards ?? {})) {
      if (!/^[a-z_]+\.[A-Za-z0-9_]+$/.test(key)) problems.push(`champion.guards: '${key}' must be <section>.<metric> as in evaluation.json`);
      if (!(Number.isFinite(tolerance) && tolerance >= 0)) problems.push(`champion.guards.${key} must be a tolerance >= 0, got ${tolerance}`);
    }
  }
  if (props.explain && (!Number.isInteger(props.explain.samples) || props.explain.samples < 1 || props.explain.samples > 64)) {
    problems.push(`explain.samples must be a whole number from 1 to 64, got ${props.explain.samples}`);
  }
  if (attributes.length && props.dataPreparation?.target?.startsWith('bedrock')) {
    problems.push(`evaluation.protectedAttributes cannot travel in the Bedrock target '${props.dataPreparation.target}' (its formats allow no extra field)`);
  }
  const d = props.defaults;
  if (known(d.baseModelUri) && !d.baseModelUri.startsWith('s3://')) {
    problems.push(`defaults.baseModelUri must be an S3 URI (jobs are network isolated), got '${d.baseModelUri}'`);
  }
  for (const [name, v] of [['defaults.instanceType', d.instanceType], ['processingInstanceType', props.processingInstanceType], ['evaluation.instanceType', props.evaluation.instanceType]] as const) {
    if (v !== undefined && known(v) && !/^ml\.[a-z0-9]+\.[a-z0-9]+$/.test(v)) problems.push(`${name} must be a SageMaker instance type like ml.g5.2xlarge, got '${v}'`);
  }
  const positiveInt = (name: string, v: number | undefined) => {
    if (v !== undefined && known(v) && !(Number.isInteger(v) && v >= 1)) problems.push(`${name} must be a positive integer, got ${v}`);
  };
  positiveInt('defaults.instanceCount', d.instanceCount);
  positiveInt('defaults.epochs', d.epochs);
  positiveInt('defaults.loraRank', d.loraRank);
  positiveInt('processingVolumeSizeGb', props.processingVolumeSizeGb);
  positiveInt('trainingVolumeSizeGb', props.trainingVolumeSizeGb);
  positiveInt('evaluation.maxNewTokens', props.evaluation.maxNewTokens);
  if (d.learningRate !== undefined && !(Number.isFinite(d.learningRate) && d.learningRate > 0)) {
    problems.push(`defaults.learningRate must be a number above 0, got ${d.learningRate}`);
  }

  const trainingRuntime = props.trainingMaxRuntimeSeconds ?? 86400;
  positiveInt('trainingMaxRuntimeSeconds', props.trainingMaxRuntimeSeconds);
  positiveInt('processingMaxRuntimeSeconds', props.processingMaxRuntimeSeconds);
  if (trainingRuntime > MAX_TRAINING_RUNTIME_SECONDS) problems.push(`trainingMaxRuntimeSeconds must be at most ${MAX_TRAINING_RUNTIME_SECONDS} (28 days), got ${trainingRuntime}`);
  if ((props.processingMaxRuntimeSeconds ?? 0) > MAX_PROCESSING_RUNTIME_SECONDS) {
    problems.push(`processingMaxRuntimeSeconds must be at most ${MAX_PROCESSING_RUNTIME_SECONDS} (7 days), got ${props.processingMaxRuntimeSeconds}`);
  }
  if (props.spotMaxWaitSeconds !== undefined) {
    if (props.spot === false) problems.push('spotMaxWaitSeconds is only valid with spot training');
    else if (!(props.spotMaxWaitSeconds >= trainingRuntime)) {
      problems.push(`spotMaxWaitSeconds (${props.spotMaxWaitSeconds}) must be at least trainingMaxRuntimeSeconds (${trainingRuntime})`);
    }
  }

  const metricNames = props.metricDefinitions.map((m) => m.name);
  if (metricNames.length === 0) problems.push('metricDefinitions must not be empty');
  props.metricDefinitions.forEach((m, i) => {
    if (m.name.trim() === '') problems.push(`metricDefinitions[${i}].name must not be empty`);
    if (metricNames.indexOf(m.name) !== i) problems.push(`metricDefinitions: duplicate name '${m.name}'`);
    try {
      new RegExp(m.regex);
      // SageMaker publishes the first capture group; a regex without one never yields a value.
      if (!/\((?!\?)/.test(m.regex)) problems.push(`metricDefinitions '${m.name}': regex must capture the value in a group, got '${m.regex}'`);
    } catch (e) {
      problems.push(`metricDefinitions '${m.name}': regex does not compile: ${(e as Error).message}`);
    }
  });

  if (props.tuning) problems.push(...tuningProblems(props.tuning, metricNames));

  if (!/^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/.test(ev.metricPath)) {
    problems.push(`evaluation.metricPath must be a dotted path like generation_metrics.perplexity.value, got '${ev.metricPath}'`);
  }
  if ((ev.minimum === undefined) === (ev.maximum === undefined)) {
    problems.push('evaluation: give exactly one of minimum and maximum');
  }
  for (const [name, v] of [['minimum', ev.minimum], ['maximum', ev.maximum]] as const) {
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v))) problems.push(`evaluation.${name} must be a finite number, got ${String(v)}`);
  }
  if (known(props.modelPackageGroupName) && !/^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/.test(props.modelPackageGroupName)) {
    problems.push(`modelPackageGroupName must be 1-63 letters, digits and hyphens, got '${props.modelPackageGroupName}'`);
  }

  const ratios = props.dataPreparation?.splitRatios;
  if (ratios && (ratios.length !== 3 || ratios.some((r) => !(r > 0)) || Math.abs(ratios.reduce((a, b) => a + b, 0) - 1) > 1e-9)) {
    problems.push(`dataPreparation.splitRatios must be three fractions above 0 summing to 1, got [${ratios.join(', ')}]`);
  }
  const seed = props.dataPreparation?.seed;
  if (seed !== undefined && !(Number.isInteger(seed) && seed >= 0)) problems.push(`dataPreparation.seed must be an integer of 0 or more, got ${seed}`);
  for (const [name, v] of [['target', props.dataPreparation?.target], ['modelFamily', props.dataPreparation?.modelFamily]] as const) {
    if (v !== undefined && !/^[a-z0-9-]+$/.test(v)) problems.push(`dataPreparation.${name} must be lower-case letters, digits and hyphens, got '${v}'`);
  }
  if (props.trainingEntryPoint !== undefined && !/^[A-Za-z0-9_./-]+$/.test(props.trainingEntryPoint)) {
    problems.push(`trainingEntryPoint must be a relative path, got '${props.trainingEntryPoint}'`);
  }
  for (const key of Object.keys(props.extraHyperparameters ?? {})) {
    if (RESERVED_HYPERPARAMETERS.includes(key)) problems.push(`extraHyperparameters must not set '${key}': the pipeline sets it`);
  }
  problems.push(...costTagProblems(props.costTags));
  if (problems.length) throw new Error(`Invalid FineTuningPipeline props:\n- ${problems.join('\n- ')}`);
}

function costTagProblems(costTags: Readonly<Record<string, string>>): string[] {
  const problems: string[] = [];
  const given = Object.keys(costTags).length;
  const total = given + RUN_TAG_KEYS.length;
  if (total > TAG_LIMITS.maxTags) {
    problems.push(
      `costTags (the environment's tags and ${COST_TAG_KEYS.environment}) has ${given} tags; with ${RUN_TAG_KEYS.join(' and ')} ` +
        `every job would carry ${total}, and SageMaker allows at most ${TAG_LIMITS.maxTags} per job: ` +
        `give at most ${TAG_LIMITS.maxTags - RUN_TAG_KEYS.length} (remove ${total - TAG_LIMITS.maxTags} from the environment config's \`tags\`)`,
    );
  }
  for (const key of RUN_TAG_KEYS) {
    if (key in costTags) problems.push(`costTags must not set '${key}': the pipeline sets it for each run`);
  }
  // Named after the prop rather than each step: the same list goes on every job.
  problems.push(...tagEntryProblems(Object.entries(costTags).map(([Key, Value]) => ({ Key, Value })), 'costTags'));
  return problems;
}

function tuningProblems(t: HyperparameterTuningOptions, metricNames: string[]): string[] {
  const problems: string[] = [];
  if (!metricNames.includes(t.objectiveMetricName)) {
    problems.push(`tuning.objectiveMetricName '${t.objectiveMetricName}' is not in metricDefinitions (${metricNames.join(', ')})`);
  }
  const positiveInt = (name: string, v: number) => {
    if (!(Number.isInteger(v) && v >= 1)) problems.push(`tuning.${name} must be a positive integer, got ${v}`);
  };
  positiveInt('maxJobs', t.maxJobs);
  positiveInt('maxParallelJobs', t.maxParallelJobs);
  if (t.maxParallelJobs > t.maxJobs) problems.push(`tuning.maxParallelJobs (${t.maxParallelJobs}) must not exceed tuning.maxJobs (${t.maxJobs})`);
  const lr = t.learningRate;
  if (!(Number.isFinite(lr.min) && lr.min > 0 && Number.isFinite(lr.max) && lr.min < lr.max)) {
    problems.push(`tuning.learningRate needs 0 < min < max (log scale), got ${lr.min}..${lr.max}`);
  }
  const checkRange = (name: string, r: IntegerRange | CategoricalValues) => {
    if ('values' in r) {
      if (r.values.length === 0) problems.push(`tuning.${name}.values must not be empty`);
      if (new Set(r.values).size !== r.values.length) problems.push(`tuning.${name}.values must be distinct`);
      if (r.values.some((v) => !(Number.isInteger(v) && v >= 1))) problems.push(`tuning.${name}.values must be positive integers, got [${r.values.join(', ')}]`);
    } else if (!(Number.isInteger(r.min) && Number.isInteger(r.max) && r.min >= 1 && r.min <= r.max)) {
      problems.push(`tuning.${name} needs integers 1 <= min <= max, got ${r.min}..${r.max}`);
    }
  };
  checkRange('epochs', t.epochs);
  checkRange('loraR', t.loraR);
  checkRange('loraAlpha', t.loraAlpha);
  checkRange('perDeviceTrainBatchSize', t.perDeviceTrainBatchSize);
  return problems;
}
