import { Duration, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import {
  CAPTURED_RECORDS_METRIC,
  MONITOR_RUN_METRIC,
  MONITORING_DIMENSIONS,
  MONITORING_METRICS,
  THRESHOLD_METRICS,
} from '../../config/monitoring-metrics';
import { statesArray } from '../bedrock-customization-workflow';
import { acknowledgeNag, iam5ResourceFinding } from '../compliance';
import { MlBucket } from '../ml-bucket';
import { MlServiceRole } from '../ml-service-role';
import { platformStateMachine } from '../platform-state-machine';
import { workflowTags } from '../workflow-tags';
import { launcherEntrypoint, moduleArguments, ProcessingJobSpec } from '../../pipeline/job-code';

/** One served model whose captured traffic is monitored: an endpoint variant. */
export interface MonitorTarget {
  readonly endpointName: string;
  readonly variantName: string;
  /** The served model package version; its registered baseline is the reference. @default - none: output health only */
  readonly modelPackageArn?: string;
}

export interface CaptureMonitorProps {
  readonly stateMachineName: string;
  /** Every monitor job's name starts with `<jobNamePrefix>-mon-` (the planner names them; IAM admits only those). */
  readonly jobNamePrefix: string;
  /** Plans a run: `training.monitor.plan.handler` (window, inputs per target, job names). */
  readonly planFunction: lambda.IFunction;
  /** The served endpoint variants; none: the schedule runs and reports nothing. */
  readonly targets: readonly MonitorTarget[];
  /** Hours between runs (1 to 6); each run reads the whole clock hours since the previous one. */
  readonly intervalHours: number;
  /** The monitor job (`python -m training.monitor run`), network isolated in `placement`. */
  readonly job: ProcessingJobSpec;
  /** The bucket the jobs write results to (the planner names the keys); the state machine reads metrics.json there. */
  readonly outputBucket: MlBucket;
  /** Key prefix of the results in `outputBucket`. */
  readonly outputPrefix: string;
  /** The served task answers in JSON. */
  readonly answersAreJson: boolean;
  /**
   * The planner also finds the environment's Bedrock provisioned models (variant BEDROCK_VARIANT); they are
   * found at run time, so their alarms are Metrics Insights queries over every such model. @default false
   */
  readonly watchesBedrock?: boolean;
  /**
   * The quality canary: before each target's monitor job, `function` (training.monitor.canary.handler) sends
   * the planned golden records to the variant and writes the answers, which the job scores for `task`.
   * @default - no canary
   */
  readonly groundTruth?: {
    /** Task whose metrics score the matched answers (training.evaluate). */
    readonly task: string;
  };
  readonly canary?: {
    readonly function: lambda.IFunction;
    readonly task: string;
    readonly maxNewTokens: number;
    /** Serving container of the endpoints (request shape): lmi or tgi. */
    readonly container: string;
  };
  /** CloudWatch namespace of the metrics. */
  readonly metricNamespace: string;
  /** Alarm thresholds by config key of training/contracts/monitoring-metrics.json. */
  readonly thresholds: Readonly<Record<string, number>>;
  readonly topic: sns.ITopic;
  /** Receives schedule invocations that could not start the state machine. */
  readonly deadLetterQueue: sqs.IQueue;
  /** Encrypts the state machine's log group. */
  readonly logKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  readonly tags: Readonly<Record<string, string>>;
}

/** The VariantName dimension of Bedrock provisioned models' metrics (training/monitor/plan.py uses the same). */
export const BEDROCK_VARIANT = 'bedrock';

/** Names of the states (stable: tests and the runbook refer to them). */
export const MONITOR_STATE_NAMES = {
  plan: 'PlanWindow',
  canary: 'AskGoldenPrompts',
  targets: 'EachTarget',
  hasCapture: 'HasCapture',
  monitor: 'MonitorCapture',
  readMetrics: 'ReadMetrics',
  publish: 'PublishMetrics',
  publishEmpty: 'PublishEmptyWindow',
  targetFailed: 'NotifyTargetFailed',
  notifyFailure: 'NotifyFailure',
  failed: 'Failed',
} as const;

const PROC = '/opt/ml/processing';
const TRANSIENT = {
  sageMaker: ['SageMaker.AmazonSageMakerException', 'SageMaker.ThrottlingException'],
  s3: ['S3.SdkClientException', 'S3.S3Exception'],
  cloudWatch: ['CloudWatch.ThrottlingException', 'CloudWatch.InternalServiceException', 'CloudWatch.CloudWatchException'],
  sns: ['Sns.ThrottledException', 'Sns.InternalErrorException'],
};

/**
 * The LLM-aware capture monitor: every `intervalHours` an EventBridge Scheduler schedule starts a state
 * machine that plans the window (a function lists the hours with capture and finds each served version's
 * baseline), runs `python -m training.monitor run` per endpoint variant as a network-isolated processing
 * job, reads the job's metrics.json and publishes it with PutMetricData (the isolated job cannot reach
 * CloudWatch). A window without capture still reports a run, so the missing-report alarm means the monitor
 * itself stopped. Alarms per target: each metric with a threshold, and no report for two intervals.
 */
export class CaptureMonitor extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly role: MlServiceRole;
  readonly logGroup: logs.LogGroup;
  readonly schedule: scheduler.Schedule;
  /** Every alarm, by `<endpoint>/<variant>/<metric>`. */
  readonly alarms: ReadonlyMap<string, cloudwatch.Alarm>;
  private readonly props: CaptureMonitorProps;

  constructor(scope: Construct, id: string, props: CaptureMonitorProps) {
    super(scope, id);
    validate(props);
    this.props = props;
    const stack = Stack.of(this);
    const n = MONITOR_STATE_NAMES;
    // The jobs carry the cost tags and the run (the execution's name).
    const tagList = workflowTags(props.tags, props.stateMachineName, 'asl');

    const failed = new sfn.Fail(this, n.failed, { errorPath: '$.error.Error', causePath: '$.error.Cause' });
    const notifyFailure = new tasks.SnsPublish(this, n.notifyFailure, {
      topic: props.topic,
      subject: `Capture monitor failed: ${props.stateMachineName}`,
      message: sfn.TaskInput.fromObject({ outcome: 'FAILED', execution: sfn.JsonPath.executionId, error: sfn.JsonPath.objectAt('$.error') }),
      resultPath: sfn.JsonPath.DISCARD,
    });
    notifyFailure.addRetry({ errors: TRANSIENT.sns, maxAttempts: 6, backoffRate: 2, interval: Duration.seconds(2) });
    notifyFailure.addCatch(failed, { resultPath: '$.notificationError' });
    notifyFailure.next(failed);

    const plan = new tasks.LambdaInvoke(this, n.plan, {
      lambdaFunction: props.planFunction,
      payload: sfn.TaskInput.fromObject({
        scheduledTime: sfn.JsonPath.stringAt('$.scheduledTime'),
        executionName: sfn.JsonPath.stringAt('$$.Execution.Name'),
        targets: props.targets.map((t) => ({ endpointName: t.endpointName, variantName: t.variantName, ...(t.modelPackageArn ? { modelPackageArn: t.modelPackageArn } : {}) })),
      }),
      payloadResponseOnly: true,
      resultPath: '$.plan',
      retryOnServiceExceptions: true,
    });
    plan.addCatch(notifyFailure, { resultPath: '$.error' });

    // ---- one target: job -> metrics.json -> PutMetricData; a failure notifies and leaves the others running
    const targetFailed = new tasks.SnsPublish(this, n.targetFailed, {
      topic: props.topic,
      subject: `Capture monitor failed for a target: ${props.stateMachineName}`,
      message: sfn.TaskInput.fromObject({
        outcome: 'TARGET_FAILED',
        execution: sfn.JsonPath.executionId,
        endpointName: sfn.JsonPath.stringAt('$.run.endpointName'),
        variantName: sfn.JsonPath.stringAt('$.run.variantName'),
        error: sfn.JsonPath.objectAt('$.error'),
      }),
      resultPath: sfn.JsonPath.DISCARD,
    });
    targetFailed.addRetry({ errors: TRANSIENT.sns, maxAttempts: 6, backoffRate: 2, interval: Duration.seconds(2) });

    const jobArguments = moduleArguments(props.job.code, 'training.monitor', [
      'run',
      '--capture', `${PROC}/input/capture`,
      '--baseline', `${PROC}/input/baseline/baseline.json`,
      '--output-dir', `${PROC}/output/monitor`,
      '--endpoint-name', '<endpoint>',
      '--variant-name', '<variant>',
      '--window-start', '<start>',
      '--window-end', '<end>',
      // Bedrock invocation logs hold every model's calls: the job keeps those of the run's model ('' for endpoints).
      '--model-id', '<model>',
      ...(props.answersAreJson ? ['--expect-json'] : []),
      ...(props.canary ? ['--canary', `${PROC}/input/canary`, '--canary-task', props.canary.task] : []),
      ...(props.groundTruth
        ? ['--ground-truth', `${PROC}/input/ground-truth`, '--ground-truth-capture', `${PROC}/input/ground-truth-capture`, '--ground-truth-task', props.groundTruth.task]
        : []),
      // The report marks what the alarms will: the same thresholds.
      '--thresholds',
      ...[...THRESHOLD_METRICS.keys()].map((key) => `${key}=${props.thresholds[key]}`),
    ]);
    const monitor = new sfn.CustomState(this, n.monitor, {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${stack.partition}:states:::sagemaker:createProcessingJob.sync`,
        Parameters: {
          'ProcessingJobName.$': '$.run.jobName',
          RoleArn: props.job.role.roleArn,
          AppSpecification: {
            ImageUri: props.job.imageUri,
            ContainerEntrypoint: launcherEntrypoint(props.job.code),
            'ContainerArguments.$': statesArray(jobArguments, {
              '<endpoint>': '$.run.endpointName',
              '<variant>': '$.run.variantName',
              '<start>': '$.windowStart',
              '<end>': '$.windowEnd',
              '<model>': '$.run.modelId',
            }),
          },
          // The code, the launcher, the hours with capture and the baseline: built by the planner.
          'ProcessingInputs.$': '$.run.inputs',
          ProcessingOutputConfig: {
            KmsKeyId: props.job.key.keyArn,
            Outputs: [
              {
                OutputName: 'monitor',
                S3Output: { 'S3Uri.$': '$.run.outputUri', LocalPath: `${PROC}/output/monitor`, S3UploadMode: 'EndOfJob' },
              },
            ],
          },
          ProcessingResources: {
            ClusterConfig: { InstanceType: props.job.instanceType, InstanceCount: 1, VolumeSizeInGB: 30, VolumeKmsKeyId: props.job.key.keyArn },
          },
          NetworkConfig: {
            EnableNetworkIsolation: true,
            EnableInterContainerTrafficEncryption: true,
            VpcConfig: { Subnets: props.job.placement.subnetIds, SecurityGroupIds: props.job.placement.securityGroupIds },
          },
          // A run must end before the next one starts.
          StoppingCondition: { MaxRuntimeInSeconds: props.intervalHours * 3600 },
          Tags: tagList,
        },
        ResultSelector: { 'jobArn.$': '$.ProcessingJobArn', 'status.$': '$.ProcessingJobStatus' },
        ResultPath: '$.job',
      },
    });
    monitor.addRetry({ errors: TRANSIENT.sageMaker, maxAttempts: 5, backoffRate: 2, interval: Duration.seconds(30) });
    monitor.addCatch(targetFailed, { resultPath: '$.error' });

    const readMetrics = new tasks.CallAwsService(this, n.readMetrics, {
      service: 's3',
      action: 'getObject',
      parameters: { Bucket: sfn.JsonPath.stringAt('$.run.outputBucket'), Key: sfn.JsonPath.stringAt('$.run.metricsKey') },
      iamResources: [`${props.outputBucket.bucketArnForGrants}/${props.outputPrefix}*`],
      iamAction: 's3:GetObject',
      resultSelector: { 'metrics.$': 'States.StringToJson($.Body)' },
      resultPath: '$.read',
    });
    readMetrics.addRetry({ errors: TRANSIENT.s3, maxAttempts: 5, backoffRate: 2, interval: Duration.seconds(5) });
    readMetrics.addCatch(targetFailed, { resultPath: '$.error' });

    const putMetrics = (id: string, metricData: unknown) => {
      const state = new tasks.CallAwsService(this, id, {
        service: 'cloudwatch',
        action: 'putMetricData',
        parameters: { Namespace: props.metricNamespace, MetricData: metricData },
        iamResources: ['*'],
        iamAction: 'cloudwatch:PutMetricData',
        resultPath: sfn.JsonPath.DISCARD,
      });
      state.addRetry({ errors: TRANSIENT.cloudWatch, maxAttempts: 5, backoffRate: 2, interval: Duration.seconds(5) });
      state.addCatch(targetFailed, { resultPath: '$.error' });
      return state;
    };
    const publish = putMetrics(n.publish, sfn.JsonPath.listAt('$.read.metrics.MetricData'));
    // No capture in the window: the run still reports, so only a monitor that stopped trips the run alarm.
    const publishEmpty = putMetrics(n.publishEmpty, [
      { MetricName: MONITOR_RUN_METRIC, Dimensions: sfn.JsonPath.listAt('$.run.dimensions'), Value: 1, Unit: 'Count' },
      { MetricName: CAPTURED_RECORDS_METRIC, Dimensions: sfn.JsonPath.listAt('$.run.dimensions'), Value: 0, Unit: 'Count' },
    ]);

    monitor.next(readMetrics).next(publish);
    let runJob: sfn.IChainable = monitor;
    if (props.canary) {
      // The canary writes its answers where the planner put the job's `canary` input, before the job starts.
      const ask = new tasks.LambdaInvoke(this, n.canary, {
        lambdaFunction: props.canary.function,
        payload: sfn.TaskInput.fromObject({
          endpointName: sfn.JsonPath.stringAt('$.run.endpointName'),
          variantName: sfn.JsonPath.stringAt('$.run.variantName'),
          // A Bedrock provisioned model's ARN ('' for endpoints): the canary then asks it through Converse.
          modelId: sfn.JsonPath.stringAt('$.run.modelId'),
          container: props.canary.container,
          maxNewTokens: props.canary.maxNewTokens,
          canary: sfn.JsonPath.objectAt('$.run.canary'),
        }),
        payloadResponseOnly: true,
        resultPath: '$.canary',
        retryOnServiceExceptions: true,
      });
      ask.addCatch(targetFailed, { resultPath: '$.error' });
      ask.next(monitor);
      runJob = new sfn.Choice(this, 'HasCanary')
        .when(sfn.Condition.and(sfn.Condition.isPresent('$.run.hasCanary'), sfn.Condition.booleanEquals('$.run.hasCanary', true)), ask)
        .otherwise(monitor);
    }
    const oneTarget = new sfn.Choice(this, n.hasCapture)
      .when(sfn.Condition.booleanEquals('$.run.hasData', true), runJob)
      .otherwise(publishEmpty);
    const eachTarget = new sfn.Map(this, n.targets, {
      itemsPath: '$.plan.runs',
      itemSelector: {
        'run.$': '$$.Map.Item.Value',
        'windowStart.$': '$.plan.windowStart',
        'windowEnd.$': '$.plan.windowEnd',
      },
      maxConcurrency: 5,
      resultPath: sfn.JsonPath.DISCARD,
    });
    eachTarget.itemProcessor(oneTarget);
    eachTarget.addCatch(notifyFailure, { resultPath: '$.error' });

    ({ stateMachine: this.stateMachine, role: this.role, logGroup: this.logGroup } = platformStateMachine(this, {
      stateMachineName: props.stateMachineName,
      definition: plan.next(eachTarget),
      logKey: props.logKey,
      logRetention: props.logRetention,
      timeout: Duration.hours(props.intervalHours * 2),
    }));
    this.grant();

    // Ten minutes past the hour: SageMaker has flushed the capture files of the hour before. The schedule
    // is named so that its role admits EventBridge Scheduler for this schedule only (confused deputy).
    const scheduleName = props.stateMachineName;
    const scheduleRole = new MlServiceRole(this, 'ScheduleRole', {
      description: `EventBridge Scheduler starts ${props.stateMachineName}`,
      trust: {
        service: 'scheduler.amazonaws.com',
        sourceArnPattern: stack.formatArn({ service: 'scheduler', resource: 'schedule', resourceName: `default/${scheduleName}` }),
      },
    });
    scheduleRole.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [this.stateMachine.stateMachineArn] }),
    );
    scheduleRole.allowSendMessages(props.deadLetterQueue);
    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      scheduleName,
      description: `Starts ${props.stateMachineName} every ${props.intervalHours} h for the hours before`,
      schedule: scheduler.ScheduleExpression.cron({ minute: '10', hour: props.intervalHours === 1 ? '*' : `0/${props.intervalHours}` }),
      target: new schedulerTargets.StepFunctionsStartExecution(this.stateMachine, {
        input: scheduler.ScheduleTargetInput.fromObject({ scheduledTime: scheduler.ContextAttribute.scheduledTime }),
        // Immutable: every permission goes through the managed policy of scheduleRole.
        role: iam.Role.fromRoleArn(this, 'ScheduleExecutionRole', scheduleRole.role.roleArn, { mutable: false }),
        deadLetterQueue: props.deadLetterQueue,
        retryAttempts: 3,
        maxEventAge: Duration.hours(1),
      }),
    });

    this.alarms = this.createAlarms();
  }

  /** The canary's metrics exist with a canary, the ground truth's with ground truth. */
  private qualitySourceConfigured(metricName: string): boolean {
    if (metricName.startsWith('Canary')) return this.props.canary !== undefined;
    if (metricName.startsWith('GroundTruth')) return this.props.groundTruth !== undefined;
    return true;
  }

  /** A monitor metric of one target. */
  metric(metricName: string, target: MonitorTarget, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    if (!MONITORING_METRICS.some((m) => m.name === metricName)) {
      throw new Error(`metricName: got '${metricName}'; allowed: ${MONITORING_METRICS.map((m) => m.name).join(', ')}`);
    }
    const [endpointDimension, variantDimension] = MONITORING_DIMENSIONS;
    return new cloudwatch.Metric({
      namespace: this.props.metricNamespace,
      metricName,
      dimensionsMap: { [endpointDimension]: target.endpointName, [variantDimension]: target.variantName },
      statistic: cloudwatch.Stats.MAXIMUM,
      period: Duration.minutes(5),
      ...props,
    });
  }

  /**
   * The largest value of `metricName` over every Bedrock provisioned model the monitor reported on (a Metrics
   * Insights query: the models are found at run time, so no alarm can name them).
   */
  bedrockMetric(metricName: string, period = Duration.minutes(5)): cloudwatch.MathExpression {
    const [endpointDimension, variantDimension] = MONITORING_DIMENSIONS;
    return new cloudwatch.MathExpression({
      expression: `SELECT MAX(${metricName}) FROM SCHEMA("${this.props.metricNamespace}", ${endpointDimension}, ${variantDimension}) WHERE ${variantDimension} = '${BEDROCK_VARIANT}'`,
      period,
      label: `${metricName} (largest over Bedrock models)`,
    });
  }

  /** Failed executions of the state machine (a target's failure is notified, the run itself succeeds). */
  metricFailedRuns(props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.stateMachine.metricFailed({ period: Duration.hours(this.props.intervalHours), statistic: cloudwatch.Stats.SUM, ...props });
  }

  private createAlarms(): Map<string, cloudwatch.Alarm> {
    const alarms = new Map<string, cloudwatch.Alarm>();
    const topic = new actions.SnsAction(this.props.topic);
    const notify = (key: string, alarm: cloudwatch.Alarm) => {
      alarm.addAlarmAction(topic);
      alarm.addOkAction(topic);
      alarms.set(key, alarm);
    };
    const hours = this.props.intervalHours;
    this.props.targets.forEach((target, i) => {
      const where = `${target.endpointName}/${target.variantName}`;
      // Two intervals without a report: one late run does not page, a stopped monitor does.
      notify(
        `${where}/${MONITOR_RUN_METRIC}`,
        this.metric(MONITOR_RUN_METRIC, target, { statistic: cloudwatch.Stats.SUM, period: Duration.hours(hours) }).createAlarm(this, `Target${i}NoReport`, {
          alarmDescription: `The capture monitor has not reported for ${where} in ${2 * hours} hours`,
          threshold: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
          evaluationPeriods: 2,
          datapointsToAlarm: 2,
          treatMissingData: cloudwatch.TreatMissingData.BREACHING,
        }),
      );
      for (const [key, metric] of THRESHOLD_METRICS) {
        if (metric.name === 'InvalidJsonRate' && !this.props.answersAreJson) continue;
        if (metric.kind === 'quality' && !this.qualitySourceConfigured(metric.name)) continue;
        // Five-minute periods: the alarm fires within 5 minutes of the value landing, and keeps its state
        // (missing data ignored) until the next run reports.
        notify(
          `${where}/${metric.name}`,
          this.metric(metric.name, target).createAlarm(this, `Target${i}${metric.name}`, {
            alarmDescription: `${where}: ${metric.description} ${metric.alarmBelow ? 'below' : 'above'} ${this.props.thresholds[key]} (monitoring.thresholds.${key})`,
            threshold: this.props.thresholds[key],
            comparisonOperator: metric.alarmBelow ? cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD : cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluationPeriods: 1,
            treatMissingData: cloudwatch.TreatMissingData.IGNORE,
          }),
        );
      }
    });
    if (this.props.watchesBedrock) {
      for (const [key, metric] of THRESHOLD_METRICS) {
        if (metric.kind !== 'drift' && metric.kind !== 'health') continue;
        if (metric.name === 'InvalidJsonRate' && !this.props.answersAreJson) continue;
        notify(
          `${BEDROCK_VARIANT}/${metric.name}`,
          this.bedrockMetric(metric.name).createAlarm(this, `Bedrock${metric.name}`, {
            alarmDescription: `A Bedrock provisioned model of this environment: ${metric.description} above ${this.props.thresholds[key]} (monitoring.thresholds.${key})`,
            threshold: this.props.thresholds[key],
            comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluationPeriods: 1,
            treatMissingData: cloudwatch.TreatMissingData.IGNORE,
          }),
        );
      }
    }
    notify(
      'state-machine/failed',
      this.metricFailedRuns().createAlarm(this, 'RunFailed', {
        alarmDescription: `${this.props.stateMachineName} failed (planning or the whole run)`,
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    return alarms;
  }

  /** Exactly what the states call, granted to the role's managed policy. */
  private grant(): void {
    const p = this.props;
    const stack = Stack.of(this);
    const add = (actions: string[], resources: string[], conditions?: Record<string, unknown>) =>
      this.role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources, conditions }));
    const fn = p.planFunction.functionArn;
    add(['lambda:InvokeFunction'], [fn, `${fn}:*`]);
    const canaryFn = p.canary?.function.functionArn;
    if (canaryFn) add(['lambda:InvokeFunction'], [canaryFn, `${canaryFn}:*`]);
    const jobs = stack.formatArn({ service: 'sagemaker', resource: 'processing-job', resourceName: `${p.jobNamePrefix}-mon-*` });
    add(['sagemaker:CreateProcessingJob', 'sagemaker:DescribeProcessingJob', 'sagemaker:StopProcessingJob', 'sagemaker:AddTags'], [jobs]);
    add(
      ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
      [stack.formatArn({ service: 'events', resource: 'rule', resourceName: 'StepFunctionsGetEventsForSageMakerProcessingJobsRule' })],
    );
    this.role.allowPassRole('sagemaker.amazonaws.com', p.job.role);
    this.role.allowKeyUseVia(p.job.key, 'sagemaker', ['kms:CreateGrant', 'kms:DescribeKey']);
    const results = `${p.outputBucket.bucketArnForGrants}/${p.outputPrefix}*`;
    add(['s3:GetObject'], [results]);
    this.role.allowKeyUseVia(p.outputBucket.encryptionKey, 's3', ['kms:Decrypt']);
    add(['cloudwatch:PutMetricData'], ['*'], { StringEquals: { 'cloudwatch:namespace': p.metricNamespace } });
    this.role.allowPublish(p.topic);
    this.role.allowStateMachineLogsAndTracing(this.logGroup);
    acknowledgeNag(
      this.role,
      { id: iam5ResourceFinding(this.role, jobs), reason: 'Monitor jobs are named per target, window and execution by the planner; the statement admits only names with the monitor prefix in this account and region' },
      { id: iam5ResourceFinding(this.role, `${fn}:*`), reason: 'Versions and aliases of the planner function' },
      ...(canaryFn ? [{ id: iam5ResourceFinding(this.role, `${canaryFn}:*`), reason: 'Versions and aliases of the canary function' }] : []),
      { id: iam5ResourceFinding(this.role, results), reason: 'Each run writes its results under its own key below the monitoring prefix; only that prefix is readable' },
      {
        id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
        reason: 'PutMetricData (limited by the cloudwatch:namespace condition), Step Functions log delivery and X-Ray tracing APIs have no resource-level permissions',
      },
    );
  }
}

function validate(p: CaptureMonitorProps): void {
  const problems: string[] = [];
  if (!Token.isUnresolved(p.intervalHours) && (!Number.isInteger(p.intervalHours) || p.intervalHours < 1 || p.intervalHours > 6)) {
    problems.push(`intervalHours: got ${p.intervalHours}; allowed: a whole number from 1 to 6 (CreateProcessingJob takes at most 10 inputs: code, launcher, baseline and one per hour)`);
  }
  const seen = new Set<string>();
  p.targets.forEach((t, i) => {
    const key = `${t.endpointName}/${t.variantName}`;
    if (seen.has(key)) problems.push(`targets[${i}]: ${key} is listed twice`);
    seen.add(key);
  });
  for (const key of THRESHOLD_METRICS.keys()) {
    const v = p.thresholds[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) problems.push(`thresholds.${key}: got ${v}; allowed: a number > 0`);
  }
  for (const key of Object.keys(p.thresholds)) {
    if (!THRESHOLD_METRICS.has(key)) problems.push(`thresholds.${key}: unknown; allowed: ${[...THRESHOLD_METRICS.keys()].join(', ')}`);
  }
  if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(p.jobNamePrefix) || p.jobNamePrefix.length > 20) {
    problems.push(`jobNamePrefix: got '${p.jobNamePrefix}'; allowed: up to 20 lower-case letters and digits with single hyphens (job names are at most 63 characters)`);
  }
  if (!p.outputPrefix.endsWith('/')) problems.push(`outputPrefix: got '${p.outputPrefix}'; allowed: a key prefix ending with '/'`);
  if (problems.length) throw new Error(`Invalid CaptureMonitor props:\n- ${problems.join('\n- ')}`);
}
