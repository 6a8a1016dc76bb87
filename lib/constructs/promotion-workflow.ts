import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { PromotionConfig } from '../config/environment-config';
import { STAGING_VARIANT } from '../operations/staging';
import { jobCodeInputs, launcherEntrypoint, moduleArguments, ProcessingJobSpec } from '../pipeline/job-code';
import { acknowledgeNag, iam5ResourceFinding } from './compliance';
import { MlServiceRole } from './ml-service-role';
import { platformStateMachine } from './platform-state-machine';
import { workflowTags } from './workflow-tags';

/** Names of the states, for tests, for the graph proof and for reading an execution's history. */
export const PROMOTION_STATE_NAMES = {
  action: 'PromoteOrRollBack',
  check: 'CheckCandidate',
  staging: 'DeployToStaging',
  startStagingPolls: 'StartWaitingForStaging',
  waitStaging: 'WaitForStaging',
  describeStaging: 'DescribeStagingEndpoint',
  countStaging: 'CountStagingPolls',
  stagingReady: 'StagingInService?',
  stagingFailed: 'StagingNotInService',
  notifyStagingReady: 'NotifyStagingReady',
  ask: 'AskStaging',
  score: 'ScoreAnswers',
  judge: 'JudgeValidation',
  passed: 'ValidationPassed?',
  validationFailed: 'ValidationFailed',
  approval: 'AwaitApproval',
  rejected: 'Rejected',
  approvalTimedOut: 'NotifyApprovalTimedOut',
  deploy: 'DeployProduction',
  restore: 'RestorePreviousManifest',
  changed: 'AnythingToRollOut?',
  unchanged: 'NothingToRollOut',
  waitRollout: 'WaitForRollout',
  rolloutStatus: 'ReadRolloutStatus',
  rolloutDone: 'RolloutDone?',
  finish: 'FinishRollout',
  serving: 'Serving?',
  inProduction: 'InProduction',
  rolledBack: 'RolledBack',
  notifyFailure: 'NotifyFailure',
  failed: 'Failed',
} as const;

/** The `step` values of the promotion steps function (training/registry/promotion.py) this workflow calls. */
export const PROMOTION_STEPS = ['check', 'judge', 'awaitApproval', 'deploy', 'rollback', 'rolloutStatus', 'finish'] as const;

/** The error the events function fails the approval task with when a person rejects the version. */
export const REJECTED_ERROR = 'VersionRejected';

/** Seconds between looks at the staging endpoint and at the production rollout. */
export const STAGING_POLL_SECONDS = 60;
export const ROLLOUT_POLL_SECONDS = 120;
/** A rollout (blue/green steps, bake times, old-fleet wait) may take this long before the execution gives up. */
export const MAX_ROLLOUT_HOURS = 24;

export interface PromotionWorkflowProps {
  readonly stateMachineName: string;
  readonly promotion: PromotionConfig;
  /** `training.registry.promotion.step_handler`: check, judge, await approval, deploy, roll back, finish. */
  readonly stepsFunction: lambda.IFunction;
  /** `deployToStaging` (lib/operations/staging.ts): a new model and endpoint configuration on the staging endpoint. */
  readonly stagingFunction: lambda.IFunction;
  /** The quality canary (`training.monitor.canary.handler`), asked to send the golden prompts to staging. */
  readonly canaryFunction: lambda.IFunction;
  readonly stagingEndpointName: string;
  /** Serving container of the staging endpoint (the canary's request shape). */
  readonly container: string;
  /** Where the staging answers are scored: the job image, role and code of the platform's processing jobs. */
  readonly scoring: ProcessingJobSpec;
  readonly topic: sns.ITopic;
  readonly logKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  readonly tags: Record<string, string>;
}

const TRANSIENT = {
  sageMaker: ['SageMaker.AmazonSageMakerException', 'SageMaker.ThrottlingException'],
  sns: ['Sns.ThrottledException', 'Sns.InternalErrorException'],
};

