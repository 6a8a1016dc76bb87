import { ArnFormat, Duration, Stack, Token } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { acknowledgeNag, iam5ResourceFinding } from './compliance';
import { MlServiceRole } from './ml-service-role';
import { platformStateMachine, PlatformStateMachine } from './platform-state-machine';

/** What Bedrock sends when a customization job changes state (Bedrock user guide, "How EventBridge for Amazon Bedrock works"). */
export const CUSTOMIZATION_EVENT = { source: 'aws.bedrock', detailType: 'Model Customization Job State Change', completed: 'Completed' } as const;

/** How often a copy job is looked at, and for how long at most. */
export const COPY_POLL = Duration.minutes(5);
export const COPY_TIMEOUT = Duration.hours(12);

export interface BedrockModelCopyProps {
  /** Name of the state machine (in the DR region). */
  readonly stateMachineName: string;
  /** The region the customization jobs run in; only events forwarded from there start a copy. */
  readonly sourceRegion: string;
  /** Encrypts the copies in this region (Bedrock must be allowed to use it: `admitBedrock`). */
  readonly modelKey: kms.IKey;
  /** Encrypts the state machine's logs. */
  readonly logKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  /** Failed copies are announced here (a topic of this region). */
  readonly topic: sns.ITopic;
  /** Tags of the copies. */
  readonly tags: Readonly<Record<string, string>>;
  /** Events the rule could not deliver. */
  readonly deadLetterQueue: sqs.IQueue;
}

/**
 * The role EventBridge delivers a rule's events with, trusted by EventBridge for this account's rules only;
 * what it may do goes to its managed policy.
 */
function eventsTargetRole(scope: Construct, id: string, description: string): { role: MlServiceRole; reference: iam.IRole } {
  const stack = Stack.of(scope);
  const role = new MlServiceRole(scope, id, {
    description,
    trust: { service: 'events.amazonaws.com', sourceArnPattern: stack.formatArn({ service: 'events', resource: 'rule', resourceName: '*' }) },
  });
  return { role, reference: iam.Role.fromRoleArn(scope, `${id}Reference`, role.role.roleArn, { mutable: false }) };
}

/**
 * Copies every custom model the primary region's customization jobs complete into this (the DR) region,
 * with Bedrock's model copy. A copy job runs in the region it copies into (CreateModelCopyJob has no target
 * region: it is sent to the target region's endpoint), so this lives in the DR region: the primary region's
 * rule (`forwardCustomizationEvents`) sends the completion events here, and a rule of this region starts the
 * state machine, which starts the copy, waits for it and announces a failure. The copy is keyed by the job,
 * so a repeated event copies nothing twice (the idempotency token).
 */
export class BedrockModelCopy extends Construct {
  readonly workflow: PlatformStateMachine;
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: BedrockModelCopyProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const problems: string[] = [];
    if (!Token.isUnresolved(props.sourceRegion) && !Token.isUnresolved(stack.region) && props.sourceRegion === stack.region) {
      problems.push(`sourceRegion: got '${props.sourceRegion}'; allowed: another region than this stack's (a model copy goes from one region to another)`);
    }
    if (!Token.isUnresolved(props.stateMachineName) && !/^[a-zA-Z0-9_-]{1,80}$/.test(props.stateMachineName)) {
      problems.push(`stateMachineName: got '${props.stateMachineName}'; allowed: 1 to 80 letters, digits, - and _`);
    }
    if (problems.length) throw new Error(`Invalid BedrockModelCopy props:\n- ${problems.join('\n- ')}`);
    const tagList = Object.entries(props.tags).map(([key, value]) => ({ key, value }));

