/**
 * Step types of a pipeline definition. Job steps take their arguments in the shape of the SageMaker API
 * request they start (CreateProcessingJob, CreateTrainingJob, CreateHyperParameterTuningJob,
 * CreateModelPackage, without the job name, which the pipeline sets), typed so that every field takes either
 * a literal or an expression of the right kind.
 */
import { Token } from 'aws-cdk-lib';
import { Condition } from './conditions';
import {
  AnyValue,
  BooleanValue,
  IntegerValue,
  Join,
  JsonGet,
  renderValue,
  RenderContext,
  StepProperty,
  StringValue,
  ValueKind,
} from './expressions';

// ---------------------------------------------------------------- retry policies

/** Exception types a step retry policy can match (SageMaker Pipelines "Retry Policy for Pipeline Steps"). */
export const RETRYABLE_EXCEPTIONS = [
  'Step.SERVICE_FAULT',
  'Step.THROTTLING',
  'SageMaker.JOB_INTERNAL_ERROR',
  'SageMaker.CAPACITY_ERROR',
  'SageMaker.RESOURCE_LIMIT',
] as const;
export type RetryableException = (typeof RETRYABLE_EXCEPTIONS)[number];

/** Service limits of a retry policy (the same the SageMaker Python SDK enforces). */
export const RETRY_LIMITS = { maxAttempts: 20, expireAfterMinutes: 14400 } as const;

/** Retry a step when one of `exceptionTypes` occurs. Give exactly one of `maxAttempts` and `expireAfterMinutes`. */
export interface RetryPolicy {
  readonly exceptionTypes: readonly RetryableException[];
  /** Seconds before the first retry. @default 1 */
  readonly intervalSeconds?: number;
  /** Multiplier applied to the interval after each retry. @default 2 */
  readonly backoffRate?: number;
  /** Attempts in all, 1 to 20. Exclusive with `expireAfterMinutes`. */
  readonly maxAttempts?: number;
  /** Minutes after which no further retry starts, up to 14400. Exclusive with `maxAttempts`. */
  readonly expireAfterMinutes?: number;
}

function renderRetryPolicy(p: RetryPolicy): Record<string, unknown> {
  return {
    ExceptionType: [...p.exceptionTypes],
    IntervalSeconds: p.intervalSeconds ?? 1,
    BackoffRate: p.backoffRate ?? 2,
    ...(p.maxAttempts !== undefined ? { MaxAttempts: p.maxAttempts } : {}),
    ...(p.expireAfterMinutes !== undefined ? { ExpireAfterMin: p.expireAfterMinutes } : {}),
  };
}

const isLiteralNumber = (v: unknown): v is number => typeof v === 'number' && !Token.isUnresolved(v);

function retryPolicyProblems(policies: readonly RetryPolicy[] | undefined): string[] {
  const problems: string[] = [];
  (policies ?? []).forEach((p, i) => {
    const at = `retry policy ${i + 1}`;
    if (p.exceptionTypes.length === 0) problems.push(`${at}: exceptionTypes must not be empty`);
    for (const e of p.exceptionTypes) {
      if (!(RETRYABLE_EXCEPTIONS as readonly string[]).includes(e)) {
        problems.push(`${at}: unknown exception type '${e}' (one of ${RETRYABLE_EXCEPTIONS.join(', ')})`);
      }
    }
    if ((p.maxAttempts === undefined) === (p.expireAfterMinutes === undefined)) {
      problems.push(`${at}: give exactly one of maxAttempts and expireAfterMinutes`);
    }
    if (isLiteralNumber(p.maxAttempts) && !(Number.isInteger(p.maxAttempts) && p.maxAttempts >= 1 && p.maxAttempts <= RETRY_LIMITS.maxAttempts)) {
      problems.push(`${at}: maxAttempts must be an integer from 1 to ${RETRY_LIMITS.maxAttempts}, got ${p.maxAttempts}`);
    }
    if (isLiteralNumber(p.expireAfterMinutes) && !(Number.isInteger(p.expireAfterMinutes) && p.expireAfterMinutes >= 1 && p.expireAfterMinutes <= RETRY_LIMITS.expireAfterMinutes)) {
      problems.push(`${at}: expireAfterMinutes must be an integer from 1 to ${RETRY_LIMITS.expireAfterMinutes}, got ${p.expireAfterMinutes}`);
    }
    if (isLiteralNumber(p.intervalSeconds) && !(Number.isInteger(p.intervalSeconds) && p.intervalSeconds >= 1)) {
      problems.push(`${at}: intervalSeconds must be a positive integer, got ${p.intervalSeconds}`);
    }
    // Below 1 the waits would shrink, which is never what a capacity or throttling retry wants.
    if (isLiteralNumber(p.backoffRate) && !(p.backoffRate >= 1)) {
      problems.push(`${at}: backoffRate must be at least 1, got ${p.backoffRate}`);
    }
  });
  return problems;
}

