import {
  DescribeHyperParameterTuningJobCommand,
  DescribeHyperParameterTuningJobCommandOutput,
  DescribePipelineExecutionCommand,
  DescribeProcessingJobCommand,
  DescribeTrainingJobCommand,
  DescribeTransformJobCommand,
  HyperParameterTuningJobObjective,
  HyperParameterTrainingJobSummary,
  ListPipelineExecutionsCommand,
  ListPipelineExecutionStepsCommand,
  ListPipelineParametersForExecutionCommand,
  ListTrainingJobsForHyperParameterTuningJobCommand,
  PipelineExecutionStep,
  PipelineExecutionSummary,
  SageMakerClient,
  TrainingJobSortByOptions,
} from '@aws-sdk/client-sagemaker';

/**
 * What a pipeline's runs did and cost, and what a tuning job found (`scripts/pipeline.ts`): recent executions
 * with their parameters and steps, each training and processing job's instances, billable time and estimated
 * cost, and a tuning job's training jobs ranked by the objective metric.
 *
 * Costs are estimates from prices the caller supplies (USD per instance-hour by instance type); there is no
 * built-in price table, so a type without a price gives no cost, and a note names it. Every AWS call that fails
 * is an error that names the call and what it was about: nothing is skipped silently.
 */

/** USD per instance-hour by SageMaker instance type, e.g. `{ "ml.g5.2xlarge": 1.515 }`. */
export type InstancePrices = Readonly<Record<string, number>>;

/** How `--prices` must look; the message of every problem ends with it. */
export const PRICES_ALLOWED = 'a JSON object of instance type -> positive USD per instance-hour, e.g. {"ml.g5.2xlarge": 1.515}';

const INSTANCE_TYPE = /^ml\.[a-z0-9-]+\.[a-z0-9]+$/;

