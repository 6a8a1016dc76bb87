import {
  CreatePipelineCommand,
  DescribeHyperParameterTuningJobCommand,
  DescribePipelineExecutionCommand,
  DescribeProcessingJobCommand,
  DescribeProcessingJobCommandOutput,
  DescribeTrainingJobCommand,
  DescribeTrainingJobCommandOutput,
  HyperParameterTrainingJobSummary,
  ListPipelineExecutionsCommand,
  ListPipelineExecutionStepsCommand,
  ListPipelineParametersForExecutionCommand,
  ListTrainingJobsForHyperParameterTuningJobCommand,
  PipelineExecutionStep,
  SageMakerClient,
  StartPipelineExecutionCommand,
} from '@aws-sdk/client-sagemaker';
import { mockClient } from 'aws-sdk-client-mock';
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { HelpRequested, UsageError } from '../../lib/operations/cli';
import { parsePipelineCommand, runCli } from '../../lib/operations/pipeline-cli';
import {
  durationSeconds,
  estimateCost,
  listExecutions,
  parsePrices,
  pipelineHistory,
  rankTrainingJobs,
  spotSavings,
  sumCompute,
  tuningResults,
} from '../../lib/operations/pipeline-history';
import { hereDocument, shellBlocks } from '../cli/readme-commands';
import { MotoServer, motoClientConfig, startMoto } from '../support/moto';

// What moto implements (CreatePipeline, StartPipelineExecution, ListPipelineExecutions,
// DescribePipelineExecution, ListPipelineParametersForExecution) runs against a moto server on loopback.
// moto has no ListPipelineExecutionSteps nor ListTrainingJobsForHyperParameterTuningJob, so steps, jobs and
// tuning results come from aws-sdk-client-mock on one client instance (no other client is patched), with
// responses shaped as the SageMaker API documents them.