// ---------------------------------------------------------------- API-shaped arguments

/**
 * A tag of a job, in the `{Key, Value}` shape of the requests' `Tags` (SageMaker `Tag`). The value may be a
 * runtime expression (the execution id), which the pipeline resolves before it starts the job.
 */
export interface Tag {
  readonly Key: string;
  readonly Value: StringValue;
}

/**
 * Limits of SageMaker's `TagList`, `TagKey` and `TagValue` shapes (botocore `sagemaker/2017-07-24` service
 * model; the same on CreateProcessingJob, CreateTrainingJob and CreateHyperParameterTuningJob): at most 50
 * tags, keys 1-128 and values 0-256 characters of `TAG_PATTERN`, keys unique per resource.
 */
export const TAG_LIMITS = { maxTags: 50, maxKeyLength: 128, maxValueLength: 256 } as const;
/** The characters `TagKey` and `TagValue` allow: letters, digits, white space and `_ . : / = + - @`. */
export const TAG_PATTERN = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

/** Problems with a job's Tags (`field` names them in messages); values that are expressions or tokens are left to the service. */
export function tagProblems(tags: readonly Tag[] | undefined, field = 'Tags'): string[] {
  const list = tags ?? [];
  return [
    ...(list.length > TAG_LIMITS.maxTags ? [`${field}: ${list.length} tags, at most ${TAG_LIMITS.maxTags} allowed`] : []),
    ...tagEntryProblems(list, field),
  ];
}

/** Problems with the keys and values of tags, whatever their number. */
export function tagEntryProblems(tags: readonly Tag[], field = 'Tags'): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const { Key: key, Value: value } of tags) {
    if (Token.isUnresolved(key)) continue;
    if (seen.has(key)) problems.push(`${field}: key '${key}' appears more than once (keys are unique per resource)`);
    seen.add(key);
    if (key.length < 1 || key.length > TAG_LIMITS.maxKeyLength || !TAG_PATTERN.test(key)) {
      problems.push(`${field}: key '${key}' must be 1-${TAG_LIMITS.maxKeyLength} letters, digits, spaces and _.:/=+-@`);
    }
    // AWS reserves the prefix for its own tags.
    if (key.toLowerCase().startsWith('aws:')) problems.push(`${field}: key '${key}' must not start with aws:`);
    if (typeof value === 'string' && !Token.isUnresolved(value) && (value.length > TAG_LIMITS.maxValueLength || !TAG_PATTERN.test(value))) {
      problems.push(`${field}: value of '${key}' must be at most ${TAG_LIMITS.maxValueLength} letters, digits, spaces and _.:/=+-@, got '${value}'`);
    }
  }
  return problems;
}

export interface VpcConfig {
  readonly Subnets: readonly StringValue[];
  readonly SecurityGroupIds: readonly StringValue[];
}

export interface ProcessingInput {
  readonly InputName: string;
  readonly S3Input: {
    readonly S3Uri: StringValue;
    readonly LocalPath: string;
    readonly S3DataType: 'S3Prefix' | 'ManifestFile';
    readonly S3InputMode: 'File' | 'Pipe';
    readonly S3DataDistributionType?: 'FullyReplicated' | 'ShardedByS3Key';
    readonly S3CompressionType?: 'None' | 'Gzip';
  };
}

export interface ProcessingOutput {
  readonly OutputName: string;
  readonly S3Output: {
    readonly S3Uri: StringValue;
    readonly LocalPath: string;
    readonly S3UploadMode: 'EndOfJob' | 'Continuous';
  };
}