/** The prices in `text` (the contents of `source`); throws naming `source` and every bad entry. */
export function parsePrices(text: string, source: string): InstancePrices {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source} is not JSON (${(e as Error).message}); allowed: ${PRICES_ALLOWED}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${source} holds ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}; allowed: ${PRICES_ALLOWED}`);
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) throw new Error(`${source} holds no prices; allowed: ${PRICES_ALLOWED}`);
  const problems = entries.flatMap(([type, price]) => [
    ...(INSTANCE_TYPE.test(type) ? [] : [`${JSON.stringify(type)} is not a SageMaker instance type (ml.<family>.<size>)`]),
    ...(typeof price === 'number' && Number.isFinite(price) && price > 0 ? [] : [`${JSON.stringify(type)} has ${JSON.stringify(price)}, not a positive number`]),
  ]);
  if (problems.length) throw new Error(`${source}: ${problems.join('; ')}; allowed: ${PRICES_ALLOWED}`);
  return Object.fromEntries(entries) as InstancePrices;
}

// ---- small pure functions: durations, cost, spot savings, ranking

/** Seconds from `start` to `end` (milliseconds kept), or null without both. */
export function durationSeconds(start: Date | undefined, end: Date | undefined): number | null {
  if (!start || !end) return null;
  return (end.getTime() - start.getTime()) / 1000;
}

/** Rounds away floating-point noise: USD to 1/100 of a cent, fractions to 4 places. */
const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

export interface InstanceGroup {
  readonly type: string;
  readonly count: number;
}

export interface CostEstimate {
  /** Billable seconds x instances x hourly price / 3600, summed over the groups; null without every price. */
  readonly usd: number | null;
  /** Why `usd` is null. */
  readonly notes: readonly string[];
}

/**
 * Estimated cost of a job that ran `billableSeconds` (wall clock, per instance) on `instances`:
 * billable seconds x instance count x price per hour / 3600, with `prices` in USD per instance-hour.
 */
export function estimateCost(billableSeconds: number | null, instances: readonly InstanceGroup[], prices: InstancePrices = {}): CostEstimate {
  const missing = [...new Set(instances.filter((g) => prices[g.type] === undefined).map((g) => g.type))];
  const notes = [
    ...(billableSeconds === null ? ['no billable time yet (the job has not ended)'] : []),
    ...missing.map((t) => `no price for ${t}`),
    ...(instances.length === 0 ? ['no instance type in the job description'] : []),
  ];
  if (notes.length) return { usd: null, notes };
  return { usd: round4(instances.reduce((sum, g) => sum + (billableSeconds! * g.count * prices[g.type]) / 3600, 0)), notes: [] };
}

/** Managed spot training's saving, 1 - billable / training time (0.7 = 70 % less than on demand); null without both. */
export function spotSavings(billableSeconds: number | null, trainingSeconds: number | null): number | null {
  if (billableSeconds === null || trainingSeconds === null || trainingSeconds <= 0) return null;
  return round4(1 - billableSeconds / trainingSeconds);
}

/** Compute of one job, or of a tuning job's training jobs together. */
export interface JobCompute {
  /** Distinct instance groups (a heterogeneous training cluster has several). */
  readonly instances: readonly InstanceGroup[];
  /** Wall-clock billable seconds; null until the job ends. */
  readonly billableSeconds: number | null;
  /** Billable seconds x instance count: what the prices apply to. */
  readonly instanceSeconds: number | null;
  /** Training jobs: seconds of training (with spot, more than the billable seconds). */
  readonly trainingSeconds?: number | null;
  /** Training jobs: managed spot training. */
  readonly spot?: boolean;
  /** With spot: 1 - billable / training seconds. */
  readonly spotSavings?: number | null;
  /** Tuning steps: how many training jobs the figures add up. */
  readonly trainingJobs?: number;
  readonly estimatedCostUsd: number | null;
  /** Why a figure is null. */
  readonly notes: readonly string[];
}

function compute(instances: InstanceGroup[], billableSeconds: number | null, prices: InstancePrices | undefined, extra: Partial<JobCompute> = {}): JobCompute {
  const cost = estimateCost(billableSeconds, instances, prices);
  const instanceSeconds = billableSeconds === null ? null : round4(instances.reduce((s, g) => s + billableSeconds * g.count, 0));
  return { instances, billableSeconds, instanceSeconds, ...extra, estimatedCostUsd: cost.usd, notes: cost.notes };
}

/** Adds up computes (a tuning step's training jobs, an execution's steps); a sum is null if any part is. */
export function sumCompute(parts: readonly JobCompute[]): Pick<JobCompute, 'billableSeconds' | 'instanceSeconds' | 'estimatedCostUsd'> {
  const total = (pick: (c: JobCompute) => number | null) => (parts.some((c) => pick(c) === null) ? null : round4(parts.reduce((s, c) => s + pick(c)!, 0)));
  return { billableSeconds: total((c) => c.billableSeconds), instanceSeconds: total((c) => c.instanceSeconds), estimatedCostUsd: total((c) => c.estimatedCostUsd) };
}

export type ObjectiveType = 'Minimize' | 'Maximize';

export interface RankedTrainingJob {
  /** 1 = best; null for a job without an objective value (those come last). */
  readonly rank: number | null;
  readonly name: string;
  readonly status: string | null;
  readonly objectiveValue: number | null;
  readonly objectiveStatus: string | null;
  readonly hyperparameters: Readonly<Record<string, string>>;
  /** Training end - start; null while it runs. */
  readonly trainingSeconds: number | null;
  readonly failureReason: string | null;
}

/**
 * Ranks a tuning job's training jobs by the objective (ascending for Minimize, descending for Maximize);
 * jobs without an objective value follow, oldest first. Equal values keep the order given.
 */
export function rankTrainingJobs(summaries: readonly HyperParameterTrainingJobSummary[], type: ObjectiveType): RankedTrainingJob[] {
  const value = (s: HyperParameterTrainingJobSummary) => s.FinalHyperParameterTuningJobObjectiveMetric?.Value ?? null;
  const scored = summaries.filter((s) => value(s) !== null);
  const unscored = summaries.filter((s) => value(s) === null);
  const sign = type === 'Minimize' ? 1 : -1;
  const ordered = [
    ...[...scored].sort((a, b) => sign * (value(a)! - value(b)!)),
    ...[...unscored].sort((a, b) => (a.CreationTime?.getTime() ?? 0) - (b.CreationTime?.getTime() ?? 0)),
  ];
  return ordered.map((s, i) => ({
    rank: value(s) === null ? null : i + 1,
    name: s.TrainingJobName!,
    status: s.TrainingJobStatus ?? null,
    objectiveValue: value(s),
    objectiveStatus: s.ObjectiveStatus ?? null,
    hyperparameters: s.TunedHyperParameters ?? {},
    trainingSeconds: durationSeconds(s.TrainingStartTime, s.TrainingEndTime),
    failureReason: s.FailureReason || null,
  }));
}

// ---- AWS calls

/** Runs one AWS call; a failure becomes an error naming the call and its subject. */
async function aws<T>(call: string, subject: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    const err = e as Error & { $metadata?: { httpStatusCode?: number } };
    const status = err.$metadata?.httpStatusCode ? ` (HTTP ${err.$metadata.httpStatusCode})` : '';
    throw new Error(`${call} ${subject}: ${err.name}: ${String(err.message).split('\n')[0]}${status}`, { cause: e });
  }
}

/** The resource's name in an ARN: `training-job/<name>`, `model-package/<group>/<version>`, `function:<name>`. */
export function nameFromArn(arn: string): string {
  return arn.split(':').slice(5).join(':').replace(/^[^/:]+[/:]/, '');
}

export interface ExecutionSummary {
  readonly arn: string;
  readonly displayName: string | null;
  readonly status: string | null;
  readonly start: string | null;
  /** When a finished execution (Succeeded, Failed, Stopped) last changed; null while it runs. */
  readonly end: string | null;
  readonly durationSeconds: number | null;
  readonly failureReason: string | null;
  /** Name -> value, as the execution ran (defaults included). */
  readonly parameters: Readonly<Record<string, string>>;
}

const FINISHED = new Set(['Succeeded', 'Failed', 'Stopped']);
const iso = (d: Date | undefined) => d?.toISOString() ?? null;

/**
 * The `limit` newest executions of a pipeline, newest first, with status, times and parameters:
 * ListPipelineExecutions (pages until `limit`), then DescribePipelineExecution and
 * ListPipelineParametersForExecution for each.
 */
export async function listExecutions(sm: SageMakerClient, pipelineName: string, limit: number): Promise<ExecutionSummary[]> {
  const summaries: PipelineExecutionSummary[] = [];
  let token: string | undefined;
  do {
    const out = await aws('ListPipelineExecutions', pipelineName, () =>
      sm.send(new ListPipelineExecutionsCommand({ PipelineName: pipelineName, SortBy: 'CreationTime', SortOrder: 'Descending', MaxResults: Math.min(limit, 100), NextToken: token })),
    );
    summaries.push(...(out.PipelineExecutionSummaries ?? []));
    token = out.NextToken;
  } while (token && summaries.length < limit);
  // Newest first whatever the service's order; equal start times keep it.
  const newest = [...summaries].sort((a, b) => (b.StartTime?.getTime() ?? 0) - (a.StartTime?.getTime() ?? 0)).slice(0, limit);
  const executions: ExecutionSummary[] = [];
  for (const s of newest) {
    const arn = s.PipelineExecutionArn!;
    const d = await aws('DescribePipelineExecution', arn, () => sm.send(new DescribePipelineExecutionCommand({ PipelineExecutionArn: arn })));
    const status = d.PipelineExecutionStatus ?? s.PipelineExecutionStatus ?? null;
    const start = s.StartTime ?? d.CreationTime;
    const end = status && FINISHED.has(status) ? d.LastModifiedTime : undefined;
    executions.push({
      arn,
      displayName: d.PipelineExecutionDisplayName ?? s.PipelineExecutionDisplayName ?? null,
      status,
      start: iso(start),
      end: iso(end),
      durationSeconds: durationSeconds(start, end),
      failureReason: d.FailureReason || null,
      parameters: await executionParameters(sm, arn),
    });
  }
  return executions;
}

async function executionParameters(sm: SageMakerClient, arn: string): Promise<Record<string, string>> {
  const parameters: Record<string, string> = {};
  let token: string | undefined;
  do {
    const out = await aws('ListPipelineParametersForExecution', arn, () => sm.send(new ListPipelineParametersForExecutionCommand({ PipelineExecutionArn: arn, NextToken: token })));
    for (const p of out.PipelineParameters ?? []) parameters[p.Name!] = p.Value ?? '';
    token = out.NextToken;
  } while (token);
  return parameters;
}

export interface StepReport {
  readonly name: string;
  /** The step type, from the metadata the step has (Training, Processing, Tuning, RegisterModel, ...); null before it starts. */
  readonly type: string | null;
  readonly status: string | null;
  readonly start: string | null;
  readonly end: string | null;
  readonly durationSeconds: number | null;
  readonly failureReason: string | null;
  readonly attempts: number | null;
  /** A cache hit: the execution whose job this step reused (not counted in this execution's totals). */
  readonly cachedFrom: string | null;
  /** The SageMaker resource or function behind the step. */
  readonly job: { readonly kind: string; readonly name: string; readonly arn: string } | null;
  /** Training, processing and tuning steps. */
  readonly compute?: JobCompute;
  /** Training: the job's final metrics; tuning: those of the best training job. */
  readonly metrics?: Readonly<Record<string, number>>;
  /** Tuning: the best training job. */
  readonly bestTrainingJob?: string | null;
  /** RegisterModel: the model package version. */
  readonly modelPackageArn?: string;
  /** Condition: 'True' or 'False'. */
  readonly outcome?: string;
  /** Lambda and Callback: output parameters. */
  readonly outputs?: Readonly<Record<string, string>>;
  /** Fail: the message. */
  readonly errorMessage?: string;
}

/** Metadata key -> step type as pipeline definitions name it (other keys are their own type). */
const STEP_TYPES: Record<string, string> = { TrainingJob: 'Training', ProcessingJob: 'Processing', TransformJob: 'Transform', TuningJob: 'Tuning', AutoMLJob: 'AutoML' };

async function trainingCompute(sm: SageMakerClient, name: string, prices: InstancePrices | undefined): Promise<{ compute: JobCompute; metrics: Record<string, number> }> {
  const job = await aws('DescribeTrainingJob', name, () => sm.send(new DescribeTrainingJobCommand({ TrainingJobName: name })));
  const rc = job.ResourceConfig;
  const instances = rc?.InstanceGroups?.length
    ? rc.InstanceGroups.map((g) => ({ type: g.InstanceType!, count: g.InstanceCount ?? 1 }))
    : rc?.InstanceType
      ? [{ type: rc.InstanceType, count: rc.InstanceCount ?? 1 }]
      : [];
  const billable = job.BillableTimeInSeconds ?? null;
  const training = job.TrainingTimeInSeconds ?? null;
  const spot = job.EnableManagedSpotTraining === true;
  return {
    compute: compute(instances, billable, prices, { trainingSeconds: training, spot, spotSavings: spot ? spotSavings(billable, training) : null }),
    metrics: Object.fromEntries((job.FinalMetricDataList ?? []).map((m) => [m.MetricName!, m.Value!])),
  };
}

async function processingCompute(sm: SageMakerClient, name: string, prices: InstancePrices | undefined): Promise<JobCompute> {
  const job = await aws('DescribeProcessingJob', name, () => sm.send(new DescribeProcessingJobCommand({ ProcessingJobName: name })));
  const cluster = job.ProcessingResources?.ClusterConfig;
  const instances = cluster?.InstanceType ? [{ type: cluster.InstanceType, count: cluster.InstanceCount ?? 1 }] : [];
  // Processing is billed from start to end of the job's instances.
  return compute(instances, durationSeconds(job.ProcessingStartTime, job.ProcessingEndTime), prices);
}

async function transformCompute(sm: SageMakerClient, name: string, prices: InstancePrices | undefined): Promise<JobCompute> {
  const job = await aws('DescribeTransformJob', name, () => sm.send(new DescribeTransformJobCommand({ TransformJobName: name })));
  const r = job.TransformResources;
  const instances = r?.InstanceType ? [{ type: r.InstanceType, count: r.InstanceCount ?? 1 }] : [];
  return compute(instances, durationSeconds(job.TransformStartTime, job.TransformEndTime), prices);
}

/** Steps that run compute this module does not price: an execution with one has no total cost. */
const NOT_ESTIMATED = new Set(['AutoMLJob', 'EMR', 'BedrockCustomModel', 'Job']);

/** The training jobs of a tuning job, every page (or pages until `enough`). */
async function tuningTrainingJobs(
  sm: SageMakerClient,
  tuningJob: string,
  sortBy: TrainingJobSortByOptions,
  sortOrder: 'Ascending' | 'Descending',
  enough = Infinity,
): Promise<HyperParameterTrainingJobSummary[]> {
  const jobs: HyperParameterTrainingJobSummary[] = [];
  let token: string | undefined;
  do {
    const out = await aws('ListTrainingJobsForHyperParameterTuningJob', tuningJob, () =>
      sm.send(new ListTrainingJobsForHyperParameterTuningJobCommand({ HyperParameterTuningJobName: tuningJob, SortBy: sortBy, SortOrder: sortOrder, MaxResults: 100, NextToken: token })),
    );
    jobs.push(...(out.TrainingJobSummaries ?? []));
    token = out.NextToken;
  } while (token && jobs.length < enough);
  return jobs;
}

async function describeTuningJob(sm: SageMakerClient, name: string): Promise<DescribeHyperParameterTuningJobCommandOutput> {
  return aws('DescribeHyperParameterTuningJob', name, () => sm.send(new DescribeHyperParameterTuningJobCommand({ HyperParameterTuningJobName: name })));
}

/** A tuning step: every training job described and added up; metrics of the best one. */
async function tuningStepDetails(sm: SageMakerClient, name: string, prices: InstancePrices | undefined): Promise<Pick<StepReport, 'compute' | 'metrics' | 'bestTrainingJob'>> {
  const tuning = await describeTuningJob(sm, name);
  const best = tuning.BestTrainingJob?.TrainingJobName ?? null;
  const parts: JobCompute[] = [];
  let metrics: Record<string, number> = {};
  for (const s of await tuningTrainingJobs(sm, name, 'Name', 'Ascending')) {
    const job = await trainingCompute(sm, s.TrainingJobName!, prices);
    parts.push(job.compute);
    if (s.TrainingJobName === best) metrics = job.metrics;
  }
  const instances = [...new Map(parts.flatMap((c) => c.instances).map((g) => [`${g.type}x${g.count}`, g])).values()];
  const sums = sumCompute(parts);
  const training = parts.some((c) => c.trainingSeconds == null) ? null : round4(parts.reduce((s, c) => s + c.trainingSeconds!, 0));
  const spot = parts.some((c) => c.spot);
  const notes = [...new Set(parts.flatMap((c) => c.notes))];
  return {
    compute: { instances, ...sums, trainingSeconds: training, spot, spotSavings: spot ? spotSavings(sums.billableSeconds, training) : null, trainingJobs: parts.length, notes },
    metrics,
    bestTrainingJob: best,
  };
}

/** One step: what ListPipelineExecutionSteps says, and for jobs the Describe* call behind it. */
async function stepReport(sm: SageMakerClient, step: PipelineExecutionStep, prices: InstancePrices | undefined): Promise<StepReport> {
  const md = (step.Metadata ?? {}) as Record<string, Record<string, any> | undefined>;
  const key = Object.keys(md).find((k) => md[k] !== undefined && md[k] !== null);
  const meta = key ? md[key]! : {};
  const arn: string | undefined = meta.Arn ?? meta.CheckJobArn;
  const report: StepReport = {
    name: step.StepName!,
    type: key ? (STEP_TYPES[key] ?? key) : null,
    status: step.StepStatus ?? null,
    start: iso(step.StartTime),
    end: iso(step.EndTime),
    durationSeconds: durationSeconds(step.StartTime, step.EndTime),
    failureReason: step.FailureReason || null,
    attempts: step.AttemptCount ?? null,
    cachedFrom: step.CacheHitResult?.SourcePipelineExecutionArn ?? null,
    job: key && arn ? { kind: key, name: nameFromArn(arn), arn } : null,
  };
  switch (key) {
    case 'TrainingJob': {
      if (!arn) return report;
      const { compute: c, metrics } = await trainingCompute(sm, nameFromArn(arn), prices);
      return { ...report, compute: c, metrics };
    }
    case 'ProcessingJob':
    case 'QualityCheck': // CheckJobArn: the processing job that ran the check
    case 'ClarifyCheck':
      return arn ? { ...report, compute: await processingCompute(sm, nameFromArn(arn), prices) } : report;
    case 'TransformJob':
      return arn ? { ...report, compute: await transformCompute(sm, nameFromArn(arn), prices) } : report;
    case 'TuningJob':
      return arn ? { ...report, ...(await tuningStepDetails(sm, nameFromArn(arn), prices)) } : report;
    case 'RegisterModel':
      return { ...report, modelPackageArn: meta.Arn };
    case 'Condition':
      return { ...report, outcome: meta.Outcome };
    case 'Lambda':
    case 'Callback':
      return { ...report, outputs: Object.fromEntries(((meta.OutputParameters ?? []) as { Name: string; Value: string }[]).map((o) => [o.Name, o.Value])) };
    case 'Fail':
      return { ...report, errorMessage: meta.ErrorMessage };
    default:
      if (key && NOT_ESTIMATED.has(key)) {
        const notes = [`the cost of ${report.type} steps is not estimated`];
        return { ...report, compute: { instances: [], billableSeconds: null, instanceSeconds: null, estimatedCostUsd: null, notes } };
      }
      return report;
  }
}

/** The steps of an execution in the order they started (ListPipelineExecutionSteps, every page). */
export async function executionSteps(sm: SageMakerClient, executionArn: string, prices?: InstancePrices): Promise<StepReport[]> {
  const steps: PipelineExecutionStep[] = [];
  let token: string | undefined;
  do {
    const out = await aws('ListPipelineExecutionSteps', executionArn, () =>
      sm.send(new ListPipelineExecutionStepsCommand({ PipelineExecutionArn: executionArn, SortOrder: 'Ascending', NextToken: token })),
    );
    steps.push(...(out.PipelineExecutionSteps ?? []));
    token = out.NextToken;
  } while (token);
  const reports: StepReport[] = [];
  for (const step of steps) reports.push(await stepReport(sm, step, prices));
  return reports;
}

export interface ExecutionTotals {
  /** Of the jobs this execution ran (cache hits excluded); null if any has none yet. */
  readonly billableSeconds: number | null;
  readonly instanceSeconds: number | null;
  /** Null if any job's cost is unknown: see `notes`. */
  readonly estimatedCostUsd: number | null;
  readonly notes: readonly string[];
}

/** Adds up the steps that ran compute in this execution. */
export function executionTotals(steps: readonly StepReport[]): ExecutionTotals {
  const counted = steps.filter((s) => s.compute && !s.cachedFrom);
  const notes = counted.flatMap((s) => s.compute!.notes.map((n) => `${s.name}: ${n}`));
  return { ...sumCompute(counted.map((s) => s.compute!)), notes };
}

export interface ExecutionReport extends ExecutionSummary {
  readonly steps: readonly StepReport[];
  readonly totals: ExecutionTotals;
}

export interface HistoryQuery {
  readonly pipelineName: string;
  /** Newest executions to show, 1 to 100. */
  readonly limit: number;
  readonly prices?: InstancePrices;
}

/** The newest executions of a pipeline with their steps, jobs, metrics and estimated costs. */
export async function pipelineHistory(sm: SageMakerClient, q: HistoryQuery): Promise<{ pipeline: string; executions: ExecutionReport[] }> {
  if (!(Number.isInteger(q.limit) && q.limit >= 1 && q.limit <= 100)) throw new Error(`limit: got ${q.limit}; allowed: a whole number from 1 to 100`);
  const executions: ExecutionReport[] = [];
  for (const e of await listExecutions(sm, q.pipelineName, q.limit)) {
    const steps = await executionSteps(sm, e.arn, q.prices);
    executions.push({ ...e, steps, totals: executionTotals(steps) });
  }
  return { pipeline: q.pipelineName, executions };
}

export interface TuningReport {
  readonly job: string;
  readonly status: string | null;
  readonly objective: { readonly metric: string; readonly type: ObjectiveType };
  readonly bestTrainingJob: { readonly name: string; readonly objectiveValue: number | null } | null;
  /** TrainingJobStatusCounters and ObjectiveStatusCounters of the tuning job. */
  readonly counts: { readonly trainingJobs: Readonly<Record<string, number>>; readonly objective: Readonly<Record<string, number>> };
  /** The best `limit` training jobs, best first; jobs without an objective value last. */
  readonly trainingJobs: readonly RankedTrainingJob[];
}

function objectiveOf(d: DescribeHyperParameterTuningJobCommandOutput): HyperParameterTuningJobObjective | undefined {
  return d.HyperParameterTuningJobConfig?.HyperParameterTuningJobObjective ?? d.TrainingJobDefinition?.TuningObjective ?? d.TrainingJobDefinitions?.[0]?.TuningObjective;
}

/**
 * A tuning job's training jobs ranked by its objective. ListTrainingJobsForHyperParameterTuningJob sorted
 * by FinalObjectiveMetricValue (ascending for Minimize) gives the best first, but leaves out jobs without an
 * objective value; when fewer than `limit` have one, a second listing (by creation time) adds the others.
 */
export async function tuningResults(sm: SageMakerClient, q: { readonly jobName: string; readonly limit: number }): Promise<TuningReport> {
  if (!(Number.isInteger(q.limit) && q.limit >= 1 && q.limit <= 100)) throw new Error(`limit: got ${q.limit}; allowed: a whole number from 1 to 100`);
  const d = await describeTuningJob(sm, q.jobName);
  const objective = objectiveOf(d);
  if (!objective?.MetricName || !objective.Type) throw new Error(`DescribeHyperParameterTuningJob ${q.jobName}: no objective metric in the tuning job's configuration`);
  const type = objective.Type as ObjectiveType;
  const ranked = await tuningTrainingJobs(sm, q.jobName, 'FinalObjectiveMetricValue', type === 'Minimize' ? 'Ascending' : 'Descending', q.limit);
  let jobs = ranked;
  if (ranked.length < q.limit) {
    const seen = new Set(ranked.map((s) => s.TrainingJobName));
    const all = await tuningTrainingJobs(sm, q.jobName, 'CreationTime', 'Ascending');
    jobs = [...ranked, ...all.filter((s) => !seen.has(s.TrainingJobName))];
  }
  const best = d.BestTrainingJob;
  return {
    job: q.jobName,
    status: d.HyperParameterTuningJobStatus ?? null,
    objective: { metric: objective.MetricName, type },
    bestTrainingJob: best?.TrainingJobName ? { name: best.TrainingJobName, objectiveValue: best.FinalHyperParameterTuningJobObjectiveMetric?.Value ?? null } : null,
    counts: { trainingJobs: { ...(d.TrainingJobStatusCounters ?? {}) }, objective: { ...(d.ObjectiveStatusCounters ?? {}) } },
    trainingJobs: rankTrainingJobs(jobs, type).slice(0, q.limit),
  };
}
