import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { JobPlacement, ProcessingJobSpec, jobCodeInputs, launcherEntrypoint, moduleArguments, s3ProcessingInput } from '../pipeline/job-code';
import { acknowledgeNag, iam5ResourceFinding } from './compliance';
import { MlServiceRole } from './ml-service-role';
import { platformStateMachine } from './platform-state-machine';
import { workflowTags } from './workflow-tags';

/** Names of the states, for tests and for reading an execution's history. */
export const BEDROCK_STATE_NAMES = {
  prepare: 'CheckInputAndData',
  hasValidation: 'HasValidationData',
  customize: 'CustomizeModel',
  customizeWithValidation: 'CustomizeModelWithValidation',
  wantsThroughput: 'ProvisionThroughput?',
  createThroughput: 'CreateProvisionedThroughput',
  startWaiting: 'StartWaitingForThroughput',
  wait: 'WaitForThroughput',
  getThroughput: 'GetProvisionedThroughput',
  countWait: 'CountWait',
  throughputReady: 'ThroughputInService?',
  wantsEvaluation: 'Evaluate?',
  predictions: 'AskCustomModel',
  evaluate: 'EvaluatePredictions',
  deleteThroughput: 'DeleteProvisionedThroughput',
  notifySuccess: 'NotifySuccess',
  notifyFailure: 'NotifyFailure',
  succeeded: 'Succeeded',
  failed: 'Failed',
} as const;

/**
 * The idempotency token of a create call, derived from the execution and the call: every attempt of one run
 * sends the same token, so a retry after a lost response gets the job or throughput that attempt created
 * (the APIs return the first request's result for a repeated token) instead of failing on the taken name and
 * leaving it unwatched. A SHA-256 in hex fits the APIs' token pattern `[a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])?`.
 */
export function idempotencyToken(call: string): string {
  if (!/^[a-z-]+$/.test(call)) throw new Error(`idempotencyToken: call must be lower-case letters and hyphens, got '${call}'`);
  return `States.Hash(States.Format('{}/${call}', $$.Execution.Id), 'SHA-256')`;
}

/** Stands for the run's evaluation task in the evaluation job's argument list. */
const TASK_PLACEHOLDER = '<evaluation task>';

/**
 * `States.Array(...)` of `items`: literal strings quoted, and the placeholders given replaced by their JSON
 * paths. Literals must not hold the characters the intrinsic grammar reserves.
 */