/** CreateProcessingJob request, less ProcessingJobName. */
export interface ProcessingJobArguments {
  readonly RoleArn: StringValue;
  readonly AppSpecification: {
    readonly ImageUri: StringValue;
    readonly ContainerEntrypoint?: readonly StringValue[];
    readonly ContainerArguments?: readonly StringValue[];
  };
  readonly Environment?: Readonly<Record<string, StringValue>>;
  readonly ProcessingInputs?: readonly ProcessingInput[];
  readonly ProcessingOutputConfig?: { readonly Outputs: readonly ProcessingOutput[]; readonly KmsKeyId?: StringValue };
  readonly ProcessingResources: {
    readonly ClusterConfig: {
      readonly InstanceType: StringValue;
      readonly InstanceCount: IntegerValue;
      readonly VolumeSizeInGB: IntegerValue;
      readonly VolumeKmsKeyId?: StringValue;
    };
  };
  readonly NetworkConfig?: {
    readonly EnableNetworkIsolation?: BooleanValue;
    readonly EnableInterContainerTrafficEncryption?: BooleanValue;
    readonly VpcConfig?: VpcConfig;
  };
  readonly StoppingCondition?: { readonly MaxRuntimeInSeconds: IntegerValue };
  /** Tags of the job (cost allocation). @default none */
  readonly Tags?: readonly Tag[];
}

export interface MetricDefinition {
  readonly Name: string;
  readonly Regex: string;
}

export interface TrainingChannel {
  readonly ChannelName: string;
  readonly DataSource: {
    readonly S3DataSource: {
      readonly S3Uri: StringValue;
      readonly S3DataType: 'S3Prefix' | 'ManifestFile';
      readonly S3DataDistributionType?: 'FullyReplicated' | 'ShardedByS3Key';
    };
  };
  readonly InputMode?: 'File' | 'Pipe' | 'FastFile';
  readonly CompressionType?: 'None' | 'Gzip';
  readonly ContentType?: string;
}

/**
 * The algorithm specification CreateTrainingJob and a tuning job's TrainingJobDefinition share
 * (HyperParameterAlgorithmSpecification).
 */
export interface AlgorithmSpecificationCommon {
  readonly TrainingImage: StringValue;
  readonly TrainingInputMode: 'File' | 'Pipe' | 'FastFile';
  readonly MetricDefinitions?: readonly MetricDefinition[];
}

/** The fields CreateTrainingJob and a tuning job's TrainingJobDefinition share. */
export interface TrainingJobCommon {
  readonly RoleArn: StringValue;
  readonly AlgorithmSpecification: AlgorithmSpecificationCommon;
  readonly InputDataConfig?: readonly TrainingChannel[];
  readonly OutputDataConfig: { readonly S3OutputPath: StringValue; readonly KmsKeyId?: StringValue };
  readonly ResourceConfig: {
    readonly InstanceType: StringValue;
    readonly InstanceCount: IntegerValue;
    readonly VolumeSizeInGB: IntegerValue;
    readonly VolumeKmsKeyId?: StringValue;
  };
  readonly StoppingCondition: { readonly MaxRuntimeInSeconds: IntegerValue; readonly MaxWaitTimeInSeconds?: IntegerValue };
  readonly VpcConfig?: VpcConfig;
  readonly EnableNetworkIsolation?: BooleanValue;
  readonly EnableInterContainerTrafficEncryption?: BooleanValue;
  readonly EnableManagedSpotTraining?: BooleanValue;
  readonly CheckpointConfig?: { readonly S3Uri: StringValue; readonly LocalPath?: string };
}

/** CreateTrainingJob request, less TrainingJobName. Hyperparameter values are text. */
export interface TrainingJobArguments extends TrainingJobCommon {
  readonly AlgorithmSpecification: AlgorithmSpecificationCommon & {
    /** Training jobs only: CreateHyperParameterTuningJob's specification has no such member. */
    readonly EnableSageMakerMetricsTimeSeries?: boolean;
  };
  readonly HyperParameters?: Readonly<Record<string, StringValue>>;
  /** Tags of the job (cost allocation). @default none */
  readonly Tags?: readonly Tag[];
}