/**
 * Staged promotion of a registered model version, as a Step Functions state machine:
 *
 * candidate -> staging endpoint (awaited InService) -> validation on staging (the golden prompts through the
 * canary function with at most 100 output tokens, answers scored by the evaluation toolkit in a processing
 * job, then a judgement of format, score, p95 latency and error rate, recorded on the version) -> a request
 * for approval that waits on a task token until a person approves or rejects the version in the registry ->
 * the production rollout: CloudFormation updates the endpoints stack's model-version parameter, so SageMaker's
 * blue/green deployment with alarm rollback moves the traffic -> the outcome recorded in the serving manifest
 * and on the version. An execution with `{"action": "rollback"}` restores the manifest that served before.
 *
 * Every task retries transient errors and catches the rest into one notification; the Python steps notify each
 * transition themselves. No path reaches `DeployProduction` without `AwaitApproval`
 * (test/constructs/promotion-workflow.cases.ts walks the graph).
 */
export class PromotionWorkflow extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly role: MlServiceRole;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: PromotionWorkflowProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const n = PROMOTION_STATE_NAMES;
    const p = props.promotion;
    // The jobs carry the cost tags and the run (the execution's name).
    const tagList = workflowTags(props.tags, props.stateMachineName, 'asl');

    // ------------------------------------------------------------------ failure
    const failed = new sfn.Fail(this, n.failed, { errorPath: '$.error.Error', causePath: '$.error.Cause' });
    const notifyFailure = new tasks.SnsPublish(this, n.notifyFailure, {
      topic: props.topic,
      subject: `Promotion failed: ${props.stateMachineName}`,
      message: sfn.TaskInput.fromObject({ event: 'promotion-failed', execution: sfn.JsonPath.executionId, error: sfn.JsonPath.objectAt('$.error') }),
      resultPath: sfn.JsonPath.DISCARD,
    });
    notifyFailure.addRetry({ errors: TRANSIENT.sns, maxAttempts: 6, backoffRate: 2, interval: Duration.seconds(2) });
    notifyFailure.addCatch(failed, { resultPath: '$.notificationError' });
    notifyFailure.next(failed);
    const guarded = <T extends sfn.TaskStateBase | sfn.CustomState>(task: T): T => {
      task.addCatch(notifyFailure, { resultPath: '$.error' });
      return task;
    };
    const step = (id: string, stepName: (typeof PROMOTION_STEPS)[number], payload: Record<string, unknown>, resultPath: string) =>
      guarded(
        new tasks.LambdaInvoke(this, id, {
          lambdaFunction: props.stepsFunction,
          payload: sfn.TaskInput.fromObject({ step: stepName, ...payload }),
          payloadResponseOnly: true,
          resultPath,
          retryOnServiceExceptions: true,
        }),
      );

    // ------------------------------------------------------------------ candidate -> staging
    const check = step(n.check, 'check', { modelPackageArn: sfn.JsonPath.stringAt('$.modelPackageArn'), executionName: sfn.JsonPath.stringAt('$$.Execution.Name') }, '$.candidate');
    const staging = guarded(
      new tasks.LambdaInvoke(this, n.staging, {
        lambdaFunction: props.stagingFunction,
        payload: sfn.TaskInput.fromObject({ modelPackageArn: sfn.JsonPath.stringAt('$.candidate.modelPackageArn') }),
        payloadResponseOnly: true,
        resultPath: '$.staging',
        retryOnServiceExceptions: true,
      }),
    );
    const startPolls = new sfn.Pass(this, n.startStagingPolls, { result: sfn.Result.fromObject({ count: 0 }), resultPath: '$.stagingPolls' });
    const waitStaging = new sfn.Wait(this, n.waitStaging, { time: sfn.WaitTime.duration(Duration.seconds(STAGING_POLL_SECONDS)) });
    const describeStaging = guarded(
      new tasks.CallAwsService(this, n.describeStaging, {
        service: 'sagemaker',
        action: 'describeEndpoint',
        parameters: { EndpointName: props.stagingEndpointName },
        iamResources: [stack.formatArn({ service: 'sagemaker', resource: 'endpoint', resourceName: props.stagingEndpointName })],
        iamAction: 'sagemaker:DescribeEndpoint',
        resultSelector: { 'status.$': '$.EndpointStatus', 'config.$': '$.EndpointConfigName' },
        resultPath: '$.stagingEndpoint',
      }),
    );
    describeStaging.addRetry({ errors: TRANSIENT.sageMaker, maxAttempts: 5, backoffRate: 2, interval: Duration.seconds(10) });
    const countStaging = new sfn.Pass(this, n.countStaging, {
      parameters: { 'count.$': 'States.MathAdd($.stagingPolls.count, 1)' },
      resultPath: '$.stagingPolls',
    });
    const stagingFailed = new sfn.Pass(this, n.stagingFailed, {
      parameters: {
        Error: 'StagingNotInService',
        'Cause.$': `States.Format('the staging endpoint ${props.stagingEndpointName} is {} with configuration {} after {} looks (expected InService with {})', $.stagingEndpoint.status, $.stagingEndpoint.config, $.stagingPolls.count, $.staging.endpointConfigName)`,
      },
      resultPath: '$.error',
    }).next(notifyFailure);
    const notifyStagingReady = new tasks.SnsPublish(this, n.notifyStagingReady, {
      topic: props.topic,
      subject: `Staging serves the candidate: ${props.stateMachineName}`,
      message: sfn.TaskInput.fromObject({
        event: 'staging-in-service',
        execution: sfn.JsonPath.executionId,
        modelPackageArn: sfn.JsonPath.stringAt('$.candidate.modelPackageArn'),
        endpointName: props.stagingEndpointName,
        endpointConfigName: sfn.JsonPath.stringAt('$.staging.endpointConfigName'),
      }),
      resultPath: sfn.JsonPath.DISCARD,
    });
    notifyStagingReady.addRetry({ errors: TRANSIENT.sns, maxAttempts: 6, backoffRate: 2, interval: Duration.seconds(2) });
    guarded(notifyStagingReady);

    // ------------------------------------------------------------------ validation on staging
    const v = p.validation;
    const ask = guarded(
      new tasks.LambdaInvoke(this, n.ask, {
        lambdaFunction: props.canaryFunction,
        payload: sfn.TaskInput.fromObject({
          endpointName: props.stagingEndpointName,
          variantName: STAGING_VARIANT,
          container: props.container,
          modelId: '',
          maxNewTokens: v.maxNewTokens,
          canary: sfn.JsonPath.objectAt('$.candidate.canary'),
        }),
        payloadResponseOnly: true,
        resultPath: '$.canary',
        retryOnServiceExceptions: true,
      }),
    );
    const PROC = '/opt/ml/processing';
    const score = guarded(
      new sfn.CustomState(this, n.score, {
        stateJson: {
          Type: 'Task',
          Resource: `arn:${stack.partition}:states:::sagemaker:createProcessingJob.sync`,
          Parameters: {
            'ProcessingJobName.$': '$.candidate.scoringJobName',
            RoleArn: props.scoring.role.roleArn,
            AppSpecification: {
              ImageUri: props.scoring.imageUri,
              ContainerEntrypoint: launcherEntrypoint(props.scoring.code),
              ContainerArguments: moduleArguments(props.scoring.code, 'training.monitor', [
                'score-canary',
                '--predictions',
                `${PROC}/input/predictions`,
                '--task',
                v.task,
                '--output-dir',
                `${PROC}/output/score`,
              ]),
            },
            ProcessingInputs: [
              ...jobCodeInputs(props.scoring.code),
              { InputName: 'predictions', S3Input: pathS3Input(`${PROC}/input/predictions`, '$.candidate.predictionsUri') },
            ],
            ProcessingOutputConfig: {
              KmsKeyId: props.scoring.key.keyArn,
              Outputs: [{ OutputName: 'score', S3Output: { 'S3Uri.$': '$.candidate.scoreUri', LocalPath: `${PROC}/output/score`, S3UploadMode: 'EndOfJob' } }],
            },
            ProcessingResources: {
              ClusterConfig: { InstanceType: props.scoring.instanceType, InstanceCount: 1, VolumeSizeInGB: 30, VolumeKmsKeyId: props.scoring.key.keyArn },
            },
            NetworkConfig: {
              EnableNetworkIsolation: true,
              EnableInterContainerTrafficEncryption: true,
              VpcConfig: { Subnets: props.scoring.placement.subnetIds, SecurityGroupIds: props.scoring.placement.securityGroupIds },
            },
            StoppingCondition: { MaxRuntimeInSeconds: 3600 },
            Tags: tagList,
          },
          ResultSelector: { 'jobArn.$': '$.ProcessingJobArn', 'status.$': '$.ProcessingJobStatus' },
          ResultPath: '$.scoring',
        },
      }),
    );
    score.addRetry({ errors: TRANSIENT.sageMaker, maxAttempts: 5, backoffRate: 2, interval: Duration.seconds(30) });
    const judge = step(n.judge, 'judge', { candidate: sfn.JsonPath.objectAt('$.candidate'), canary: sfn.JsonPath.objectAt('$.canary') }, '$.validation');
    const validationFailed = new sfn.Fail(this, n.validationFailed, {
      error: 'StagingValidationFailed',
      cause: 'The candidate failed its validation on staging; the version names the report (staging_validation_report) and the alerts topic has the failed checks',
    });

    // ------------------------------------------------------------------ approval (a person, in the registry)
    const approval = new tasks.LambdaInvoke(this, n.approval, {
      lambdaFunction: props.stepsFunction,
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: sfn.TaskInput.fromObject({
        step: 'awaitApproval',
        taskToken: sfn.JsonPath.taskToken,
        executionArn: sfn.JsonPath.executionId,
        candidate: sfn.JsonPath.objectAt('$.candidate'),
        validation: sfn.JsonPath.objectAt('$.validation'),
      }),
      taskTimeout: sfn.Timeout.duration(Duration.hours(p.approvalTimeoutHours)),
      resultPath: '$.approval',
      retryOnServiceExceptions: true,
    });
    const rejected = new sfn.Fail(this, n.rejected, { error: REJECTED_ERROR, cause: 'A person rejected the version in the model registry; it is not deployed to production' });
    const approvalTimedOut = new tasks.SnsPublish(this, n.approvalTimedOut, {
      topic: props.topic,
      subject: `Approval request expired: ${props.stateMachineName}`,
      message: sfn.TaskInput.fromObject({
        event: 'approval-timed-out',
        execution: sfn.JsonPath.executionId,
        modelPackageArn: sfn.JsonPath.stringAt('$.candidate.modelPackageArn'),
        waitedHours: p.approvalTimeoutHours,
      }),
      resultPath: sfn.JsonPath.DISCARD,
    });
    approvalTimedOut.addRetry({ errors: TRANSIENT.sns, maxAttempts: 6, backoffRate: 2, interval: Duration.seconds(2) });
    approvalTimedOut.addCatch(failed, { resultPath: '$.notificationError' });
    approvalTimedOut.next(new sfn.Fail(this, 'ApprovalTimedOut', { error: 'ApprovalTimedOut', cause: `No one approved or rejected the version within ${p.approvalTimeoutHours} hours` }));
    approval.addCatch(rejected, { errors: [REJECTED_ERROR], resultPath: '$.error' });
    approval.addCatch(approvalTimedOut, { errors: ['States.Timeout'], resultPath: '$.error' });
    guarded(approval);

    // ------------------------------------------------------------------ production rollout (and rollback)
    const deploy = step(n.deploy, 'deploy', { candidate: sfn.JsonPath.objectAt('$.candidate'), approval: sfn.JsonPath.objectAt('$.approval') }, '$.deployment');
    const restore = step(n.restore, 'rollback', { request: sfn.JsonPath.objectAt('$') }, '$.deployment');
    const waitRollout = new sfn.Wait(this, n.waitRollout, { time: sfn.WaitTime.duration(Duration.seconds(ROLLOUT_POLL_SECONDS)) });
    const rolloutStatus = step(n.rolloutStatus, 'rolloutStatus', { stackName: sfn.JsonPath.stringAt('$.deployment.stackName') }, '$.rollout');
    const unchanged = new sfn.Pass(this, n.unchanged, {
      result: sfn.Result.fromObject({ status: 'NO_CHANGE', done: true, succeeded: true, reason: 'the stack already serves this manifest' }),
      resultPath: '$.rollout',
    });
    const finish = step(n.finish, 'finish', { deployment: sfn.JsonPath.objectAt('$.deployment'), rollout: sfn.JsonPath.objectAt('$.rollout') }, '$.outcome');
    const inProduction = new sfn.Succeed(this, n.inProduction);
    const rolledBack = new sfn.Fail(this, n.rolledBack, {
      error: 'RolledBack',
      cause: 'The production rollout did not complete; CloudFormation rolled the endpoints stack back and the previous manifest serves again',
    });
    const serving = new sfn.Choice(this, n.serving).when(sfn.Condition.stringEquals('$.outcome.status', 'serving'), inProduction).otherwise(rolledBack);
    const rolloutDone = new sfn.Choice(this, n.rolloutDone).when(sfn.Condition.booleanEquals('$.rollout.done', true), finish).otherwise(waitRollout);
    const changed = new sfn.Choice(this, n.changed).when(sfn.Condition.booleanEquals('$.deployment.noChange', true), unchanged).otherwise(waitRollout);
    waitRollout.next(rolloutStatus).next(rolloutDone);
    unchanged.next(finish);
    finish.next(serving);
    deploy.next(changed);
    restore.next(changed);

    // ------------------------------------------------------------------ wiring
    const stagingReady = new sfn.Choice(this, n.stagingReady)
      .when(
        sfn.Condition.and(sfn.Condition.stringEquals('$.stagingEndpoint.status', 'InService'), sfn.Condition.stringEqualsJsonPath('$.stagingEndpoint.config', '$.staging.endpointConfigName')),
        notifyStagingReady,
      )
      .when(sfn.Condition.stringEquals('$.stagingEndpoint.status', 'Failed'), stagingFailed)
      .when(sfn.Condition.numberGreaterThanEquals('$.stagingPolls.count', Math.ceil((p.stagingTimeoutMinutes * 60) / STAGING_POLL_SECONDS)), stagingFailed)
      .otherwise(waitStaging);
    const passed = new sfn.Choice(this, n.passed).when(sfn.Condition.booleanEquals('$.validation.passed', true), approval).otherwise(validationFailed);
    check.next(staging).next(startPolls).next(waitStaging).next(describeStaging).next(countStaging).next(stagingReady);
    notifyStagingReady.next(ask).next(score).next(judge).next(passed);
    approval.next(deploy);
    const start = new sfn.Choice(this, n.action)
      .when(sfn.Condition.and(sfn.Condition.isPresent('$.action'), sfn.Condition.stringEquals('$.action', 'rollback')), restore)
      .otherwise(check);

    ({ stateMachine: this.stateMachine, role: this.role, logGroup: this.logGroup } = platformStateMachine(this, {
      stateMachineName: props.stateMachineName,
      definition: start,
      logKey: props.logKey,
      logRetention: props.logRetention,
      // Staging, validation, the longest approval wait and the longest rollout, with a day to spare.
      timeout: Duration.hours(p.approvalTimeoutHours + MAX_ROLLOUT_HOURS + 24),
    }));
    this.grant(props);
  }

  /** Exactly what the states above call, granted to the role's managed policy. */
  private grant(props: PromotionWorkflowProps): void {
    const stack = Stack.of(this);
    const add = (actions: string[], resources: string[]) => this.role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources }));
    const functions = [props.stepsFunction, props.stagingFunction, props.canaryFunction];
    add(['lambda:InvokeFunction'], functions.flatMap((fn) => [fn.functionArn, `${fn.functionArn}:*`]));
    add(['sagemaker:DescribeEndpoint'], [stack.formatArn({ service: 'sagemaker', resource: 'endpoint', resourceName: props.stagingEndpointName })]);
    const processingJobs = stack.formatArn({ service: 'sagemaker', resource: 'processing-job', resourceName: '*' });
    add(['sagemaker:CreateProcessingJob', 'sagemaker:DescribeProcessingJob', 'sagemaker:StopProcessingJob', 'sagemaker:AddTags'], [processingJobs]);
    add(
      ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
      [stack.formatArn({ service: 'events', resource: 'rule', resourceName: 'StepFunctionsGetEventsForSageMakerProcessingJobsRule' })],
    );
    this.role.allowPassRole('sagemaker.amazonaws.com', props.scoring.role);
    this.role.allowKeyUseVia(props.scoring.key, 'sagemaker', ['kms:CreateGrant', 'kms:DescribeKey']);
    this.role.allowPublish(props.topic);
    this.role.allowStateMachineLogsAndTracing(this.logGroup);
    acknowledgeNag(
      this.role,
      { id: iam5ResourceFinding(this.role, processingJobs), reason: 'The scoring processing job is named per candidate and execution; the statement is limited to this account and region\u2019s processing jobs' },
      ...functions.map((fn) => ({ id: iam5ResourceFinding(this.role, `${fn.functionArn}:*`), reason: 'Versions and aliases of this one function' })),
      {
        id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
        reason: 'Step Functions log delivery (logs:*LogDelivery, resource policies) and X-Ray tracing APIs have no resource-level permissions',
      },
    );
  }
}

/** An S3Prefix processing input whose URI comes from the state's input. */
function pathS3Input(localPath: string, uriPath: string): Record<string, string> {
  return { 'S3Uri.$': uriPath, LocalPath: localPath, S3DataType: 'S3Prefix', S3InputMode: 'File', S3DataDistributionType: 'FullyReplicated' };
}
