import { Duration, Stack, Token } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledgeNag, iam5ResourceFinding } from './compliance';
import { JobNetworkPlacement } from './ml-service-role';
import { PlatformFunction } from './platform-function';

/**
 * Hours between two looks. The handler gets it too: it mails an endpoint when it became idle since the last
 * look (and once a day after), not at every look.
 */
export const IDLE_CHECK_EVERY_HOURS = 1;

/** The longest idle time the handler accepts (`cost.idleEndpoints.idleHours`). */
export const MAX_IDLE_HOURS = 720;

/** The tag CloudFormation puts on what a stack made; IAM never lets the reaper delete an endpoint that has it. */
export const CLOUDFORMATION_STACK_TAG = 'aws:cloudformation:stack-name';

export interface IdleEndpointReaperProps {
  /** The Python handlers' code (`pythonHandlersCode`); the function runs `training.cost.idle_endpoints.handler`. */
  readonly code: lambda.Code;
  /** Subnets and security group of the function (AWS APIs through the VPC endpoints: sagemaker-api, monitoring, sns). */
  readonly placement: JobNetworkPlacement;
  /** Encrypts the function's log group and environment; must admit CloudWatch Logs. */
  readonly key: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  /** Receives the scheduled invocations that failed (the rule's and the function's). */
  readonly deadLetterQueue: sqs.IQueue;
  /** Receives the notices: an endpoint deleted, newly idle or failed, and the daily reminder. */
  readonly topic: sns.ITopic;
  /** The environment's name (`dev`): the notices' `cdk destroy -c env=<name>` commands. */
  readonly environmentName: string;
  /** The environment's endpoints are those whose names start with this (`fmft-dev-`); it must end with `-<environmentName>-`. */
  readonly namePrefix: string;
  /** An endpoint with no invocation, and no change, for this many hours is idle: a whole number from 1 to 720. */
  readonly idleHours: number;
  /**
   * `delete`: delete idle endpoints the platform's workflows made (tagged `ownerTag`, not CloudFormation's) and
   * report the rest; `report`: report every idle endpoint, delete none (the role then cannot delete).
   */
  readonly action: 'delete' | 'report';
  /**
   * The tag the platform's workflows put on the endpoints they make (the promotion workflow's staging endpoint).
   * With `delete`, IAM admits DeleteEndpoint only on endpoints carrying it (`aws:ResourceTag`) and without the
   * CloudFormation stack tag, whatever the code does.
   */
  readonly ownerTag: { readonly key: string; readonly value: string };
}

/**
 * The idle-endpoint reaper: a scheduled function that looks every hour for endpoints of the environment with no
 * invocation for `idleHours` (CloudWatch `Invocations` of every variant) and deletes them or reports them on the
 * alerts topic. Endpoints of CloudFormation stacks are only reported, with the stack to destroy: deleting one
 * would leave its stack drifted.
 */
export class IdleEndpointReaper extends Construct {
  readonly handler: PlatformFunction;
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: IdleEndpointReaperProps) {
    super(scope, id);
    const problems: string[] = [];
    if (!Token.isUnresolved(props.idleHours) && !(Number.isInteger(props.idleHours) && props.idleHours >= 1 && props.idleHours <= MAX_IDLE_HOURS)) {
      problems.push(`idleHours: got ${props.idleHours}; allowed: a whole number from 1 to ${MAX_IDLE_HOURS}`);
    }
    if (!Token.isUnresolved(props.namePrefix) && !Token.isUnresolved(props.environmentName)) {
      if (!/^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,60}-$/.test(props.namePrefix) || !props.namePrefix.endsWith(`-${props.environmentName}-`)) {
        problems.push(`namePrefix: got '${props.namePrefix}'; allowed: endpoint-name characters ending in -${props.environmentName}- (this environment's endpoints only)`);
      }
    }
    if (!['delete', 'report'].includes(props.action)) problems.push(`action: got '${props.action}'; allowed: delete or report`);
    if (problems.length) throw new Error(`Invalid IdleEndpointReaper props:\n- ${problems.join('\n- ')}`);

    const stack = Stack.of(this);
    this.handler = new PlatformFunction(this, 'Handler', {
      code: props.code,
      handler: 'training.cost.idle_endpoints.handler',
      description: `${props.action === 'delete' ? 'Deletes or reports' : 'Reports'} SageMaker endpoints idle for ${props.idleHours} h (${props.environmentName})`,
      placement: props.placement,
      key: props.key,
      logRetention: props.logRetention,
      deadLetterQueue: props.deadLetterQueue,
      timeout: Duration.minutes(5),
      // One look at a time: a second would judge, and delete, the same endpoints.
      reservedConcurrency: 1,
      environment: {
        FMFT_IDLE_ENDPOINT_SETTINGS: stack.toJsonString({
          environment: props.environmentName,
          namePrefix: props.namePrefix,
          idleHours: props.idleHours,
          action: props.action,
          runEveryHours: IDLE_CHECK_EVERY_HOURS,
          ownerTag: { key: props.ownerTag.key, value: props.ownerTag.value },
          topicArn: props.topic.topicArn,
        }),
      },
    });

    const role = this.handler.role;
    const add = (actions: string[], resources: string[], conditions?: Record<string, unknown>) =>
      role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources, conditions }));
    add(['sagemaker:ListEndpoints'], ['*']);
    add(['cloudwatch:GetMetricData'], ['*']);
    // SageMaker ARNs hold names in lower case.
    const endpoints = stack.formatArn({ service: 'sagemaker', resource: 'endpoint', resourceName: `${props.namePrefix.toLowerCase()}*` });
    add(['sagemaker:DescribeEndpoint', 'sagemaker:ListTags'], [endpoints]);
    if (props.action === 'delete') {
      // SageMaker's endpoint resource type supports aws:ResourceTag (Service Authorization Reference, "Actions,
      // resources, and condition keys for Amazon SageMaker AI"); Null: true requires the tag to be absent.
      add(['sagemaker:DeleteEndpoint'], [endpoints], {
        StringEquals: { [`aws:ResourceTag/${props.ownerTag.key}`]: props.ownerTag.value },
        Null: { [`aws:ResourceTag/${CLOUDFORMATION_STACK_TAG}`]: 'true' },
      });
    }
    role.allowPublish(props.topic);
    acknowledgeNag(role, {
      id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      reason: 'sagemaker:ListEndpoints and cloudwatch:GetMetricData have no resource-level permissions (Service Authorization Reference); the handler keeps only names with the environment prefix',
    });
    acknowledgeNag(role, {
      id: iam5ResourceFinding(role, endpoints),
      reason: `The environment's endpoints are found at run time (the staging endpoint, the endpoints stack's); the ${props.namePrefix} prefix admits this environment's names only, and DeleteEndpoint only endpoints tagged ${props.ownerTag.key}=${props.ownerTag.value} and not CloudFormation's`,
    });

    this.rule = new events.Rule(this, 'Schedule', {
      description: `Looks for SageMaker endpoints of ${props.environmentName} with no invocation for ${props.idleHours} h`,
      schedule: events.Schedule.rate(Duration.hours(IDLE_CHECK_EVERY_HOURS)),
      targets: [
        new targets.LambdaFunction(this.handler.fn, {
          deadLetterQueue: props.deadLetterQueue,
          retryAttempts: 3,
          maxEventAge: Duration.hours(1),
        }),
      ],
    });
  }
}