/** A tuning job's TrainingJobDefinition (CreateHyperParameterTuningJob). */
export interface TuningTrainingJobDefinition extends TrainingJobCommon {
  readonly StaticHyperParameters?: Readonly<Record<string, StringValue>>;
}

export interface NumericParameterRange {
  readonly Name: string;
  readonly MinValue: StringValue;
  readonly MaxValue: StringValue;
  readonly ScalingType?: 'Auto' | 'Linear' | 'Logarithmic' | 'ReverseLogarithmic';
}

export interface CategoricalParameterRange {
  readonly Name: string;
  readonly Values: readonly StringValue[];
}

/** CreateHyperParameterTuningJob request, less the job name. */
export interface TuningJobArguments {
  readonly HyperParameterTuningJobConfig: {
    readonly Strategy: 'Bayesian' | 'Random';
    readonly HyperParameterTuningJobObjective: { readonly Type: 'Maximize' | 'Minimize'; readonly MetricName: StringValue };
    readonly ResourceLimits: { readonly MaxNumberOfTrainingJobs: number; readonly MaxParallelTrainingJobs: number };
    readonly ParameterRanges: {
      readonly ContinuousParameterRanges?: readonly NumericParameterRange[];
      readonly IntegerParameterRanges?: readonly NumericParameterRange[];
      readonly CategoricalParameterRanges?: readonly CategoricalParameterRange[];
    };
    readonly TrainingJobEarlyStoppingType?: 'Off' | 'Auto';
  };
  readonly TrainingJobDefinition: TuningTrainingJobDefinition;
  /**
   * Tags of the tuning job. The API copies them to every training job the tuning job launches
   * (CreateHyperParameterTuningJob `Tags`: "Tags that you specify for the tuning job are also added to all
   * training jobs that the tuning job launches",
   * https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateHyperParameterTuningJob.html), which is
   * why the TrainingJobDefinition has no Tags member of its own. @default none
   */
  readonly Tags?: readonly Tag[];
}

export interface MetricsSource {
  readonly ContentType: StringValue;
  readonly S3Uri: StringValue;
}

/**
 * CreateModelPackage request for a versioned package in a group.
 *
 * No `Tags`: a versioned package "uses the tags associated with the model group. In this case, you cannot
 * supply a tag argument" (CreateModelPackage `Tags`, botocore `sagemaker/2017-07-24`), "Model packages in the
 * SageMaker Model Registry do not support tags ... Instead, you can add key value pairs using
 * CustomerMetadataProperties" (https://docs.aws.amazon.com/sagemaker/latest/dg/modelregistryfaq.html), and the
 * published definition schema has no Tags on the RegisterModel step. The run that produced a version goes in
 * its CustomerMetadataProperties.
 */
export interface RegisterModelArguments {
  readonly ModelPackageGroupName: StringValue;
  readonly ModelPackageDescription?: StringValue;
  readonly ModelApprovalStatus: 'Approved' | 'Rejected' | 'PendingManualApproval';
  /** Free-form key/value lineage (CreateModelPackage CustomerMetadataProperties: up to 50 entries). */
  readonly CustomerMetadataProperties?: Readonly<Record<string, StringValue>>;
  readonly InferenceSpecification: {
    readonly Containers: readonly { readonly Image: StringValue; readonly ModelDataUrl: StringValue }[];
    readonly SupportedContentTypes: readonly StringValue[];
    readonly SupportedResponseMIMETypes: readonly StringValue[];
    readonly SupportedRealtimeInferenceInstanceTypes?: readonly StringValue[];
    readonly SupportedTransformInstanceTypes?: readonly StringValue[];
  };
  readonly ModelMetrics?: { readonly ModelQuality?: { readonly Statistics?: MetricsSource; readonly Constraints?: MetricsSource } };
  /** References for drift checks of the served version; the capture monitor reads ModelDataQuality.Statistics. */
  readonly DriftCheckBaselines?: { readonly ModelDataQuality?: { readonly Statistics?: MetricsSource; readonly Constraints?: MetricsSource } };
}

// ---------------------------------------------------------------- steps

export type StepType = 'Processing' | 'Training' | 'Tuning' | 'Condition' | 'RegisterModel' | 'Fail' | 'Lambda';

/** Step name rule of the definition schema (`StepName`). */
export const STEP_NAME_PATTERN = /^[A-Za-z0-9\-_]{1,64}$/;