export function statesArray(items: readonly string[], paths: Record<string, string>): string {
  const rendered = items.map((item) => {
    if (item in paths) return paths[item];
    if (/['{}\\]/.test(item)) throw new Error(`statesArray: '${item}' holds a character States.Array literals cannot carry`);
    return `'${item}'`;
  });
  return `States.Array(${rendered.join(', ')})`;
}

function renameKey<T extends { S3Input: Record<string, unknown> }>(input: T, from: string, to: string): T {
  const { [from]: value, ...rest } = input.S3Input;
  return { ...input, S3Input: { ...rest, [to]: value } };
}

/** Errors worth retrying: throttling and transient service faults (the names Step Functions raises). */
const TRANSIENT = {
  bedrock: ['Bedrock.ThrottlingException', 'Bedrock.InternalServerException', 'Bedrock.ServiceUnavailableException'],
  sageMaker: ['SageMaker.AmazonSageMakerException', 'SageMaker.ThrottlingException'],
  sns: ['Sns.ThrottledException', 'Sns.InternalErrorException'],
};

export type { JobPlacement } from '../pipeline/job-code';

export interface BedrockCustomizationWorkflowProps {
  readonly stateMachineName: string;
  /** Checks the input and the data (training.bedrock.handlers.prepare). */
  readonly prepareFunction: lambda.IFunction;
  /** Asks the custom model the test prompts (training.bedrock.handlers.write_predictions). */
  readonly predictionsFunction: lambda.IFunction;
  /** Role Bedrock assumes for the customization job (reads data, writes output, uses the key, joins the VPC). */
  readonly customizationRole: iam.IRole;
  /** Encrypts the custom model; separate from the data key (see StorageStack). */
  readonly customModelKey: kms.IKey;
  /** `s3://.../models/bedrock/`: the job's output (metrics, logs). */
  readonly outputUri: string;
  /** Where the customization job's ENIs go. */
  readonly jobPlacement: JobPlacement;
  /** The evaluation job (`python -m training.evaluate <task>`) and the bucket its report goes to. */
  readonly evaluation: ProcessingJobSpec & { readonly bucketName: string };
  readonly topic: sns.ITopic;
  /** Encrypts the state machine's log group. */
  readonly logKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  /** Polls for InService every minute up to this many minutes, then deletes the throughput and fails. */
  readonly throughputWaitMinutes: number;
  readonly tags: Record<string, string>;
}

/**
 * A Bedrock customization run as a Step Functions state machine: check input and data -> customization job
 * (`.sync`: Step Functions waits, no polling code) -> optional provisioned throughput, awaited InService ->
 * optional evaluation of the test split (predictions from the custom model, metrics by the evaluation
 * toolkit in a SageMaker processing job) -> notification. Every task retries transient errors and catches
 * the rest; a failure after the throughput exists deletes it before the run fails, so none keeps billing.
 */
export class BedrockCustomizationWorkflow extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly role: MlServiceRole;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: BedrockCustomizationWorkflowProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const n = BEDROCK_STATE_NAMES;
    // Jobs, custom models and throughput carry the cost tags and the run (the execution's name).
    const tagList = workflowTags(props.tags, props.stateMachineName, 'asl');
    const taskTags = workflowTags(props.tags, props.stateMachineName, 'task');
    const waitPolls = props.throughputWaitMinutes;

    // ------------------------------------------------------------------ terminal states
    const failed = new sfn.Fail(this, n.failed, { errorPath: '$.error.Error', causePath: '$.error.Cause' });
    const notifyFailure = new tasks.SnsPublish(this, n.notifyFailure, {
      topic: props.topic,
      subject: `Bedrock customization failed: ${props.stateMachineName}`,
      message: sfn.TaskInput.fromObject({
        outcome: 'FAILED',
        execution: sfn.JsonPath.executionId,
        error: sfn.JsonPath.objectAt('$.error'),
      }),
      resultPath: sfn.JsonPath.DISCARD,
    });
    notifyFailure.addRetry({ errors: TRANSIENT.sns, maxAttempts: 6, backoffRate: 2, interval: Duration.seconds(2) });
    // A notification that cannot be sent must not hide the run's own error.
    notifyFailure.addCatch(failed, { resultPath: '$.notificationError' });
    notifyFailure.next(failed);

    const succeeded = new sfn.Succeed(this, n.succeeded);
    const notifySuccess = new tasks.SnsPublish(this, n.notifySuccess, {
      topic: props.topic,
      subject: `Bedrock customization succeeded: ${props.stateMachineName}`,
      message: sfn.TaskInput.fromObject({
        outcome: 'SUCCEEDED',
        execution: sfn.JsonPath.executionId,
        customModelArn: sfn.JsonPath.stringAt('$.job.outputModelArn'),
        run: sfn.JsonPath.objectAt('$.run'),
        throughput: sfn.JsonPath.objectAt('$.throughput'),
        evaluation: sfn.JsonPath.objectAt('$.evaluation'),
      }),
      resultPath: sfn.JsonPath.DISCARD,
    });
    notifySuccess.addRetry({ errors: TRANSIENT.sns, maxAttempts: 6, backoffRate: 2, interval: Duration.seconds(2) });
    // The run itself succeeded: a lost e-mail must neither fail it nor delete the throughput it provisioned.
    notifySuccess.addCatch(succeeded, { resultPath: '$.notificationError' });
    notifySuccess.next(succeeded);

    // Every failure after the throughput exists comes here first.
    const deleteThroughput = new tasks.CallAwsService(this, n.deleteThroughput, {
      service: 'bedrock',
      action: 'deleteProvisionedModelThroughput',
      parameters: { ProvisionedModelId: sfn.JsonPath.stringAt('$.throughput.arn') },
      iamResources: [this.bedrockArn('provisioned-model/*')],
      resultPath: sfn.JsonPath.DISCARD,
    });
    deleteThroughput.addRetry({ errors: [...TRANSIENT.bedrock, 'Bedrock.ConflictException'], maxAttempts: 10, backoffRate: 2, interval: Duration.seconds(10) });
    deleteThroughput.addCatch(notifyFailure, { resultPath: '$.deleteError' });
    deleteThroughput.next(notifyFailure);

    // ------------------------------------------------------------------ check input and data
    const prepare = new tasks.LambdaInvoke(this, n.prepare, {
      lambdaFunction: props.prepareFunction,
      payload: sfn.TaskInput.fromObject({
        input: sfn.JsonPath.objectAt('$$.Execution.Input'),
        executionName: sfn.JsonPath.stringAt('$$.Execution.Name'),
      }),
      payloadResponseOnly: true,
      resultPath: '$.run',
      retryOnServiceExceptions: true,
    });
    prepare.addCatch(notifyFailure, { resultPath: '$.error' });

    // ------------------------------------------------------------------ customization job
    const customize = (stateName: string, withValidation: boolean) => {
      const state = new sfn.CustomState(this, stateName, {
        stateJson: {
          Type: 'Task',
          Resource: `arn:${stack.partition}:states:::bedrock:createModelCustomizationJob.sync`,
          Parameters: {
            'JobName.$': '$.run.jobName',
            'CustomModelName.$': '$.run.customModelName',
            'BaseModelIdentifier.$': '$.run.baseModelIdentifier',
            'CustomizationType.$': '$.run.customizationType',
            'HyperParameters.$': '$.run.hyperParameters',
            'ClientRequestToken.$': idempotencyToken('customization-job'),
            RoleArn: props.customizationRole.roleArn,
            CustomModelKmsKeyId: props.customModelKey.keyArn,
            TrainingDataConfig: { 'S3Uri.$': '$.run.trainingDataUri' },
            ...(withValidation ? { ValidationDataConfig: { Validators: [{ 'S3Uri.$': '$.run.validationDataUri' }] } } : {}),
            OutputDataConfig: { S3Uri: props.outputUri },
            VpcConfig: { SubnetIds: props.jobPlacement.subnetIds, SecurityGroupIds: props.jobPlacement.securityGroupIds },
            JobTags: tagList,
            CustomModelTags: tagList,
          },
          ResultSelector: { 'jobArn.$': '$.JobArn', 'outputModelArn.$': '$.OutputModelArn', 'status.$': '$.Status' },
          ResultPath: '$.job',
        },
      });
      state.addRetry({ errors: TRANSIENT.bedrock, maxAttempts: 5, backoffRate: 2, interval: Duration.seconds(30) });
      state.addCatch(notifyFailure, { resultPath: '$.error' });
      return state;
    };
    const hasValidation = new sfn.Choice(this, n.hasValidation)
      .when(sfn.Condition.booleanEquals('$.run.hasValidationData', true), customize(n.customizeWithValidation, true))
      .otherwise(customize(n.customize, false));

    // ------------------------------------------------------------------ provisioned throughput
    const createThroughput = new tasks.CallAwsService(this, n.createThroughput, {
      service: 'bedrock',
      action: 'createProvisionedModelThroughput',
      parameters: {
        ModelId: sfn.JsonPath.stringAt('$.job.outputModelArn'),
        ProvisionedModelName: sfn.JsonPath.stringAt('$.run.provisionedModelName'),
        ModelUnits: sfn.JsonPath.numberAt('$.run.provisionedModelUnits'),
        ClientRequestToken: sfn.JsonPath.stringAt(idempotencyToken('provisioned-throughput')),
        Tags: taskTags,
      },
      iamResources: [this.bedrockArn('provisioned-model/*'), this.bedrockArn('custom-model/*')],
      resultSelector: { 'arn.$': '$.ProvisionedModelArn' },
      resultPath: '$.throughput',
    });
    createThroughput.addRetry({ errors: TRANSIENT.bedrock, maxAttempts: 5, backoffRate: 2, interval: Duration.seconds(20) });
    createThroughput.addCatch(notifyFailure, { resultPath: '$.error' });

    const startWaiting = new sfn.Pass(this, n.startWaiting, { result: sfn.Result.fromObject({ count: 0 }), resultPath: '$.throughputPolls' });
    const wait = new sfn.Wait(this, n.wait, { time: sfn.WaitTime.duration(Duration.minutes(1)) });
    const getThroughput = new tasks.CallAwsService(this, n.getThroughput, {
      service: 'bedrock',
      action: 'getProvisionedModelThroughput',
      parameters: { ProvisionedModelId: sfn.JsonPath.stringAt('$.throughput.arn') },
      iamResources: [this.bedrockArn('provisioned-model/*')],
      resultSelector: { 'arn.$': '$.ProvisionedModelArn', 'status.$': '$.Status', 'modelUnits.$': '$.ModelUnits' },
      resultPath: '$.throughput',
    });
    getThroughput.addRetry({ errors: TRANSIENT.bedrock, maxAttempts: 5, backoffRate: 2, interval: Duration.seconds(10) });
    getThroughput.addCatch(deleteThroughput, { resultPath: '$.error' });
    const countPoll = new sfn.Pass(this, n.countWait, {
      parameters: { 'count.$': 'States.MathAdd($.throughputPolls.count, 1)' },
      resultPath: '$.throughputPolls',
    });

    const timedOut = new sfn.Pass(this, 'ThroughputTimedOut', {
      parameters: {
        Error: 'ThroughputNotInService',
        'Cause.$': `States.Format('Provisioned throughput {} was not InService after ${waitPolls} minutes (status {}); it is deleted', $.throughput.arn, $.throughput.status)`,
      },
      resultPath: '$.error',
    });
    timedOut.next(deleteThroughput);
    const throughputFailed = new sfn.Pass(this, 'ThroughputFailed', {
      parameters: {
        Error: 'ThroughputFailed',
        'Cause.$': "States.Format('Provisioned throughput {} ended in status {}; it is deleted', $.throughput.arn, $.throughput.status)",
      },
      resultPath: '$.error',
    });
    throughputFailed.next(deleteThroughput);

    // ------------------------------------------------------------------ evaluation
    const predictions = new tasks.LambdaInvoke(this, n.predictions, {
      lambdaFunction: props.predictionsFunction,
      payload: sfn.TaskInput.fromObject({
        run: sfn.JsonPath.objectAt('$.run'),
        modelArn: sfn.JsonPath.stringAt('$.throughput.arn'),
        evaluationBucket: props.evaluation.bucketName,
      }),
      payloadResponseOnly: true,
      resultPath: '$.predictions',
      retryOnServiceExceptions: true,
    });
    predictions.addCatch(deleteThroughput, { resultPath: '$.error' });

    const ev = props.evaluation;
    // The task comes from the run, so the argument list is built at run time: States.Array of literals and
    // one path. The literals are checked against the API's limits by tools/api_model like any other request.
    const evaluationArguments = moduleArguments(ev.code, 'training.evaluate', [
      TASK_PLACEHOLDER,
      '--predictions',
      '/opt/ml/processing/input/predictions',
      '--output-dir',
      '/opt/ml/processing/output/evaluation',
    ]);
    const evaluate = new sfn.CustomState(this, n.evaluate, {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${stack.partition}:states:::sagemaker:createProcessingJob.sync`,
        Parameters: {
          'ProcessingJobName.$': '$.run.evaluationJobName',
          RoleArn: ev.role.roleArn,
          AppSpecification: {
            ImageUri: ev.imageUri,
            ContainerEntrypoint: launcherEntrypoint(ev.code),
            'ContainerArguments.$': statesArray(evaluationArguments, { [TASK_PLACEHOLDER]: '$.run.evaluationTask' }),
          },
          ProcessingInputs: [
            ...jobCodeInputs(ev.code),
            // S3Uri comes from the predictions state: the '.$' key makes it a path.
            renameKey(s3ProcessingInput('predictions', '$.predictions.predictionsUri', '/opt/ml/processing/input/predictions'), 'S3Uri', 'S3Uri.$'),
          ],
          ProcessingOutputConfig: {
            KmsKeyId: ev.key.keyArn,
            Outputs: [
              {
                OutputName: 'evaluation',
                S3Output: {
                  'S3Uri.$': `States.Format('s3://${ev.bucketName}/{}', $.run.evaluationPrefix)`,
                  LocalPath: '/opt/ml/processing/output/evaluation',
                  S3UploadMode: 'EndOfJob',
                },
              },
            ],
          },
          ProcessingResources: {
            ClusterConfig: { InstanceType: ev.instanceType, InstanceCount: 1, VolumeSizeInGB: 30, VolumeKmsKeyId: ev.key.keyArn },
          },
          NetworkConfig: {
            EnableNetworkIsolation: true,
            EnableInterContainerTrafficEncryption: true,
            VpcConfig: { Subnets: ev.placement.subnetIds, SecurityGroupIds: ev.placement.securityGroupIds },
          },
          StoppingCondition: { MaxRuntimeInSeconds: 3600 },
          Tags: tagList,
        },
        ResultSelector: { 'jobArn.$': '$.ProcessingJobArn', 'status.$': '$.ProcessingJobStatus' },
        ResultPath: '$.evaluation',
      },
    });
    evaluate.addRetry({ errors: TRANSIENT.sageMaker, maxAttempts: 5, backoffRate: 2, interval: Duration.seconds(30) });
    evaluate.addCatch(deleteThroughput, { resultPath: '$.error' });

    const noEvaluation = new sfn.Pass(this, 'NoEvaluation', { result: sfn.Result.fromObject({ skipped: true }), resultPath: '$.evaluation' });
    const wantsEvaluation = new sfn.Choice(this, n.wantsEvaluation)
      .when(sfn.Condition.booleanEquals('$.run.evaluate', true), predictions.next(evaluate).next(notifySuccess))
      .otherwise(noEvaluation.next(notifySuccess));

    const throughputReady = new sfn.Choice(this, n.throughputReady)
      .when(sfn.Condition.stringEquals('$.throughput.status', 'InService'), wantsEvaluation)
      .when(sfn.Condition.stringEquals('$.throughput.status', 'Failed'), throughputFailed)
      .when(sfn.Condition.numberGreaterThanEquals('$.throughputPolls.count', waitPolls), timedOut)
      .otherwise(wait);

    const noThroughput = new sfn.Pass(this, 'NoThroughput', {
      result: sfn.Result.fromObject({ skipped: true }),
      resultPath: '$.throughput',
    });
    const skipEvaluation = new sfn.Pass(this, 'EvaluationNeedsThroughput', {
      result: sfn.Result.fromObject({ skipped: true }),
      resultPath: '$.evaluation',
    });
    const wantsThroughput = new sfn.Choice(this, n.wantsThroughput)
      .when(sfn.Condition.booleanEquals('$.run.provision', true), createThroughput)
      .otherwise(noThroughput.next(skipEvaluation).next(notifySuccess));
    createThroughput.next(startWaiting).next(wait).next(getThroughput).next(countPoll).next(throughputReady);

    // ------------------------------------------------------------------ wiring
    const definition = prepare.next(hasValidation);
    for (const job of [n.customize, n.customizeWithValidation]) {
      (this.node.findChild(job) as sfn.CustomState).next(wantsThroughput);
    }

    ({ stateMachine: this.stateMachine, role: this.role, logGroup: this.logGroup } = platformStateMachine(this, {
      stateMachineName: props.stateMachineName,
      definition: definition,
      logKey: props.logKey,
      logRetention: props.logRetention,
      timeout: Duration.days(30),
    }));
    this.grant(props);
  }

  private bedrockArn(resource: string): string {
    return Stack.of(this).formatArn({ service: 'bedrock', resource: resource.split('/')[0], resourceName: resource.split('/')[1] });
  }

  /** Exactly what the states above call, granted to the role's managed policy. */
  private grant(props: BedrockCustomizationWorkflowProps): void {
    const stack = Stack.of(this);
    const add = (actions: string[], resources: string[], conditions?: Record<string, unknown>) =>
      this.role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources, conditions }));
    for (const fn of [props.prepareFunction, props.predictionsFunction]) {
      add(['lambda:InvokeFunction'], [fn.functionArn, `${fn.functionArn}:*`]);
    }
    const jobs = this.bedrockArn('model-customization-job/*');
    const customModels = this.bedrockArn('custom-model/*');
    const throughput = this.bedrockArn('provisioned-model/*');
    const foundationModels = stack.formatArn({ service: 'bedrock', account: '', resource: 'foundation-model', resourceName: '*' });
    add(['bedrock:CreateModelCustomizationJob', 'bedrock:GetModelCustomizationJob', 'bedrock:StopModelCustomizationJob'], [jobs, customModels, foundationModels]);
    add(['bedrock:TagResource'], [jobs, customModels, throughput]);
    add(
      ['bedrock:CreateProvisionedModelThroughput', 'bedrock:GetProvisionedModelThroughput', 'bedrock:DeleteProvisionedModelThroughput'],
      [throughput, customModels],
    );
    this.role.allowPassRole('bedrock.amazonaws.com', props.customizationRole);
    this.role.allowPassRole('sagemaker.amazonaws.com', props.evaluation.role);
    this.role.allowKeyUseVia(props.customModelKey, 'bedrock', ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:CreateGrant', 'kms:DescribeKey']);
    this.role.allowKeyUseVia(props.evaluation.key, 'sagemaker', ['kms:CreateGrant', 'kms:DescribeKey']);
    const processingJobs = stack.formatArn({ service: 'sagemaker', resource: 'processing-job', resourceName: '*' });
    add(['sagemaker:CreateProcessingJob', 'sagemaker:DescribeProcessingJob', 'sagemaker:StopProcessingJob', 'sagemaker:AddTags'], [processingJobs]);
    add(
      ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
      [stack.formatArn({ service: 'events', resource: 'rule', resourceName: 'StepFunctionsGetEventsForSageMakerProcessingJobsRule' })],
    );
    this.role.allowPublish(props.topic);
    this.role.allowStateMachineLogsAndTracing(this.logGroup);
    const why = (what: string) => `${what}; the name is generated per run, so the statement is limited to this account and region's resources of that type`;
    acknowledgeNag(
      this.role,
      { id: iam5ResourceFinding(this.role, jobs), reason: why('Customization jobs are created by this state machine') },
      { id: iam5ResourceFinding(this.role, customModels), reason: why('Custom models are the output of those jobs') },
      { id: iam5ResourceFinding(this.role, throughput), reason: why('Provisioned throughput is created for the run’s custom model') },
      { id: iam5ResourceFinding(this.role, foundationModels), reason: 'The base model is chosen in the run input and checked against the model table by the first state; foundation models are AWS-owned resources' },
      { id: iam5ResourceFinding(this.role, processingJobs), reason: why('The evaluation processing job is named per run') },
      { id: iam5ResourceFinding(this.role, `${props.prepareFunction.functionArn}:*`), reason: 'Versions and aliases of this one function' },
      {
        id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
        reason: 'Step Functions log delivery (logs:*LogDelivery, resource policies) and X-Ray tracing APIs have no resource-level permissions',
      },
      { id: iam5ResourceFinding(this.role, `${props.predictionsFunction.functionArn}:*`), reason: 'Versions and aliases of this one function' },
    );
  }
}