const ROOT = path.join(__dirname, '..', '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const run = promisify(execFile);

const PIPELINE = 'fmft-dev-fine-tuning';
const ARN = 'arn:aws:sagemaker:us-east-1:123456789012';
const execution = (id: string) => `${ARN}:pipeline/${PIPELINE}/execution/${id}`;
const E1 = execution('a1b2c3d4e5f6'); // oldest: succeeded
const E2 = execution('g7h8i9j0k1l2'); // failed in training; data preparation reused from E1
const E3 = execution('m3n4o5p6q7r8'); // newest: still training
const t = (iso: string) => new Date(iso);

const PRICES = { 'ml.m5.xlarge': 0.23, 'ml.g5.2xlarge': 1.515, 'ml.g5.xlarge': 1.408 };

/** A client whose calls aws-sdk-client-mock answers (only this instance is mocked). */
function mocked() {
  const sm = new SageMakerClient({ region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  return { sm, mock: mockClient(sm) };
}

function processingJob(name: string, instanceType: string, start: string, end: string): Partial<DescribeProcessingJobCommandOutput> {
  return {
    ProcessingJobName: name,
    ProcessingJobArn: `${ARN}:processing-job/${name}`,
    ProcessingJobStatus: 'Completed',
    ProcessingResources: { ClusterConfig: { InstanceType: instanceType as any, InstanceCount: 1, VolumeSizeInGB: 30 } },
    AppSpecification: { ImageUri: '763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.5.1-gpu-py311' },
    StoppingCondition: { MaxRuntimeInSeconds: 86400 },
    RoleArn: `arn:aws:iam::123456789012:role/fmft-dev-pipeline-jobs`,
    CreationTime: t(start),
    ProcessingStartTime: t(start),
    ProcessingEndTime: t(end),
  };
}

function trainingJob(name: string, o: Partial<DescribeTrainingJobCommandOutput> & { type?: string; count?: number }): Partial<DescribeTrainingJobCommandOutput> {
  const { type = 'ml.g5.2xlarge', count = 1, ...rest } = o;
  return {
    TrainingJobName: name,
    TrainingJobArn: `${ARN}:training-job/${name}`,
    TrainingJobStatus: 'Completed',
    SecondaryStatus: 'Completed',
    AlgorithmSpecification: { TrainingImage: '763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-training:2.5.1', TrainingInputMode: 'File' },
    ResourceConfig: { InstanceType: type as any, InstanceCount: count, VolumeSizeInGB: 200 },
    StoppingCondition: { MaxRuntimeInSeconds: 86400, MaxWaitTimeInSeconds: 172800 },
    ModelArtifacts: { S3ModelArtifacts: `s3://fmft-dev-model-artifacts/models/final/${name}/output/model.tar.gz` },
    CreationTime: t('2026-11-18T08:12:10Z'),
    ...rest,
  };
}

const PREPARE_1 = 'pipelines-a1b2c3d4e5f6-PrepareData-x1y2z3w4v5';
const TRAIN_1 = 'pipelines-a1b2c3d4e5f6-FineTune-Ab3dE5fG7h';
const EVAL_1 = 'pipelines-a1b2c3d4e5f6-EvaluateModel-k9L8m7N6';
const TRAIN_2 = 'pipelines-g7h8i9j0k1l2-FineTune-Qr5sT6uV7w';
const PREPARE_3 = 'pipelines-m3n4o5p6q7r8-PrepareData-p0O9i8U7y6';
const TRAIN_3 = 'pipelines-m3n4o5p6q7r8-FineTune-Zx1cV2bN3m';
const PACKAGE = `${ARN}:model-package/fmft-dev-fine-tuning-models/7`;
const OOM = 'AlgorithmError: ExecuteUserScriptError:\nExitCode 1\nErrorMessage "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"';

const processingStep = (name: string, job: string, start: string, end: string, extra: Partial<PipelineExecutionStep> = {}): PipelineExecutionStep => ({
  StepName: name,
  StepStatus: 'Succeeded',
  StartTime: t(start),
  EndTime: t(end),
  AttemptCount: 1,
  Metadata: { ProcessingJob: { Arn: `${ARN}:processing-job/${job}` } },
  ...extra,
});

/** Three executions of the fine-tuning pipeline, on two pages, with steps and jobs. */
function historyFixture() {
  const { sm, mock } = mocked();
  mock.on(ListPipelineExecutionsCommand).resolves({
    PipelineExecutionSummaries: [
      { PipelineExecutionArn: E3, StartTime: t('2026-11-20T08:00:00Z'), PipelineExecutionStatus: 'Executing', PipelineExecutionDisplayName: 'scheduled-20261120' },
      {
        PipelineExecutionArn: E2,
        StartTime: t('2026-11-19T08:00:00Z'),
        PipelineExecutionStatus: 'Failed',
        PipelineExecutionDisplayName: 'scheduled-20261119',
        PipelineExecutionFailureReason: 'Step failure: One or multiple steps failed.',
      },
    ],
    NextToken: 'executions-page-2',
  });
  mock.on(ListPipelineExecutionsCommand, { NextToken: 'executions-page-2' }).resolves({
    PipelineExecutionSummaries: [{ PipelineExecutionArn: E1, StartTime: t('2026-11-18T08:00:00Z'), PipelineExecutionStatus: 'Succeeded', PipelineExecutionDisplayName: 'manual-lr-2e-4' }],
  });
  const describe = (arn: string, status: string, created: string, modified: string, extra = {}) =>
    mock.on(DescribePipelineExecutionCommand, { PipelineExecutionArn: arn }).resolves({
      PipelineArn: `${ARN}:pipeline/${PIPELINE}`,
      PipelineExecutionArn: arn,
      PipelineExecutionDisplayName: { [E1]: 'manual-lr-2e-4', [E2]: 'scheduled-20261119', [E3]: 'scheduled-20261120' }[arn],
      PipelineExecutionStatus: status as any,
      CreationTime: t(created),
      LastModifiedTime: t(modified),
      ...extra,
    });
  describe(E1, 'Succeeded', '2026-11-18T08:00:00Z', '2026-11-18T10:30:00Z');
  describe(E2, 'Failed', '2026-11-19T08:00:00Z', '2026-11-19T08:40:00Z', { FailureReason: 'Step failure: One or multiple steps failed.' });
  describe(E3, 'Executing', '2026-11-20T08:00:00Z', '2026-11-20T08:20:00Z');

  mock.on(ListPipelineParametersForExecutionCommand, { PipelineExecutionArn: E1 }).resolves({
    PipelineParameters: [
      { Name: 'BaseModel', Value: 's3://fmft-dev-model-artifacts/base-models/llama-3.1-8b/' },
      { Name: 'TrainingInstanceType', Value: 'ml.g5.2xlarge' },
    ],
    NextToken: 'parameters-page-2',
  });
  mock.on(ListPipelineParametersForExecutionCommand, { PipelineExecutionArn: E1, NextToken: 'parameters-page-2' }).resolves({
    PipelineParameters: [
      { Name: 'Epochs', Value: '3' },
      { Name: 'LearningRate', Value: '0.0002' },
    ],
  });
  for (const arn of [E2, E3]) mock.on(ListPipelineParametersForExecutionCommand, { PipelineExecutionArn: arn }).resolves({ PipelineParameters: [{ Name: 'Epochs', Value: '1' }] });

  // E1: every step ran; two pages of steps.
  mock.on(ListPipelineExecutionStepsCommand, { PipelineExecutionArn: E1 }).resolves({
    PipelineExecutionSteps: [
      processingStep('PrepareData', PREPARE_1, '2026-11-18T08:00:05Z', '2026-11-18T08:12:05Z'),
      {
        StepName: 'FineTune',
        StepStatus: 'Succeeded',
        StartTime: t('2026-11-18T08:12:10Z'),
        EndTime: t('2026-11-18T09:42:10Z'),
        AttemptCount: 1,
        Metadata: { TrainingJob: { Arn: `${ARN}:training-job/${TRAIN_1}` } },
      },
    ],
    NextToken: 'steps-page-2',
  });
  mock.on(ListPipelineExecutionStepsCommand, { PipelineExecutionArn: E1, NextToken: 'steps-page-2' }).resolves({
    PipelineExecutionSteps: [
      {
        StepName: 'FindProductionVersion',
        StepStatus: 'Succeeded',
        StartTime: t('2026-11-18T09:42:12Z'),
        EndTime: t('2026-11-18T09:42:14Z'),
        AttemptCount: 1,
        Metadata: {
          Lambda: {
            Arn: 'arn:aws:lambda:us-east-1:123456789012:function:fmft-dev-champion-finder',
            OutputParameters: [
              { Name: 'hasChampion', Value: 'true' },
              { Name: 'championModelPackageArn', Value: `${ARN}:model-package/fmft-dev-fine-tuning-models/6` },
            ],
          },
        },
      },
      processingStep('EvaluateModel', EVAL_1, '2026-11-18T09:42:15Z', '2026-11-18T10:14:15Z'),
      { StepName: 'CheckModelQuality', StepStatus: 'Succeeded', StartTime: t('2026-11-18T10:14:20Z'), EndTime: t('2026-11-18T10:14:21Z'), AttemptCount: 1, Metadata: { Condition: { Outcome: 'True' } } },
      { StepName: 'RegisterModel', StepStatus: 'Succeeded', StartTime: t('2026-11-18T10:14:25Z'), EndTime: t('2026-11-18T10:14:27Z'), AttemptCount: 1, Metadata: { RegisterModel: { Arn: PACKAGE } } },
    ],
  });
  // E2: data preparation was a cache hit of E1; training ran out of GPU memory.
  mock.on(ListPipelineExecutionStepsCommand, { PipelineExecutionArn: E2 }).resolves({
    PipelineExecutionSteps: [
      processingStep('PrepareData', PREPARE_1, '2026-11-19T08:00:02Z', '2026-11-19T08:00:04Z', { CacheHitResult: { SourcePipelineExecutionArn: E1 } }),
      {
        StepName: 'FineTune',
        StepStatus: 'Failed',
        StartTime: t('2026-11-19T08:00:06Z'),
        EndTime: t('2026-11-19T08:39:50Z'),
        AttemptCount: 1,
        FailureReason: OOM,
        Metadata: { TrainingJob: { Arn: `${ARN}:training-job/${TRAIN_2}` } },
      },
    ],
  });
  // E3: training still runs.
  mock.on(ListPipelineExecutionStepsCommand, { PipelineExecutionArn: E3 }).resolves({
    PipelineExecutionSteps: [
      processingStep('PrepareData', PREPARE_3, '2026-11-20T08:00:05Z', '2026-11-20T08:10:05Z'),
      { StepName: 'FineTune', StepStatus: 'Executing', StartTime: t('2026-11-20T08:10:10Z'), AttemptCount: 1, Metadata: { TrainingJob: { Arn: `${ARN}:training-job/${TRAIN_3}` } } },
    ],
  });

  mock.on(DescribeProcessingJobCommand, { ProcessingJobName: PREPARE_1 }).resolves(processingJob(PREPARE_1, 'ml.m5.xlarge', '2026-11-18T08:02:05Z', '2026-11-18T08:12:05Z'));
  mock.on(DescribeProcessingJobCommand, { ProcessingJobName: EVAL_1 }).resolves(processingJob(EVAL_1, 'ml.g5.xlarge', '2026-11-18T09:44:15Z', '2026-11-18T10:14:15Z'));
  mock.on(DescribeProcessingJobCommand, { ProcessingJobName: PREPARE_3 }).resolves(processingJob(PREPARE_3, 'ml.m5.xlarge', '2026-11-20T08:01:05Z', '2026-11-20T08:10:05Z'));
  mock.on(DescribeTrainingJobCommand, { TrainingJobName: TRAIN_1 }).resolves(
    trainingJob(TRAIN_1, {
      count: 2,
      EnableManagedSpotTraining: true,
      TrainingStartTime: t('2026-11-18T08:14:00Z'),
      TrainingEndTime: t('2026-11-18T09:37:20Z'),
      TrainingTimeInSeconds: 5000,
      BillableTimeInSeconds: 2000,
      FinalMetricDataList: [
        { MetricName: 'train_loss', Value: 0.8123, Timestamp: t('2026-11-18T09:37:00Z') },
        { MetricName: 'eval_loss', Value: 1.0456, Timestamp: t('2026-11-18T09:37:00Z') },
      ],
    }),
  );
  mock.on(DescribeTrainingJobCommand, { TrainingJobName: TRAIN_2 }).resolves(
    trainingJob(TRAIN_2, {
      TrainingJobStatus: 'Failed',
      SecondaryStatus: 'Failed',
      FailureReason: OOM,
      TrainingStartTime: t('2026-11-19T08:02:00Z'),
      TrainingEndTime: t('2026-11-19T08:12:00Z'),
      TrainingTimeInSeconds: 600,
      BillableTimeInSeconds: 600,
    }),
  );
  mock.on(DescribeTrainingJobCommand, { TrainingJobName: TRAIN_3 }).resolves(
    trainingJob(TRAIN_3, { TrainingJobStatus: 'InProgress', SecondaryStatus: 'Training', EnableManagedSpotTraining: true, TrainingStartTime: t('2026-11-20T08:12:00Z') }),
  );
  return { sm, mock };
}

/** Training jobs of a tuning job as ListTrainingJobsForHyperParameterTuningJob returns them. */
function summary(n: number, objective: number | null, hp: Record<string, string>, extra: Partial<HyperParameterTrainingJobSummary> = {}): HyperParameterTrainingJobSummary {
  const name = `fmft-dev-tune-20261128-00${n}-5e6f7a8b`;
  const start = t(`2026-11-28T0${n}:00:00Z`);
  return {
    TrainingJobName: name,
    TrainingJobArn: `${ARN}:training-job/${name}`,
    TuningJobName: 'fmft-dev-tune-20261128',
    CreationTime: start,
    TrainingStartTime: start,
    TrainingEndTime: new Date(start.getTime() + 1800_000 + n * 60_000),
    TrainingJobStatus: 'Completed',
    TunedHyperParameters: hp,
    ...(objective === null ? {} : { FinalHyperParameterTuningJobObjectiveMetric: { MetricName: 'eval_loss', Value: objective }, ObjectiveStatus: 'Succeeded' as const }),
    ...extra,
  };
}

const hp = (lr: string, r: string, epochs: string) => ({ learning_rate: lr, lora_r: r, num_train_epochs: epochs });
const J1 = summary(1, 0.95, hp('0.0001', '16', '2'));
const J2 = summary(2, 1.1, hp('0.00005', '8', '1'));
const J3 = summary(3, 0.91, hp('0.0002', '32', '3'));
const J4 = summary(4, 1.02, hp('0.0003', '16', '1'));
const J5 = summary(5, null, hp('0.0005', '64', '3'), { TrainingJobStatus: 'Failed', ObjectiveStatus: 'Failed', FailureReason: 'AlgorithmError: CUDA out of memory', TrainingEndTime: t('2026-11-28T05:04:00Z') });

function tuningFixture(type: 'Minimize' | 'Maximize') {
  const { sm, mock } = mocked();
  const best = type === 'Minimize' ? J3 : J2;
  mock.on(DescribeHyperParameterTuningJobCommand, { HyperParameterTuningJobName: 'fmft-dev-tune-20261128' }).resolves({
    HyperParameterTuningJobName: 'fmft-dev-tune-20261128',
    HyperParameterTuningJobArn: `${ARN}:hyper-parameter-tuning-job/fmft-dev-tune-20261128`,
    HyperParameterTuningJobStatus: 'Completed',
    HyperParameterTuningJobConfig: {
      Strategy: 'Bayesian',
      HyperParameterTuningJobObjective: { Type: type, MetricName: 'eval_loss' },
      ResourceLimits: { MaxNumberOfTrainingJobs: 5, MaxParallelTrainingJobs: 2 },
    },
    CreationTime: t('2026-11-28T00:55:00Z'),
    TrainingJobStatusCounters: { Completed: 4, InProgress: 0, RetryableError: 0, NonRetryableError: 1, Stopped: 0 },
    ObjectiveStatusCounters: { Succeeded: 4, Pending: 0, Failed: 1 },
    BestTrainingJob: best,
  });
  // The service's order: by objective (only jobs with one), two pages; by creation time, every job.
  const byObjective = type === 'Minimize' ? [J3, J1, J4, J2] : [J2, J4, J1, J3];
  mock.on(ListTrainingJobsForHyperParameterTuningJobCommand, { SortBy: 'FinalObjectiveMetricValue' }).resolves({ TrainingJobSummaries: byObjective.slice(0, 2), NextToken: 'objective-page-2' });
  mock.on(ListTrainingJobsForHyperParameterTuningJobCommand, { SortBy: 'FinalObjectiveMetricValue', NextToken: 'objective-page-2' }).resolves({ TrainingJobSummaries: byObjective.slice(2) });
  mock.on(ListTrainingJobsForHyperParameterTuningJobCommand, { SortBy: 'CreationTime' }).resolves({ TrainingJobSummaries: [J1, J2, J3], NextToken: 'created-page-2' });
  mock.on(ListTrainingJobsForHyperParameterTuningJobCommand, { SortBy: 'CreationTime', NextToken: 'created-page-2' }).resolves({ TrainingJobSummaries: [J4, J5] });
  return { sm, mock };
}

const listCalls = (mock: ReturnType<typeof mocked>['mock']) => mock.commandCalls(ListTrainingJobsForHyperParameterTuningJobCommand).map((c) => c.args[0].input);

/** The same CLI in this process (runCli, as scripts/pipeline.ts runs it). */
async function inProcess(args: string[], clients: () => { sm: SageMakerClient } = () => {
  throw new Error('argument checks must not create AWS clients');
}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) }, clients);
  return { code, stdout, stderr };
}