export interface StepProps {
  /** Shown in Studio instead of the name. Same rule as names. @default the name */
  readonly displayName?: string;
  /** @default none */
  readonly description?: string;
  /**
   * Steps that must finish first although this step reads none of their properties. Dependencies through
   * property references are derived; list only the others. @default none
   */
  readonly dependsOn?: readonly (Step | string)[];
}

export interface RetryableStepProps extends StepProps {
  /** @default none: the service's own retries of throttling and service faults only */
  readonly retryPolicies?: readonly RetryPolicy[];
}

/** Renders nested steps (a condition's branches) with their own reference tracking. */
export interface StepRenderer {
  renderStep(step: Step): Record<string, unknown>;
}

export abstract class Step {
  public abstract readonly type: StepType;
  public readonly dependsOn: readonly (Step | string)[];

  protected constructor(
    public readonly name: string,
    protected readonly props: StepProps,
  ) {
    this.dependsOn = props.dependsOn ?? [];
  }

  /** Steps nested in this one (a condition's branches). */
  public children(): readonly Step[] {
    return [];
  }

  /** Property files this step writes, by name. */
  public propertyFileNames(): readonly string[] {
    return [];
  }

  /** Problems with this step's own settings, without its name (the builder adds it). */
  public problems(): string[] {
    const problems: string[] = [];
    if (this.props.displayName !== undefined && !STEP_NAME_PATTERN.test(this.props.displayName)) {
      problems.push(`displayName '${this.props.displayName}' must match ${STEP_NAME_PATTERN}`);
    }
    return problems;
  }

  /** The step's JSON, DependsOn excepted (the builder knows which dependencies references already imply). */
  public render(ctx: RenderContext, renderer: StepRenderer): Record<string, unknown> {
    return {
      Name: this.name,
      Type: this.type,
      ...(this.props.displayName !== undefined ? { DisplayName: this.props.displayName } : {}),
      ...(this.props.description !== undefined ? { Description: this.props.description } : {}),
      Arguments: this.renderArguments(ctx, renderer),
      ...this.renderExtras(ctx),
    };
  }

  protected abstract renderArguments(ctx: RenderContext, renderer: StepRenderer): unknown;

  protected renderExtras(_ctx: RenderContext): Record<string, unknown> {
    return {};
  }
}

/** A step the service can retry (jobs and model registration). */
export abstract class RetryableStep extends Step {
  public readonly retryPolicies: readonly RetryPolicy[];

  protected constructor(name: string, props: RetryableStepProps) {
    super(name, props);
    this.retryPolicies = props.retryPolicies ?? [];
  }

  public problems(): string[] {
    return [...super.problems(), ...retryPolicyProblems(this.retryPolicies)];
  }

  protected renderExtras(ctx: RenderContext): Record<string, unknown> {
    return {
      ...super.renderExtras(ctx),
      ...(this.retryPolicies.length ? { RetryPolicies: this.retryPolicies.map(renderRetryPolicy) } : {}),
    };
  }
}

/** A JSON file a processing job writes, readable by later steps through `JsonGet`. */
export interface PropertyFile {
  /** Name that `JsonGet` refers to. */
  readonly name: string;
  /** The processing output the file is written to. */
  readonly outputName: string;
  /** Path of the file inside that output, e.g. `evaluation.json`. */
  readonly filePath: string;
}

export interface ProcessingStepProps extends RetryableStepProps {
  readonly arguments: ProcessingJobArguments;
  /** @default none */
  readonly propertyFiles?: readonly PropertyFile[];
}

export class ProcessingStep extends RetryableStep {
  public readonly type = 'Processing' as const;
  public readonly arguments: ProcessingJobArguments;
  public readonly propertyFiles: readonly PropertyFile[];

  constructor(name: string, props: ProcessingStepProps) {
    super(name, props);
    this.arguments = props.arguments;
    this.propertyFiles = props.propertyFiles ?? [];
  }

