import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { MlServiceRole } from './ml-service-role';

export interface PlatformStateMachineProps {
  readonly stateMachineName: string;
  readonly definition: sfn.IChainable;
  /** Encrypts the log group; must admit CloudWatch Logs. */
  readonly logKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  /** Longest an execution may run. */
  readonly timeout: Duration;
}

/** A state machine with the platform's defaults, and the role and log group that come with it. */
export interface PlatformStateMachine {
  readonly stateMachine: sfn.StateMachine;
  /** Step Functions assumes it for this state machine only (confused deputy); grants go to its managed policy. */
  readonly role: MlServiceRole;
  readonly logGroup: logs.LogGroup;
}

/**
 * A state machine with the platform's defaults, built in `scope` (ids `Logs`, `Role`, `StateMachine`): every
 * event logged with its data to a KMS-encrypted log group with retention, X-Ray tracing, a timeout, and its
 * own `MlServiceRole` that only Step Functions may assume, for this state machine only. The machine gets the
 * role as an immutable reference, so every permission goes through `role` (the caller grants what its
 * states call, then `role.allowStateMachineLogsAndTracing(logGroup)`).
 */
export function platformStateMachine(scope: Construct, props: PlatformStateMachineProps): PlatformStateMachine {
  const stack = Stack.of(scope);
  const logGroup = new logs.LogGroup(scope, 'Logs', { encryptionKey: props.logKey, retention: props.logRetention });
  const role = new MlServiceRole(scope, 'Role', {
    description: `Runs ${props.stateMachineName}`,
    trust: {
      service: 'states.amazonaws.com',
      sourceArnPattern: stack.formatArn({ service: 'states', resource: 'stateMachine', resourceName: props.stateMachineName, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
    },
  });
  const stateMachine = new sfn.StateMachine(scope, 'StateMachine', {
    stateMachineName: props.stateMachineName,
    definitionBody: sfn.DefinitionBody.fromChainable(props.definition),
    role: iam.Role.fromRoleArn(scope, 'ExecutionRole', role.role.roleArn, { mutable: false }),
    logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    tracingEnabled: true,
    timeout: props.timeout,
  });
  // The managed policy must exist before the first execution.
  stateMachine.node.addDependency(role);
  return { stateMachine, role, logGroup };
}