/** `npx tsx scripts/pipeline.ts ...` as a subprocess (tsx from node_modules, as npx resolves it). */
async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(base)) if (key.startsWith('AWS_')) delete base[key];
  try {
    const { stdout, stderr } = await run(TSX, [path.join('scripts', 'pipeline.ts'), ...args], { cwd: ROOT, env: { ...base, ...env } });
    return { code: 0, stdout, stderr };
  } catch (e: any) {
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('pipeline history and tuning (scripts/pipeline.ts)', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-history-'));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const p = path.join(tmp, name);
    fs.writeFileSync(p, text);
    return p;
  };

  describe('durations, cost, spot savings, ranking (pure functions)', () => {
    test('durations in seconds, null without both times', () => {
      expect(durationSeconds(t('2026-11-18T08:00:00Z'), t('2026-11-18T10:30:00Z'))).toBe(9000);
      expect(durationSeconds(t('2026-11-18T08:00:00.250Z'), t('2026-11-18T08:00:01Z'))).toBe(0.75);
      expect(durationSeconds(t('2026-11-18T08:00:00Z'), undefined)).toBeNull();
    });

    test('cost = billable seconds x instances x hourly price / 3600, summed over instance groups', () => {
      expect(estimateCost(2000, [{ type: 'ml.g5.2xlarge', count: 2 }], PRICES)).toEqual({ usd: 1.6833, notes: [] });
      expect(estimateCost(3600, [{ type: 'ml.g5.2xlarge', count: 1 }, { type: 'ml.m5.xlarge', count: 4 }], PRICES)).toEqual({ usd: 1.515 + 0.92, notes: [] });
    });

    test('no price, no billable time or no instance type: no cost, and notes say why (never an invented price)', () => {
      expect(estimateCost(600, [{ type: 'ml.p4d.24xlarge', count: 1 }, { type: 'ml.g5.2xlarge', count: 1 }], PRICES)).toEqual({ usd: null, notes: ['no price for ml.p4d.24xlarge'] });
      expect(estimateCost(600, [{ type: 'ml.g5.2xlarge', count: 1 }])).toEqual({ usd: null, notes: ['no price for ml.g5.2xlarge'] });
      expect(estimateCost(null, [{ type: 'ml.g5.2xlarge', count: 1 }], PRICES)).toEqual({ usd: null, notes: ['no billable time yet (the job has not ended)'] });
      expect(estimateCost(600, [], PRICES)).toEqual({ usd: null, notes: ['no instance type in the job description'] });
    });

    test('spot savings = 1 - billable / training seconds', () => {
      expect(spotSavings(2000, 5000)).toBe(0.6);
      expect(spotSavings(1000, 3000)).toBe(0.6667);
      expect(spotSavings(null, 3000)).toBeNull();
      expect(spotSavings(100, 0)).toBeNull();
    });

    test('sums are null when any part is', () => {
      const part = (billable: number | null, usd: number | null) => ({ instances: [], billableSeconds: billable, instanceSeconds: billable, estimatedCostUsd: usd, notes: [] });
      expect(sumCompute([part(600, 0.1), part(1200, 0.2)])).toEqual({ billableSeconds: 1800, instanceSeconds: 1800, estimatedCostUsd: 0.3 });
      expect(sumCompute([part(600, 0.1), part(1200, null)])).toEqual({ billableSeconds: 1800, instanceSeconds: 1800, estimatedCostUsd: null });
      expect(sumCompute([])).toEqual({ billableSeconds: 0, instanceSeconds: 0, estimatedCostUsd: 0 });
    });

    test('ranking: ascending for Minimize, descending for Maximize, jobs without an objective last (oldest first)', () => {
      const shuffled = [J5, J2, J4, J1, J3];
      const min = rankTrainingJobs(shuffled, 'Minimize');
      expect(min.map((j) => [j.rank, j.objectiveValue])).toEqual([
        [1, 0.91],
        [2, 0.95],
        [3, 1.02],
        [4, 1.1],
        [null, null],
      ]);
      expect(rankTrainingJobs(shuffled, 'Maximize').map((j) => [j.rank, j.objectiveValue])).toEqual([
        [1, 1.1],
        [2, 1.02],
        [3, 0.95],
        [4, 0.91],
        [null, null],
      ]);
      expect(min[0]).toEqual({
        rank: 1,
        name: 'fmft-dev-tune-20261128-003-5e6f7a8b',
        status: 'Completed',
        objectiveValue: 0.91,
        objectiveStatus: 'Succeeded',
        hyperparameters: { learning_rate: '0.0002', lora_r: '32', num_train_epochs: '3' },
        trainingSeconds: 1980,
        failureReason: null,
      });
      const older = summary(4, null, {}, { TrainingJobName: 'older', CreationTime: t('2026-11-28T00:00:00Z') });
      expect(rankTrainingJobs([J5, older, J1], 'Minimize').map((j) => j.name)).toEqual([J1.TrainingJobName, 'older', J5.TrainingJobName]);
    });

    test('prices: a JSON object of instance type -> positive number; each problem is named', () => {
      expect(parsePrices('{"ml.g5.2xlarge": 1.515, "ml.p4de.24xlarge": 40.97}', 'prices.json')).toEqual({ 'ml.g5.2xlarge': 1.515, 'ml.p4de.24xlarge': 40.97 });
      const allowed = 'allowed: a JSON object of instance type -> positive USD per instance-hour, e.g. {"ml.g5.2xlarge": 1.515}';
      expect(() => parsePrices('[1.5]', 'prices.json')).toThrow(`prices.json holds an array; ${allowed}`);
      expect(() => parsePrices('1.5', 'prices.json')).toThrow(`prices.json holds 1.5; ${allowed}`);
      expect(() => parsePrices('{}', 'prices.json')).toThrow(`prices.json holds no prices; ${allowed}`);
      expect(() => parsePrices('{"ml.g5.2xlarge": "1.515", "ml.m5.xlarge": 0, "g5.xlarge": 1}', 'prices.json')).toThrow(
        `prices.json: "ml.g5.2xlarge" has "1.515", not a positive number; "ml.m5.xlarge" has 0, not a positive number; "g5.xlarge" is not a SageMaker instance type (ml.<family>.<size>); ${allowed}`,
      );
      expect(() => parsePrices('{"ml.g5.2xlarge": 1.5,}', 'prices.json')).toThrow(/^prices\.json is not JSON \(.+\); allowed: /);
    });
  });

  describe('executions and parameters against moto', () => {
    let moto: MotoServer;
    let sm: SageMakerClient;
    let env: Record<string, string>;
    const started: string[] = [];
    const definition = JSON.stringify({
      Version: '2020-12-01',
      Parameters: [
        { Name: 'Epochs', Type: 'Integer', DefaultValue: 1 },
        { Name: 'LearningRate', Type: 'Float', DefaultValue: 0.0002 },
      ],
      Steps: [],
    });

    beforeAll(async () => {
      moto = await startMoto();
      sm = new SageMakerClient(motoClientConfig(moto.endpoint));
      env = {
        AWS_ENDPOINT_URL: moto.endpoint,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'testing',
        AWS_SECRET_ACCESS_KEY: 'testing',
        AWS_MAX_ATTEMPTS: '1',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      };
      for (const name of [PIPELINE, 'fmft-dev-empty']) {
        await sm.send(new CreatePipelineCommand({ PipelineName: name, RoleArn: 'arn:aws:iam::123456789012:role/fmft-dev-pipeline', PipelineDefinition: definition, ClientRequestToken: `create-${name}-0123456789abcdef0123` }));
      }
      for (const [i, [epochs, lr]] of [['1', '0.0002'], ['2', '0.0001'], ['3', '0.00005']].entries()) {
        const out = await sm.send(
          new StartPipelineExecutionCommand({
            PipelineName: PIPELINE,
            PipelineExecutionDisplayName: `run-${i + 1}`,
            PipelineParameters: [
              { Name: 'Epochs', Value: epochs },
              { Name: 'LearningRate', Value: lr },
            ],
            ClientRequestToken: `start-${i + 1}-0123456789abcdef0123456789`,
          }),
        );
        started.push(out.PipelineExecutionArn!);
        await new Promise((r) => setTimeout(r, 20)); // distinct start times
      }
    }, 60_000);

    afterAll(async () => {
      sm?.destroy();
      await moto?.stop();
    });

    test('newest first, with display name, status, times and parameters', async () => {
      const executions = await listExecutions(sm, PIPELINE, 10);
      expect(executions.map((e) => e.arn)).toEqual([...started].reverse());
      expect(executions.map((e) => [e.displayName, e.status, e.failureReason, e.parameters])).toEqual([
        ['run-3', 'Succeeded', null, { Epochs: '3', LearningRate: '0.00005' }],
        ['run-2', 'Succeeded', null, { Epochs: '2', LearningRate: '0.0001' }],
        ['run-1', 'Succeeded', null, { Epochs: '1', LearningRate: '0.0002' }],
      ]);
      for (const e of executions) {
        expect(e.start).toMatch(/^\d{4}-\d\d-\d\dT/);
        // A finished execution ends when it last changed (moto finishes them at once).
        expect(e.end).not.toBeNull();
        expect(e.durationSeconds).toBe(durationSeconds(new Date(e.start!), new Date(e.end!)));
      }
    });

    test('--limit keeps the newest', async () => {
      expect((await listExecutions(sm, PIPELINE, 2)).map((e) => e.displayName)).toEqual(['run-3', 'run-2']);
    });

    test('a pipeline that does not exist is an error naming the call', async () => {
      await expect(listExecutions(sm, 'fmft-dev-no-such-pipeline', 10)).rejects.toThrow(/^ListPipelineExecutions fmft-dev-no-such-pipeline: ValidationException: Could not find pipeline/);
    });

    test('the real script: a pipeline without executions prints an empty history, exit 0', async () => {
      const { code, stdout, stderr } = await cli(['history', '--pipeline', 'fmft-dev-empty'], env);
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
      expect(JSON.parse(stdout)).toEqual({ pipeline: 'fmft-dev-empty', executions: [] });
    });

    test('the real script: a failing call (moto has no ListPipelineExecutionSteps) is an error naming it, exit 1, nothing printed', async () => {
      // The executions and parameters were read (from moto); the step listing then fails, and the command
      // fails with it rather than printing a history without steps.
      const { code, stdout, stderr } = await cli(['history', '--pipeline', PIPELINE, '--limit', '1'], env);
      expect({ code, stdout }).toEqual({ code: 1, stdout: '' });
      expect(stderr).toMatch(new RegExp(`^error: ListPipelineExecutionSteps ${started[2].replace(/[/.]/g, '\\$&')}: .+\\(HTTP 500\\)\\n$`));
    });

    test('the real script: a missing pipeline, exit 1', async () => {
      const { code, stderr } = await cli(['history', '--pipeline', 'fmft-dev-no-such-pipeline'], env);
      expect(code).toBe(1);
      expect(stderr).toMatch(/^error: ListPipelineExecutions fmft-dev-no-such-pipeline: ValidationException: Could not find pipeline/);
    });
  });

  describe('history: steps, jobs, costs (aws-sdk-client-mock)', () => {
    test('three executions over two pages, newest first, with their steps', async () => {
      const { sm, mock } = historyFixture();
      const history = await pipelineHistory(sm, { pipelineName: PIPELINE, limit: 10, prices: PRICES });
      expect(mock.commandCalls(ListPipelineExecutionsCommand).map((c) => c.args[0].input)).toEqual([
        { PipelineName: PIPELINE, SortBy: 'CreationTime', SortOrder: 'Descending', MaxResults: 10, NextToken: undefined },
        { PipelineName: PIPELINE, SortBy: 'CreationTime', SortOrder: 'Descending', MaxResults: 10, NextToken: 'executions-page-2' },
      ]);
      expect(history.pipeline).toBe(PIPELINE);
      expect(history.executions.map((e) => [e.arn, e.status, e.durationSeconds, e.failureReason])).toEqual([
        [E3, 'Executing', null, null],
        [E2, 'Failed', 2400, 'Step failure: One or multiple steps failed.'],
        [E1, 'Succeeded', 9000, null],
      ]);
      expect(mock.commandCalls(ListPipelineExecutionStepsCommand).map((c) => c.args[0].input)).toEqual([
        { PipelineExecutionArn: E3, SortOrder: 'Ascending', NextToken: undefined },
        { PipelineExecutionArn: E2, SortOrder: 'Ascending', NextToken: undefined },
        { PipelineExecutionArn: E1, SortOrder: 'Ascending', NextToken: undefined },
        { PipelineExecutionArn: E1, SortOrder: 'Ascending', NextToken: 'steps-page-2' },
      ]);

      const e1 = history.executions[2];
      expect(e1).toEqual({
        arn: E1,
        displayName: 'manual-lr-2e-4',
        status: 'Succeeded',
        start: '2026-11-18T08:00:00.000Z',
        end: '2026-11-18T10:30:00.000Z',
        durationSeconds: 9000,
        failureReason: null,
        parameters: { BaseModel: 's3://fmft-dev-model-artifacts/base-models/llama-3.1-8b/', TrainingInstanceType: 'ml.g5.2xlarge', Epochs: '3', LearningRate: '0.0002' },
        steps: [
          {
            name: 'PrepareData',
            type: 'Processing',
            status: 'Succeeded',
            start: '2026-11-18T08:00:05.000Z',
            end: '2026-11-18T08:12:05.000Z',
            durationSeconds: 720,
            failureReason: null,
            attempts: 1,
            cachedFrom: null,
            job: { kind: 'ProcessingJob', name: PREPARE_1, arn: `${ARN}:processing-job/${PREPARE_1}` },
            // 600 s x 1 x 0.23 / 3600
            compute: { instances: [{ type: 'ml.m5.xlarge', count: 1 }], billableSeconds: 600, instanceSeconds: 600, estimatedCostUsd: 0.0383, notes: [] },
          },
          {
            name: 'FineTune',
            type: 'Training',
            status: 'Succeeded',
            start: '2026-11-18T08:12:10.000Z',
            end: '2026-11-18T09:42:10.000Z',
            durationSeconds: 5400,
            failureReason: null,
            attempts: 1,
            cachedFrom: null,
            job: { kind: 'TrainingJob', name: TRAIN_1, arn: `${ARN}:training-job/${TRAIN_1}` },
            // spot: 2000 billable of 5000 trained; 2000 s x 2 x 1.515 / 3600
            compute: {
              instances: [{ type: 'ml.g5.2xlarge', count: 2 }],
              billableSeconds: 2000,
              instanceSeconds: 4000,
              trainingSeconds: 5000,
              spot: true,
              spotSavings: 0.6,
              estimatedCostUsd: 1.6833,
              notes: [],
            },
            metrics: { train_loss: 0.8123, eval_loss: 1.0456 },
          },
          {
            name: 'FindProductionVersion',
            type: 'Lambda',
            status: 'Succeeded',
            start: '2026-11-18T09:42:12.000Z',
            end: '2026-11-18T09:42:14.000Z',
            durationSeconds: 2,
            failureReason: null,
            attempts: 1,
            cachedFrom: null,
            job: { kind: 'Lambda', name: 'fmft-dev-champion-finder', arn: 'arn:aws:lambda:us-east-1:123456789012:function:fmft-dev-champion-finder' },
            outputs: { hasChampion: 'true', championModelPackageArn: `${ARN}:model-package/fmft-dev-fine-tuning-models/6` },
          },
          {
            name: 'EvaluateModel',
            type: 'Processing',
            status: 'Succeeded',
            start: '2026-11-18T09:42:15.000Z',
            end: '2026-11-18T10:14:15.000Z',
            durationSeconds: 1920,
            failureReason: null,
            attempts: 1,
            cachedFrom: null,
            job: { kind: 'ProcessingJob', name: EVAL_1, arn: `${ARN}:processing-job/${EVAL_1}` },
            // 1800 s x 1 x 1.408 / 3600
            compute: { instances: [{ type: 'ml.g5.xlarge', count: 1 }], billableSeconds: 1800, instanceSeconds: 1800, estimatedCostUsd: 0.704, notes: [] },
          },
          {
            name: 'CheckModelQuality',
            type: 'Condition',
            status: 'Succeeded',
            start: '2026-11-18T10:14:20.000Z',
            end: '2026-11-18T10:14:21.000Z',
            durationSeconds: 1,
            failureReason: null,
            attempts: 1,
            cachedFrom: null,
            job: null,
            outcome: 'True',
          },
          {
            name: 'RegisterModel',
            type: 'RegisterModel',
            status: 'Succeeded',
            start: '2026-11-18T10:14:25.000Z',
            end: '2026-11-18T10:14:27.000Z',
            durationSeconds: 2,
            failureReason: null,
            attempts: 1,
            cachedFrom: null,
            job: { kind: 'RegisterModel', name: 'fmft-dev-fine-tuning-models/7', arn: PACKAGE },
            modelPackageArn: PACKAGE,
          },
        ],
        // 0.0383 + 1.6833 + 0.704
        totals: { billableSeconds: 4400, instanceSeconds: 6400, estimatedCostUsd: 2.4256, notes: [] },
      });
    });

    test('a failed execution: failure reasons of the execution and the step; a cache hit is not counted', async () => {
      const { sm } = historyFixture();
      const e2 = (await pipelineHistory(sm, { pipelineName: PIPELINE, limit: 10, prices: PRICES })).executions[1];
      expect(e2.failureReason).toBe('Step failure: One or multiple steps failed.');
      expect(e2.parameters).toEqual({ Epochs: '1' });
      const [prepare, train] = e2.steps;
      expect(prepare.cachedFrom).toBe(E1);
      expect(prepare.compute?.estimatedCostUsd).toBe(0.0383); // the job's cost, paid by E1
      expect(train).toEqual(
        expect.objectContaining({
          status: 'Failed',
          failureReason: OOM,
          // on demand: 600 s x 1 x 1.515 / 3600
          compute: { instances: [{ type: 'ml.g5.2xlarge', count: 1 }], billableSeconds: 600, instanceSeconds: 600, trainingSeconds: 600, spot: false, spotSavings: null, estimatedCostUsd: 0.2525, notes: [] },
          metrics: {},
        }),
      );
      expect(e2.totals).toEqual({ billableSeconds: 600, instanceSeconds: 600, estimatedCostUsd: 0.2525, notes: [] });
    });

    test('a running execution: no end, no duration; the running job has no billable time, so no totals', async () => {
      const { sm } = historyFixture();
      const e3 = (await pipelineHistory(sm, { pipelineName: PIPELINE, limit: 10, prices: PRICES })).executions[0];
      expect([e3.end, e3.durationSeconds]).toEqual([null, null]);
      expect(e3.steps.map((s) => [s.name, s.status, s.durationSeconds, s.compute?.estimatedCostUsd])).toEqual([
        ['PrepareData', 'Succeeded', 600, 0.0345],
        ['FineTune', 'Executing', null, null],
      ]);
      expect(e3.steps[1].compute).toEqual({
        instances: [{ type: 'ml.g5.2xlarge', count: 1 }],
        billableSeconds: null,
        instanceSeconds: null,
        trainingSeconds: null,
        spot: true,
        spotSavings: null,
        estimatedCostUsd: null,
        notes: ['no billable time yet (the job has not ended)'],
      });
      expect(e3.totals).toEqual({ billableSeconds: null, instanceSeconds: null, estimatedCostUsd: null, notes: ['FineTune: no billable time yet (the job has not ended)'] });
    });

    test('without a price for a type: that cost and the total are null, and the notes name the type', async () => {
      const { sm } = historyFixture();
      const { 'ml.g5.xlarge': _, ...partial } = PRICES;
      const e1 = (await pipelineHistory(sm, { pipelineName: PIPELINE, limit: 10, prices: partial })).executions[2];
      expect(e1.steps.find((s) => s.name === 'EvaluateModel')!.compute).toEqual({
        instances: [{ type: 'ml.g5.xlarge', count: 1 }],
        billableSeconds: 1800,
        instanceSeconds: 1800,
        estimatedCostUsd: null,
        notes: ['no price for ml.g5.xlarge'],
      });
      expect(e1.totals).toEqual({ billableSeconds: 4400, instanceSeconds: 6400, estimatedCostUsd: null, notes: ['EvaluateModel: no price for ml.g5.xlarge'] });

      const { sm: sm2 } = historyFixture();
      const none = (await pipelineHistory(sm2, { pipelineName: PIPELINE, limit: 10 })).executions[2];
      expect(none.totals).toEqual({
        billableSeconds: 4400,
        instanceSeconds: 6400,
        estimatedCostUsd: null,
        notes: ['PrepareData: no price for ml.m5.xlarge', 'FineTune: no price for ml.g5.2xlarge', 'EvaluateModel: no price for ml.g5.xlarge'],
      });
    });

    test('--limit stops paging once it has enough executions', async () => {
      const { sm, mock } = historyFixture();
      const history = await pipelineHistory(sm, { pipelineName: PIPELINE, limit: 2, prices: PRICES });
      expect(history.executions.map((e) => e.arn)).toEqual([E3, E2]);
      expect(mock.commandCalls(ListPipelineExecutionsCommand).map((c) => c.args[0].input.MaxResults)).toEqual([2]);
    });

    test('a tuning step: its training jobs added up, metrics of the best', async () => {
      const { sm, mock } = mocked();
      const tuning = 'fmft-dev-tune-20261128';
      mock.on(ListPipelineExecutionsCommand).resolves({ PipelineExecutionSummaries: [{ PipelineExecutionArn: E1, StartTime: t('2026-11-28T00:50:00Z'), PipelineExecutionStatus: 'Succeeded' }] });
      mock.on(DescribePipelineExecutionCommand).resolves({ PipelineExecutionArn: E1, PipelineExecutionStatus: 'Succeeded', CreationTime: t('2026-11-28T00:50:00Z'), LastModifiedTime: t('2026-11-28T03:00:00Z') });
      mock.on(ListPipelineParametersForExecutionCommand).resolves({ PipelineParameters: [] });
      mock.on(ListPipelineExecutionStepsCommand).resolves({
        PipelineExecutionSteps: [
          { StepName: 'TuneHyperparameters', StepStatus: 'Succeeded', StartTime: t('2026-11-28T00:55:00Z'), EndTime: t('2026-11-28T02:55:00Z'), Metadata: { TuningJob: { Arn: `${ARN}:hyper-parameter-tuning-job/${tuning}` } } },
        ],
      });
      mock.on(DescribeHyperParameterTuningJobCommand).resolves({ HyperParameterTuningJobName: tuning, HyperParameterTuningJobStatus: 'Completed', BestTrainingJob: J3 });
      mock.on(ListTrainingJobsForHyperParameterTuningJobCommand).resolves({ TrainingJobSummaries: [J1, J3] });
      mock.on(DescribeTrainingJobCommand, { TrainingJobName: J1.TrainingJobName }).resolves(trainingJob(J1.TrainingJobName!, { EnableManagedSpotTraining: true, TrainingTimeInSeconds: 2400, BillableTimeInSeconds: 1200 }));
      mock.on(DescribeTrainingJobCommand, { TrainingJobName: J3.TrainingJobName }).resolves(
        trainingJob(J3.TrainingJobName!, { EnableManagedSpotTraining: true, TrainingTimeInSeconds: 4800, BillableTimeInSeconds: 2400, FinalMetricDataList: [{ MetricName: 'eval_loss', Value: 0.91 }] }),
      );
      const [e] = (await pipelineHistory(sm, { pipelineName: PIPELINE, limit: 1, prices: PRICES })).executions;
      expect(e.steps[0]).toEqual(
        expect.objectContaining({
          type: 'Tuning',
          job: { kind: 'TuningJob', name: tuning, arn: `${ARN}:hyper-parameter-tuning-job/${tuning}` },
          bestTrainingJob: J3.TrainingJobName,
          metrics: { eval_loss: 0.91 },
          // 1200 s x 1.515 / 3600 + 2400 s x 1.515 / 3600
          compute: { instances: [{ type: 'ml.g5.2xlarge', count: 1 }], billableSeconds: 3600, instanceSeconds: 3600, estimatedCostUsd: 1.515, trainingSeconds: 7200, spot: true, spotSavings: 0.5, trainingJobs: 2, notes: [] },
        }),
      );
      expect(e.totals).toEqual({ billableSeconds: 3600, instanceSeconds: 3600, estimatedCostUsd: 1.515, notes: [] });
    });

    test('a failing call is an error naming it: nothing is skipped', async () => {
      const { sm, mock } = historyFixture();
      mock.on(DescribeTrainingJobCommand, { TrainingJobName: TRAIN_2 }).rejects(Object.assign(new Error('User: arn:aws:sts::123456789012:assumed-role/dev/x is not authorized to perform: sagemaker:DescribeTrainingJob'), { name: 'AccessDeniedException' }));
      await expect(pipelineHistory(sm, { pipelineName: PIPELINE, limit: 10, prices: PRICES })).rejects.toThrow(
        `DescribeTrainingJob ${TRAIN_2}: AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/dev/x is not authorized to perform: sagemaker:DescribeTrainingJob`,
      );
    });
  });

  describe('tuning: training jobs ranked by the objective (aws-sdk-client-mock)', () => {
    test('Minimize: ascending from the service, pages followed, jobs without an objective last', async () => {
      const { sm, mock } = tuningFixture('Minimize');
      const report = await tuningResults(sm, { jobName: 'fmft-dev-tune-20261128', limit: 10 });
      expect(listCalls(mock)).toEqual([
        { HyperParameterTuningJobName: 'fmft-dev-tune-20261128', SortBy: 'FinalObjectiveMetricValue', SortOrder: 'Ascending', MaxResults: 100, NextToken: undefined },
        { HyperParameterTuningJobName: 'fmft-dev-tune-20261128', SortBy: 'FinalObjectiveMetricValue', SortOrder: 'Ascending', MaxResults: 100, NextToken: 'objective-page-2' },
        // fewer than --limit have an objective: the others come from a listing of every job
        { HyperParameterTuningJobName: 'fmft-dev-tune-20261128', SortBy: 'CreationTime', SortOrder: 'Ascending', MaxResults: 100, NextToken: undefined },
        { HyperParameterTuningJobName: 'fmft-dev-tune-20261128', SortBy: 'CreationTime', SortOrder: 'Ascending', MaxResults: 100, NextToken: 'created-page-2' },
      ]);
      expect(report).toEqual({
        job: 'fmft-dev-tune-20261128',
        status: 'Completed',
        objective: { metric: 'eval_loss', type: 'Minimize' },
        bestTrainingJob: { name: J3.TrainingJobName, objectiveValue: 0.91 },
        counts: { trainingJobs: { Completed: 4, InProgress: 0, RetryableError: 0, NonRetryableError: 1, Stopped: 0 }, objective: { Succeeded: 4, Pending: 0, Failed: 1 } },
        trainingJobs: [
          { rank: 1, name: J3.TrainingJobName, status: 'Completed', objectiveValue: 0.91, objectiveStatus: 'Succeeded', hyperparameters: hp('0.0002', '32', '3'), trainingSeconds: 1980, failureReason: null },
          { rank: 2, name: J1.TrainingJobName, status: 'Completed', objectiveValue: 0.95, objectiveStatus: 'Succeeded', hyperparameters: hp('0.0001', '16', '2'), trainingSeconds: 1860, failureReason: null },
          { rank: 3, name: J4.TrainingJobName, status: 'Completed', objectiveValue: 1.02, objectiveStatus: 'Succeeded', hyperparameters: hp('0.0003', '16', '1'), trainingSeconds: 2040, failureReason: null },
          { rank: 4, name: J2.TrainingJobName, status: 'Completed', objectiveValue: 1.1, objectiveStatus: 'Succeeded', hyperparameters: hp('0.00005', '8', '1'), trainingSeconds: 1920, failureReason: null },
          {
            rank: null,
            name: J5.TrainingJobName,
            status: 'Failed',
            objectiveValue: null,
            objectiveStatus: 'Failed',
            hyperparameters: hp('0.0005', '64', '3'),
            trainingSeconds: 240,
            failureReason: 'AlgorithmError: CUDA out of memory',
          },
        ],
      });
    });

    test('Maximize: descending', async () => {
      const { sm, mock } = tuningFixture('Maximize');
      const report = await tuningResults(sm, { jobName: 'fmft-dev-tune-20261128', limit: 10 });
      expect(listCalls(mock)[0]).toEqual(expect.objectContaining({ SortBy: 'FinalObjectiveMetricValue', SortOrder: 'Descending' }));
      expect(report.trainingJobs.map((j) => [j.rank, j.objectiveValue])).toEqual([
        [1, 1.1],
        [2, 1.02],
        [3, 0.95],
        [4, 0.91],
        [null, null],
      ]);
      expect(report.bestTrainingJob).toEqual({ name: J2.TrainingJobName, objectiveValue: 1.1 });
    });

    test('--limit: the best N from the first page, no other listing', async () => {
      const { sm, mock } = tuningFixture('Minimize');
      const report = await tuningResults(sm, { jobName: 'fmft-dev-tune-20261128', limit: 2 });
      expect(report.trainingJobs.map((j) => j.name)).toEqual([J3.TrainingJobName, J1.TrainingJobName]);
      expect(listCalls(mock)).toHaveLength(1);
    });

    test('an unknown tuning job is an error naming the call', async () => {
      const { sm, mock } = mocked();
      mock.on(DescribeHyperParameterTuningJobCommand).rejects(Object.assign(new Error('Amazon SageMaker can\'t find a tuning job with name nope'), { name: 'ResourceNotFound' }));
      await expect(tuningResults(sm, { jobName: 'nope', limit: 10 })).rejects.toThrow("DescribeHyperParameterTuningJob nope: ResourceNotFound: Amazon SageMaker can't find a tuning job with name nope");
    });
  });

  describe('CLI', () => {
    test('arguments: defaults, --name=value, prices read from the file', () => {
      expect(parsePipelineCommand(['history', '--pipeline', PIPELINE])).toEqual({ name: 'history', pipeline: PIPELINE, limit: 10 });
      const prices = file('prices.json', JSON.stringify(PRICES));
      expect(parsePipelineCommand(['history', `--pipeline=${PIPELINE}`, '--limit', '3', '--prices', prices])).toEqual({ name: 'history', pipeline: PIPELINE, limit: 3, prices: PRICES });
      expect(parsePipelineCommand(['tuning', '--job', 'fmft-dev-tune-20261128', '--limit', '100'])).toEqual({ name: 'tuning', job: 'fmft-dev-tune-20261128', limit: 100 });
      expect(() => parsePipelineCommand(['tuning', '--help'])).toThrow(HelpRequested);
    });

    test.each([
      [['history', '--help'], ['--pipeline <name>', '--limit <n>', '--prices <file>']],
      [['tuning', '--help'], ['--job <name>', '--limit <n>']],
    ])('%j lists its options, exit 0', async (args, flags) => {
      const { code, stdout, stderr } = await inProcess(args);
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
      expect(stdout).toMatch(new RegExp(`^Usage: npx tsx scripts/pipeline.ts ${args[0]} \\[options\\]`));
      for (const f of flags) expect(stdout).toContain(`  ${f}`);
      expect(stdout).toMatch(/Exit status: 0 done, 1 the operation failed \(the message names the AWS call\), 2 bad arguments/);
    });

    const prices = 'allowed: a JSON object of instance type -> positive USD per instance-hour, e.g. {"ml.g5.2xlarge": 1.515}';
    test.each([
      [['history', '--pipeline', 'p', '--limit', '0'], '--limit: got "0"; allowed: a whole number from 1 to 100'],
      [['history', '--pipeline', 'p', '--limit', '101'], '--limit: got "101"; allowed: a whole number from 1 to 100'],
      [['tuning', '--job', 'j', '--limit', 'ten'], '--limit: got "ten"; allowed: a whole number from 1 to 100'],
      [['history', '--limit', '5'], 'history: --pipeline is required'],
      [['tuning'], 'tuning: --job is required'],
      [['history', '--pipeline', 'p', '--job', 'j'], 'history: unknown option "--job"; allowed: --pipeline, --limit, --prices, --help'],
      [['tuning', '--job', 'j', '--prices', 'x.json'], 'tuning: unknown option "--prices"; allowed: --job, --limit, --help'],
      [['history', '--pipeline', '--limit', '3'], '--pipeline needs a value (got the option --limit)'],
      [['history', '--pipeline', 'p', 'extra'], 'history: unexpected argument "extra"; every value follows its option (allowed: --pipeline, --limit, --prices, --help)'],
      [['runs'], 'command: got "runs"; allowed: history, tuning (--help for usage)'],
    ])('%j: exit 2, %s', async (args, message) => {
      expect(() => parsePipelineCommand(args)).toThrow(UsageError);
      expect(await inProcess(args)).toEqual({ code: 2, stdout: '', stderr: `${message}\n` });
    });

    test.each([
      ['missing.json', null, 'cannot read "<file>" (no such file); allowed: a file holding a JSON object of instance type -> positive USD per instance-hour, e.g. {"ml.g5.2xlarge": 1.515}'],
      ['array.json', '[1.515]', `"<file>" holds an array; ${prices}`],
      ['text.json', '{"ml.g5.2xlarge": "1.515"}', `"<file>": "ml.g5.2xlarge" has "1.515", not a positive number; ${prices}`],
      ['negative.json', '{"ml.g5.2xlarge": -1}', `"<file>": "ml.g5.2xlarge" has -1, not a positive number; ${prices}`],
      ['type.json', '{"g5.2xlarge": 1.515}', `"<file>": "g5.2xlarge" is not a SageMaker instance type (ml.<family>.<size>); ${prices}`],
    ])('a prices file %s that is not a JSON object of positive numbers: exit 2, named', async (name, text, message) => {
      const p = text === null ? path.join(tmp, name) : file(name, text);
      expect(await inProcess(['history', '--pipeline', PIPELINE, '--prices', p])).toEqual({ code: 2, stdout: '', stderr: `--prices: ${message.replace('<file>', p)}\n` });
    });

    test('a prices file that is not JSON: exit 2, named', async () => {
      const p = file('broken.json', '{"ml.g5.2xlarge": 1.515,');
      const { code, stderr } = await inProcess(['history', '--pipeline', PIPELINE, '--prices', p]);
      expect(code).toBe(2);
      expect(stderr).toMatch(new RegExp(`^--prices: "${p.replace(/[/.]/g, '\\$&')}" is not JSON \\(.+\\); allowed: `));
    });

    test('history and tuning print JSON, exit 0; a failing call, exit 1', async () => {
      const p = file('prices.json', JSON.stringify(PRICES));
      const history = await inProcess(['history', '--pipeline', PIPELINE, '--limit', '3', '--prices', p], () => ({ sm: historyFixture().sm }));
      expect({ code: history.code, stderr: history.stderr }).toEqual({ code: 0, stderr: '' });
      expect(JSON.parse(history.stdout).executions.map((e: any) => e.totals.estimatedCostUsd)).toEqual([null, 0.2525, 2.4256]);

      const tuning = await inProcess(['tuning', '--job', 'fmft-dev-tune-20261128', '--limit', '3'], () => ({ sm: tuningFixture('Minimize').sm }));
      expect({ code: tuning.code, stderr: tuning.stderr }).toEqual({ code: 0, stderr: '' });
      expect(JSON.parse(tuning.stdout).trainingJobs.map((j: any) => j.rank)).toEqual([1, 2, 3]);

      const failing = await inProcess(['tuning', '--job', 'nope'], () => {
        const { sm, mock } = mocked();
        mock.on(DescribeHyperParameterTuningJobCommand).rejects(Object.assign(new Error("Amazon SageMaker can't find a tuning job with name nope"), { name: 'ResourceNotFound' }));
        return { sm };
      });
      expect(failing).toEqual({ code: 1, stdout: '', stderr: "error: DescribeHyperParameterTuningJob nope: ResourceNotFound: Amazon SageMaker can't find a tuning job with name nope\n" });
    });

    test('the real script: history --help, and a usage error, need no AWS settings', async () => {
      const help = await cli(['history', '--help']);
      expect({ code: help.code, stderr: help.stderr }).toEqual({ code: 0, stderr: '' });
      expect(help.stdout).toMatch(/^Usage: npx tsx scripts\/pipeline.ts history \[options\]/);
      expect(await cli(['history', '--limit', '5'])).toEqual({ code: 2, stdout: '', stderr: 'history: --pipeline is required\n' });
    });
  });

  describe("the README's scripts/pipeline.ts commands", () => {
    const readme = path.join(ROOT, 'README.md');
    const commands = shellBlocks(fs.readFileSync(readme, 'utf8'))
      .flatMap((b) => b.lines.join('\n').replace(/\\\n\s*/g, ' ').split('\n'))
      .map((line) => line.replace(/\s+#.*$/, '').trim())
      .filter((line) => line.startsWith('npx tsx scripts/pipeline.ts '))
      .map((line) => line.split(/\s+/).slice(3));

    test('are found: both commands', () => {
      expect(new Set(commands.map((c) => c[0]))).toEqual(new Set(['history', 'tuning']));
    });

    test('parse; --prices with the file the README writes', () => {
      const written = hereDocument(readme, 'prices.json');
      for (const c of commands) {
        const at = c.indexOf('--prices');
        const args = at < 0 ? c : [...c.slice(0, at + 1), file('readme-prices.json', written ?? ''), ...c.slice(at + 2)];
        expect(() => parsePipelineCommand(args)).not.toThrow();
      }
    });
  });
});