  /** S3 URI an output of this step was uploaded to. */
  public outputUri(outputName: string): StepProperty<'String'> {
    const names = (this.arguments.ProcessingOutputConfig?.Outputs ?? []).map((o) => o.OutputName);
    if (!names.includes(outputName)) {
      throw new Error(`Processing step '${this.name}' has no output '${outputName}' (outputs: ${names.join(', ') || 'none'})`);
    }
    return new StepProperty(this.name, `ProcessingOutputConfig.Outputs['${outputName}'].S3Output.S3Uri`);
  }

  /** A value read from one of this step's property files. */
  public jsonGet<K extends ValueKind = 'Float'>(propertyFile: string, jsonPath: string): JsonGet<K> {
    return new JsonGet<K>(this.name, propertyFile, jsonPath);
  }

  public propertyFileNames(): readonly string[] {
    return this.propertyFiles.map((f) => f.name);
  }

  public problems(): string[] {
    const problems = [...super.problems(), ...processingSecurityProblems(this.arguments), ...tagProblems(this.arguments.Tags)];
    const outputs = (this.arguments.ProcessingOutputConfig?.Outputs ?? []).map((o) => o.OutputName);
    for (const file of this.propertyFiles) {
      if (!outputs.includes(file.outputName)) {
        problems.push(`property file '${file.name}' names unknown output '${file.outputName}'`);
      }
    }
    return problems;
  }

  protected renderArguments(ctx: RenderContext): unknown {
    return renderValue(this.arguments, ctx);
  }

  protected renderExtras(ctx: RenderContext): Record<string, unknown> {
    return {
      ...super.renderExtras(ctx),
      ...(this.propertyFiles.length
        ? {
            PropertyFiles: this.propertyFiles.map((f) => ({
              PropertyFileName: f.name,
              OutputName: f.outputName,
              FilePath: f.filePath,
            })),
          }
        : {}),
    };
  }
}

export interface TrainingStepProps extends RetryableStepProps {
  readonly arguments: TrainingJobArguments;
}

export class TrainingStep extends RetryableStep {
  public readonly type = 'Training' as const;
  public readonly arguments: TrainingJobArguments;

  constructor(name: string, props: TrainingStepProps) {
    super(name, props);
    this.arguments = props.arguments;
  }

  /** S3 URI of the job's `model.tar.gz`. */
  public get modelArtifactsUri(): StepProperty<'String'> {
    return new StepProperty(this.name, 'ModelArtifacts.S3ModelArtifacts');
  }

  public problems(): string[] {
    return [...super.problems(), ...trainingSecurityProblems(this.arguments, 'arguments'), ...tagProblems(this.arguments.Tags)];
  }

  protected renderArguments(ctx: RenderContext): unknown {
    return renderValue(this.arguments, ctx);
  }
}

export interface TuningStepProps extends RetryableStepProps {
  readonly arguments: TuningJobArguments;
}

export class TuningStep extends RetryableStep {
  public readonly type = 'Tuning' as const;
  public readonly arguments: TuningJobArguments;

  constructor(name: string, props: TuningStepProps) {
    super(name, props);
    this.arguments = props.arguments;
  }

  /**
   * S3 URI of the best training job's `model.tar.gz`. SageMaker writes each job's artifact to
   * `<S3OutputPath>/<training job name>/output/model.tar.gz`; `outputPath` must be the definition's
   * `S3OutputPath` without a trailing slash.
   */
  public bestModelArtifactsUri(outputPath: StringValue): Join {
    return new Join('/', [
      outputPath,
      new StepProperty(this.name, 'BestTrainingJob.TrainingJobName'),
      'output',
      'model.tar.gz',
    ]);
  }

  public problems(): string[] {
    const problems = [
      ...super.problems(),
      ...trainingSecurityProblems(this.arguments.TrainingJobDefinition, 'TrainingJobDefinition'),
      ...tagProblems(this.arguments.Tags),
    ];
    const limits = this.arguments.HyperParameterTuningJobConfig.ResourceLimits;
    const { MaxNumberOfTrainingJobs: max, MaxParallelTrainingJobs: parallel } = limits;
    if (isLiteralNumber(max) && !(Number.isInteger(max) && max >= 1)) {
      problems.push(`MaxNumberOfTrainingJobs must be a positive integer, got ${max}`);
    }
    if (isLiteralNumber(parallel) && !(Number.isInteger(parallel) && parallel >= 1)) {
      problems.push(`MaxParallelTrainingJobs must be a positive integer, got ${parallel}`);
    }
    if (isLiteralNumber(max) && isLiteralNumber(parallel) && parallel > max) {
      problems.push(`MaxParallelTrainingJobs (${parallel}) must not exceed MaxNumberOfTrainingJobs (${max})`);
    }
    return problems;
  }

