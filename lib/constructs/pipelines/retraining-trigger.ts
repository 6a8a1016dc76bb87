import { Duration, Names, Stack, Token } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { datasetFolderProblem } from '../../config/storage-layout';
import { acknowledgeNag } from '../compliance';
import { MlBucket } from '../ml-bucket';
import { JobNetworkPlacement } from '../ml-service-role';
import { PlatformFunction } from '../platform-function';

/** A dataset that new data and drift retrain: the folder `<rawPrefix><name>/`. */
export interface RetrainingDataset {
  /** Pipeline parameter values of this dataset's runs, besides the data location. @default - the pipeline's defaults */
  readonly parameters?: Readonly<Record<string, string>>;
}

/** A SageMaker pipeline: each run an execution, the data location a pipeline parameter. */
export interface PipelineRetrainingTarget {
  readonly kind: 'pipeline';
  readonly pipelineName: string;
  /** The pipeline's parameter names; dataset parameters may set only these. */
  readonly parameterNames: readonly string[];
  /** The pipeline parameter that takes the data location (`s3://<bucket>/<rawPrefix><dataset>/`). */
  readonly inputParameterName: string;
}

/** A Step Functions state machine (the Bedrock customization workflow): each run an execution named after its data. */
export interface StateMachineRetrainingTarget {
  readonly kind: 'stateMachine';
  readonly stateMachine: sfn.IStateMachine;
  /** The input field that takes the data location. */
  readonly inputField: string;
  /** A run starts only when the folder holds this file (e.g. train.jsonl). @default - any object */
  readonly requiredFile?: string;
}

export interface RetrainingTriggerProps {
  /** What a run is. */
  readonly target: PipelineRetrainingTarget | StateMachineRetrainingTarget;
  /** The training-data bucket; it must send its events to EventBridge. */
  readonly bucket: MlBucket;
  /** The prefix under which each dataset has its folder, e.g. `training-data/raw/`. */
  readonly rawPrefix: string;
  /** Datasets by folder name. @default - every folder whose name can name a run, without parameters */
  readonly datasets?: Readonly<Record<string, RetrainingDataset>>;
  /**
   * Start a dataset's run when objects land under its folder, once none has landed for this long.
   * @default - no S3 rule (drift requests only)
   */
  readonly quietPeriod?: Duration;
  /** Names the S3 rule; the queue admits EventBridge for this rule only. */
  readonly newDataRuleName: string;
  /**
   * Names a rule (in any stack) that may send drift requests, `{"trigger": "drift", "dataset", "alarm",
   * "time"}`: the queue admits EventBridge for it, so it can target `queue` (through a reference such as
   * `sqs.Queue.fromQueueArn`) without a dependency cycle.
   * @default - no drift requests
   */
  readonly driftRuleName?: string;
  /** How long new data waits for a running execution of its dataset before the request fails. @default 48 hours */
  readonly maxWait?: Duration;
  /** The platform's Python handlers (training/). */
  readonly code: lambda.Code;
  readonly placement: JobNetworkPlacement;
  /** Encrypts the request queue, the function's log group and environment; must admit CloudWatch Logs and EventBridge. */
  readonly key: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  /** Started runs and refused events are announced here. */
  readonly topic: sns.ITopic;
  /** Requests that failed five times, and events EventBridge could not deliver; it should alarm. */
  readonly deadLetterQueue: sqs.IQueue;
}

/**
 * A rule target that sends to the trigger's queue (by ARN, from any stack of the environment) without
 * touching the queue's policy, which admits the environment's rules by name; undeliverable events go to
 * `deadLetterQueue`, whose policy admits the rule. `message` defaults to the event itself.
 */
export function requestTarget(queueArn: string, deadLetterQueue: sqs.IQueue, message?: events.RuleTargetInput): events.IRuleTarget {
  return {
    bind: (rule: events.IRule): events.RuleTargetConfig => {
      deadLetterQueue.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: `UndeliveredEventsOf${Names.uniqueId(rule).slice(-40)}`,
          principals: [new iam.ServicePrincipal('events.amazonaws.com')],
          actions: ['sqs:SendMessage'],
          resources: [deadLetterQueue.queueArn],
          conditions: { ArnEquals: { 'aws:SourceArn': rule.ruleArn } },
        }),
      );
      return {
        arn: queueArn,
        input: message,
        deadLetterConfig: { arn: deadLetterQueue.queueArn },
        retryPolicy: { maximumRetryAttempts: 8, maximumEventAgeInSeconds: Duration.hours(2).toSeconds() },
      };
    },
  };
}