    const notifyFailure = new sfn.CustomState(this, 'NotifyCopyFailed', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${stack.partition}:states:::sns:publish`,
        Parameters: {
          TopicArn: props.topic.topicArn,
          Subject: 'A Bedrock custom model was not copied to the DR region',
          'Message.$': "States.Format('The copy of {} to {} failed: {}', $.source.modelArn, $$.Execution.Id, States.JsonToString($.error))",
        },
      },
    });
    const failed = new sfn.Fail(this, 'CopyFailed', { error: 'ModelCopyFailed', cause: 'The model copy job failed; the alerts topic was told' });
    notifyFailure.next(failed);

    const start = new sfn.CustomState(this, 'StartCopy', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${stack.partition}:states:::aws-sdk:bedrock:createModelCopyJob`,
        Parameters: {
          'SourceModelArn.$': '$.source.modelArn',
          'TargetModelName.$': '$.source.modelName',
          ModelKmsKeyId: props.modelKey.keyArn,
          TargetModelTags: tagList,
          // One copy per completed job, whatever how often its event arrives.
          'ClientRequestToken.$': "States.Hash($.source.jobArn, 'SHA-256')",
        },
        ResultSelector: { 'jobArn.$': '$.JobArn' },
        ResultPath: '$.copy',
      },
    });
    start.addRetry({ errors: ['Bedrock.ThrottlingException', 'Bedrock.ServiceUnavailableException', 'Bedrock.InternalServerException'], maxAttempts: 5, backoffRate: 2, interval: Duration.seconds(30) });
    start.addCatch(notifyFailure, { resultPath: '$.error' });

    const wait = new sfn.Wait(this, 'WaitForCopy', { time: sfn.WaitTime.duration(COPY_POLL) });
    const look = new sfn.CustomState(this, 'GetCopy', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${stack.partition}:states:::aws-sdk:bedrock:getModelCopyJob`,
        Parameters: { 'JobArn.$': '$.copy.jobArn' },
        ResultSelector: { 'jobArn.$': '$.JobArn', 'status.$': '$.Status', 'targetModelArn.$': '$.TargetModelArn' },
        ResultPath: '$.copy',
      },
    });
    look.addRetry({ errors: ['Bedrock.ThrottlingException', 'Bedrock.ServiceUnavailableException', 'Bedrock.InternalServerException'], maxAttempts: 5, backoffRate: 2, interval: Duration.seconds(30) });
    look.addCatch(notifyFailure, { resultPath: '$.error' });
    const done = new sfn.Succeed(this, 'Copied');
    const judge = new sfn.Choice(this, 'CopyDone?')
      .when(sfn.Condition.stringEquals('$.copy.status', 'Completed'), done)
      .when(sfn.Condition.stringEquals('$.copy.status', 'Failed'), new sfn.Pass(this, 'CopyJobFailed', { parameters: { 'status.$': '$.copy.status', 'jobArn.$': '$.copy.jobArn' }, resultPath: '$.error' }).next(notifyFailure))
      .otherwise(wait);
    wait.next(look).next(judge);

    const read = new sfn.Pass(this, 'ReadEvent', {
      parameters: { source: { 'jobArn.$': '$.detail.jobArn', 'modelArn.$': '$.detail.outputModelArn', 'modelName.$': '$.detail.outputModelName' } },
    });
    read.next(start).next(wait);

    this.workflow = platformStateMachine(this, {
      stateMachineName: props.stateMachineName,
      definition: read,
      logKey: props.logKey,
      logRetention: props.logRetention,
      timeout: COPY_TIMEOUT,
    });
    const role = this.workflow.role;
    const sourceModels = stack.formatArn({ service: 'bedrock', region: props.sourceRegion, resource: 'custom-model', resourceName: '*' });
    const copyJobs = stack.formatArn({ service: 'bedrock', resource: 'model-copy-job', resourceName: '*' });
    const add = (actions: string[], resources: string[], conditions?: Record<string, unknown>) =>
      role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources, conditions }));
    add(['bedrock:CreateModelCopyJob', 'bedrock:GetCustomModel'], [sourceModels]);
    add(['bedrock:GetModelCopyJob'], [copyJobs]);
    // The copy is created with its tags (targetModelTags).
    add(['bedrock:TagResource'], [stack.formatArn({ service: 'bedrock', resource: 'custom-model', resourceName: '*' })]);
    // Bedrock encrypts the copy with the key on the caller's behalf (Bedrock user guide, "Fulfill prerequisites to copy models").
    add(['kms:CreateGrant', 'kms:DescribeKey', 'kms:GenerateDataKey', 'kms:Decrypt'], [props.modelKey.keyArn], { StringEquals: { 'kms:ViaService': `bedrock.${stack.region}.amazonaws.com` } });
    role.allowPublish(props.topic);
    role.allowStateMachineLogsAndTracing(this.workflow.logGroup);
    acknowledgeNag(
      role,
      { id: iam5ResourceFinding(role, sourceModels), reason: 'Every custom model the environment\u2019s customization jobs complete in the primary region is copied; their names come from the runs' },
      { id: iam5ResourceFinding(role, copyJobs), reason: 'Copy jobs get generated ids; the state machine reads the one it started' },
      { id: iam5ResourceFinding(role, stack.formatArn({ service: 'bedrock', resource: 'custom-model', resourceName: '*' })), reason: 'The copies are named after their source models, which the runs name' },
      { id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]', reason: 'Step Functions log delivery (logs:*LogDelivery, resource policies) and X-Ray tracing APIs have no resource-level permissions' },
    );

    const starter = eventsTargetRole(this, 'StarterRole', `Starts ${props.stateMachineName} for completed customizations`);
    starter.role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [this.workflow.stateMachine.stateMachineArn] }));
    this.rule = new events.Rule(this, 'CompletedCustomizations', {
      description: `Copies every custom model completed in ${props.sourceRegion} into ${stack.region}`,
      eventPattern: {
        source: [CUSTOMIZATION_EVENT.source],
        detailType: [CUSTOMIZATION_EVENT.detailType],
        region: [props.sourceRegion],
        account: [stack.account],
        detail: { jobStatus: [CUSTOMIZATION_EVENT.completed] },
      },
      targets: [
        new targets.SfnStateMachine(this.workflow.stateMachine, {
          role: starter.reference,
          deadLetterQueue: props.deadLetterQueue,
          retryAttempts: 4,
          maxEventAge: Duration.hours(2),
        }),
      ],
    });
  }
}

/**
 * The primary region's half: the completion events of this environment's customization jobs (those its
 * customization role runs) go to the DR region's default event bus, where `BedrockModelCopy` takes them.
 */
export function forwardCustomizationEvents(
  scope: Construct,
  id: string,
  props: { readonly customizationRoleArn: string; readonly drRegion: string; readonly deadLetterQueue: sqs.IQueue },
): events.Rule {
  const stack = Stack.of(scope);
  const busArn = stack.formatArn({ service: 'events', region: props.drRegion, resource: 'event-bus', resourceName: 'default', arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
  const bus = events.EventBus.fromEventBusArn(scope, `${id}DrBus`, busArn);
  const sender = eventsTargetRole(scope, `${id}Role`, `Sends completed Bedrock customizations to the default event bus of ${props.drRegion}`);
  sender.role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['events:PutEvents'], resources: [busArn] }));
  return new events.Rule(scope, id, {
    description: `Sends this environment's completed Bedrock customizations to ${props.drRegion}, which copies the models`,
    eventPattern: {
      source: [CUSTOMIZATION_EVENT.source],
      detailType: [CUSTOMIZATION_EVENT.detailType],
      detail: { jobStatus: [CUSTOMIZATION_EVENT.completed], roleArn: [props.customizationRoleArn] },
    },
    targets: [new targets.EventBus(bus, { role: sender.reference, deadLetterQueue: props.deadLetterQueue })],
  });
}