  protected renderArguments(ctx: RenderContext): unknown {
    return renderValue(this.arguments, ctx);
  }
}

export interface RegisterModelStepProps extends RetryableStepProps {
  readonly arguments: RegisterModelArguments;
}

export class RegisterModelStep extends RetryableStep {
  public readonly type = 'RegisterModel' as const;
  public readonly arguments: RegisterModelArguments;

  constructor(name: string, props: RegisterModelStepProps) {
    super(name, props);
    this.arguments = props.arguments;
  }

  protected renderArguments(ctx: RenderContext): unknown {
    return renderValue(this.arguments, ctx);
  }
}

export interface LambdaStepProps extends StepProps {
  /** The function the orchestrator invokes (synchronously; at most 10 minutes). */
  readonly functionArn: string;
  /** The function's event; may hold pipeline expressions. */
  readonly arguments: Readonly<Record<string, AnyValue>>;
  /** Keys of the function's returned object that later steps read (all declared String). */
  readonly outputs: readonly string[];
}

/** Invokes a Lambda function; later steps read the keys it returns through `output(name)`. */
export class LambdaStep extends Step {
  public readonly type = 'Lambda' as const;

  constructor(
    name: string,
    private readonly lambdaProps: LambdaStepProps,
  ) {
    super(name, lambdaProps);
  }

  /** A value the function returned. */
  public output(name: string): StepProperty<'String'> {
    if (!this.lambdaProps.outputs.includes(name)) {
      throw new Error(`Lambda step '${this.name}' declares no output '${name}' (outputs: ${this.lambdaProps.outputs.join(', ') || 'none'})`);
    }
    return new StepProperty(this.name, `OutputParameters['${name}']`);
  }

  public problems(): string[] {
    const problems = super.problems();
    if (this.lambdaProps.outputs.length === 0) problems.push('declares no outputs: a Lambda step is read through them');
    if (new Set(this.lambdaProps.outputs).size !== this.lambdaProps.outputs.length) problems.push('declares an output twice');
    return problems;
  }

  protected renderArguments(ctx: RenderContext): unknown {
    return renderValue(this.lambdaProps.arguments, ctx);
  }

  protected renderExtras(ctx: RenderContext): Record<string, unknown> {
    return {
      ...super.renderExtras(ctx),
      FunctionArn: renderValue(this.lambdaProps.functionArn, ctx),
      OutputParameters: this.lambdaProps.outputs.map((OutputName) => ({ OutputName, OutputType: 'String' })),
    };
  }
}

export interface FailStepProps extends StepProps {
  /** Why the execution failed; may join runtime values (`Join`). */
  readonly errorMessage: StringValue;
}

/** Ends the execution as failed with a message. */
export class FailStep extends Step {
  public readonly type = 'Fail' as const;

  constructor(
    name: string,
    private readonly failProps: FailStepProps,
  ) {
    super(name, failProps);
  }

  protected renderArguments(ctx: RenderContext): unknown {
    return { ErrorMessage: renderValue(this.failProps.errorMessage, ctx) };
  }
}

export interface ConditionStepProps extends StepProps {
  /** All must hold for `ifSteps` to run; otherwise `elseSteps` run. */
  readonly conditions: readonly Condition[];
  /** @default none */
  readonly ifSteps?: readonly Step[];
  /** @default none */
  readonly elseSteps?: readonly Step[];
}

/** Runs one of two lists of steps. Branch steps are part of the pipeline: their names must be unique too. */
export class ConditionStep extends Step {
  public readonly type = 'Condition' as const;

  constructor(
    name: string,
    private readonly conditionProps: ConditionStepProps,
  ) {
    super(name, conditionProps);
  }

  public children(): readonly Step[] {
    return [...(this.conditionProps.ifSteps ?? []), ...(this.conditionProps.elseSteps ?? [])];
  }

  public problems(): string[] {
    const problems = super.problems();
    if (this.conditionProps.conditions.length === 0) problems.push('needs at least one condition');
    if (this.children().length === 0) problems.push('needs at least one step in ifSteps or elseSteps');
    return problems;
  }