/** Times SQS hands a failing request back before it goes to the dead-letter queue. */
const MAX_RECEIVES = 5;

/**
 * Starts the fine-tuning pipeline for a dataset when new objects under its folder have settled (and, opt-in,
 * when a drift alarm asks), never twice for the same data nor while a run of the dataset is going. S3 events
 * (EventBridge) and drift requests go to one KMS-encrypted queue; a function (`training.triggers.retrain`)
 * waits out the quiet period by re-queuing with a delay, then starts the pipeline with the dataset's data
 * location and parameters. Refused events (a key with no dataset folder, a dataset not configured) start
 * nothing and are announced; requests that keep failing land in the dead-letter queue.
 */
export class RetrainingTrigger extends Construct {
  /** The request queue: S3 events, drift requests, and the function's own delayed looks. */
  readonly queue: sqs.Queue;
  readonly handler: PlatformFunction;
  /** The S3 rule; undefined without a quiet period. */
  readonly newDataRule?: events.Rule;

  constructor(scope: Construct, id: string, props: RetrainingTriggerProps) {
    super(scope, id);
    const problems: string[] = [];
    const target = props.target;
    const inputName = target.kind === 'pipeline' ? target.inputParameterName : target.inputField;
    if (props.datasets && Object.keys(props.datasets).length === 0) problems.push('datasets: got none; allowed: at least one dataset folder name, or omit for any');
    for (const [name, dataset] of Object.entries(props.datasets ?? {})) {
      const problem = datasetFolderProblem(name);
      if (problem) problems.push(`datasets.${name}: not a dataset folder name; ${problem}`);
      for (const parameter of Object.keys(dataset.parameters ?? {})) {
        if (parameter === inputName) {
          problems.push(`datasets.${name}.parameters.${parameter}: set by the trigger to the dataset's folder; remove it`);
        } else if (target.kind === 'pipeline' && !target.parameterNames.includes(parameter)) {
          problems.push(`datasets.${name}.parameters.${parameter}: not a parameter of the pipeline; allowed: ${target.parameterNames.join(', ')}`);
        }
      }
    }
    if (target.kind === 'pipeline' && !target.parameterNames.includes(target.inputParameterName)) {
      problems.push(`target.inputParameterName: got '${target.inputParameterName}'; allowed: ${target.parameterNames.join(', ')}`);
    }
    const quiet = props.quietPeriod?.toSeconds();
    if (quiet !== undefined && !Token.isUnresolved(quiet) && (quiet < 60 || quiet > 86400)) {
      problems.push(`quietPeriod: got ${quiet} s; allowed: 1 minute to 24 hours`);
    }
    if (!props.rawPrefix.endsWith('/')) problems.push(`rawPrefix: got '${props.rawPrefix}'; allowed: a prefix ending in '/'`);
    if (quiet === undefined && props.driftRuleName === undefined) problems.push('set quietPeriod, driftRuleName or both: the trigger has nothing to listen to');
    if (problems.length) throw new Error(`Invalid RetrainingTrigger props:\n- ${problems.join('\n- ')}`);

    const stack = Stack.of(this);
    const timeout = Duration.minutes(2);
    const targetName = target.kind === 'pipeline' ? target.pipelineName : 'the state machine';
    this.queue = new sqs.Queue(this, 'Requests', {
      encryptionMasterKey: props.key,
      enforceSSL: true,
      retentionPeriod: Duration.days(4),
      // Lambda's advice for SQS event sources: at least six times the function's timeout.
      visibilityTimeout: Duration.seconds(timeout.toSeconds() * 6),
      deadLetterQueue: { queue: props.deadLetterQueue, maxReceiveCount: MAX_RECEIVES },
    });
    // EventBridge may send from this environment's two rules only (the L2 target would admit every rule of
    // the account for an encrypted queue); the key's EventBridge statement comes with the dead-letter queue.
    const ruleArn = (name: string) => stack.formatArn({ service: 'events', resource: 'rule', resourceName: name });
    const senders = [...(quiet === undefined ? [] : [props.newDataRuleName]), ...(props.driftRuleName ? [props.driftRuleName] : [])];
    this.queue.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'RetrainingRequestsFromThisEnvironmentsRules',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['sqs:SendMessage'],
        resources: [this.queue.queueArn],
        conditions: { ArnEquals: { 'aws:SourceArn': senders.map(ruleArn) } },
      }),
    );

    this.handler = new PlatformFunction(this, 'Handler', {
      code: props.code,
      handler: 'training.triggers.retrain.handler',
      description: `Starts ${targetName} when a dataset's new data has settled${props.driftRuleName ? ' or drift asks' : ''}`,
      placement: props.placement,
      key: props.key,
      logRetention: props.logRetention,
      deadLetterQueue: props.deadLetterQueue,
      timeout,
      // Two looks at once at most (the event source's minimum); the ClientRequestToken keeps them from
      // starting the same data twice.
      reservedConcurrency: 2,
      environment: {
        FMFT_RETRAIN_SETTINGS: stack.toJsonString({
          bucket: props.bucket.bucket.bucketName,
          rawPrefix: props.rawPrefix,
          ...(target.kind === 'pipeline'
            ? { pipelineName: target.pipelineName }
            : { stateMachineArn: target.stateMachine.stateMachineArn, requiredFile: target.requiredFile ?? null }),
          inputParameter: inputName,
          datasets: props.datasets ?? null,
          quietSeconds: quiet ?? 0,
          queueUrl: this.queue.queueUrl,
          topicArn: props.topic.topicArn,
          maxWaitHours: (props.maxWait ?? Duration.hours(48)).toHours(),
          historyDays: 30,
        }),
      },
    });
    const role = this.handler.role;
    props.bucket.grantListObjects(role, props.rawPrefix);
    if (target.kind === 'pipeline') {
      const pipelineArn = stack.formatArn({ service: 'sagemaker', resource: 'pipeline', resourceName: target.pipelineName.toLowerCase() });
      role.grantPrincipal.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['sagemaker:StartPipelineExecution', 'sagemaker:ListPipelineExecutions'], resources: [pipelineArn] }),
      );
    } else {
      role.grantPrincipal.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['states:StartExecution', 'states:ListExecutions'], resources: [target.stateMachine.stateMachineArn] }),
      );
    }
    role.allowConsumeMessages(this.queue);
    role.allowSendMessages(this.queue);
    role.allowPublish(props.topic);
    const source = new SqsEventSource(this.queue, {
      batchSize: 10,
      maxBatchingWindow: Duration.minutes(1),
      reportBatchItemFailures: true,
      maxConcurrency: 2,
    });
    this.handler.fn.addEventSource(source);
    // Lambda checks the role's queue permissions when it creates the mapping.
    this.handler.fn.node.findAll().forEach((c) => {
      if (!(c instanceof lambda.CfnEventSourceMapping)) return;
      c.node.addDependency(role);
      acknowledgeNag(c, {
        id: 'Serverless::Serverless-LambdaEventSourceMappingDestination',
        reason:
          "An SQS event source takes no on-failure destination (Lambda's DestinationConfig is for stream and Kafka sources); the request queue's redrive policy moves a request that failed five times to the alarmed dead-letter queue",
      });
    });

    if (quiet !== undefined) {
      this.newDataRule = new events.Rule(this, 'NewData', {
        ruleName: props.newDataRuleName,
        description: `Objects under ${props.rawPrefix}<dataset>/ ask ${targetName} for a run`,
        eventPattern: {
          source: ['aws.s3'],
          detailType: ['Object Created'],
          detail: { bucket: { name: [props.bucket.bucket.bucketName] }, object: { key: events.Match.prefix(props.rawPrefix) } },
        },
      });
      this.newDataRule.addTarget(requestTarget(this.queue.queueArn, props.deadLetterQueue));
    }
  }
}