  protected renderArguments(ctx: RenderContext, renderer: StepRenderer): unknown {
    return {
      Conditions: this.conditionProps.conditions.map((c) => c.render(ctx)),
      IfSteps: (this.conditionProps.ifSteps ?? []).map((s) => renderer.renderStep(s)),
      ElseSteps: (this.conditionProps.elseSteps ?? []).map((s) => renderer.renderStep(s)),
    };
  }
}

// ---------------------------------------------------------------- security invariants of every job

function vpcProblems(vpc: VpcConfig | undefined, at: string): string[] {
  if (!vpc) return [`${at}.VpcConfig is required: jobs run in the platform's private subnets`];
  const problems: string[] = [];
  if (vpc.Subnets.length === 0) problems.push(`${at}.VpcConfig.Subnets must not be empty`);
  if (vpc.SecurityGroupIds.length === 0) problems.push(`${at}.VpcConfig.SecurityGroupIds must not be empty`);
  return problems;
}

const present = (v: unknown) => v !== undefined && v !== '';

function processingSecurityProblems(a: ProcessingJobArguments): string[] {
  const problems: string[] = [];
  const net = a.NetworkConfig;
  problems.push(...vpcProblems(net?.VpcConfig, 'NetworkConfig'));
  if (net?.EnableNetworkIsolation !== true) problems.push('NetworkConfig.EnableNetworkIsolation must be true');
  if (net?.EnableInterContainerTrafficEncryption !== true) {
    problems.push('NetworkConfig.EnableInterContainerTrafficEncryption must be true');
  }
  if (!present(a.ProcessingResources.ClusterConfig.VolumeKmsKeyId)) {
    problems.push('ProcessingResources.ClusterConfig.VolumeKmsKeyId is required');
  }
  if (a.ProcessingOutputConfig && !present(a.ProcessingOutputConfig.KmsKeyId)) {
    problems.push('ProcessingOutputConfig.KmsKeyId is required');
  }
  if (!a.StoppingCondition) problems.push('StoppingCondition.MaxRuntimeInSeconds is required');
  return problems;
}

function trainingSecurityProblems(a: TrainingJobCommon, at: string): string[] {
  const problems = vpcProblems(a.VpcConfig, at);
  if (a.EnableNetworkIsolation !== true) problems.push(`${at}.EnableNetworkIsolation must be true`);
  if (a.EnableInterContainerTrafficEncryption !== true) {
    problems.push(`${at}.EnableInterContainerTrafficEncryption must be true`);
  }
  if (!present(a.ResourceConfig.VolumeKmsKeyId)) problems.push(`${at}.ResourceConfig.VolumeKmsKeyId is required`);
  if (!present(a.OutputDataConfig.KmsKeyId)) problems.push(`${at}.OutputDataConfig.KmsKeyId is required`);
  const spot = a.EnableManagedSpotTraining;
  const { MaxRuntimeInSeconds: runtime, MaxWaitTimeInSeconds: wait } = a.StoppingCondition;
  if (spot !== undefined && typeof spot !== 'boolean') {
    // MaxWaitTimeInSeconds is valid only with spot, and nothing in a definition can add or drop it at run time.
    problems.push(`${at}.EnableManagedSpotTraining must be a literal boolean, not a runtime expression`);
  }
  if (spot === true) {
    if (wait === undefined) problems.push(`${at}.StoppingCondition.MaxWaitTimeInSeconds is required with spot training`);
    if (isLiteralNumber(wait) && isLiteralNumber(runtime) && wait < runtime) {
      problems.push(`${at}.StoppingCondition.MaxWaitTimeInSeconds (${wait}) must be at least MaxRuntimeInSeconds (${runtime})`);
    }
    if (!a.CheckpointConfig || !present(a.CheckpointConfig.S3Uri)) {
      problems.push(`${at}.CheckpointConfig.S3Uri is required with spot training: interruptions resume from it`);
    }
  } else if (spot === false || spot === undefined) {
    if (wait !== undefined) problems.push(`${at}.StoppingCondition.MaxWaitTimeInSeconds is only valid with spot training`);
  }
  return problems;
}
