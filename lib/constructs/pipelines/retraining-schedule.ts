import { Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { scheduleExpressionProblem } from '../../config/schedules';
import { MlServiceRole } from '../ml-service-role';

export interface RetrainingScheduleProps {
  /** Names the schedule; its role admits EventBridge Scheduler for this schedule only. */
  readonly scheduleName: string;
  /** EventBridge Scheduler expression: `cron(minutes hours day-of-month month day-of-week year)` or `rate(N unit)`. */
  readonly expression: string;
  /** The pipeline the schedule starts. */
  readonly pipelineName: string;
  /** The pipeline's parameter names; `parameters` may set only these. */
  readonly pipelineParameterNames: readonly string[];
  /** Values of pipeline parameters for every scheduled execution. @default - the pipeline's defaults */
  readonly parameters?: Readonly<Record<string, string>>;
  /** Receives starts that failed after the retries. */
  readonly deadLetterQueue: sqs.IQueue;
  /** @default 'UTC' */
  readonly timezone?: string;
}


/**
 * Starts the fine-tuning pipeline on a schedule (EventBridge Scheduler, cron or rate) with fixed parameter
 * values, so a model is retrained on the data that has arrived since, with no one at a console. A start that
 * still fails after Scheduler's retries lands in the dead-letter queue, whose alarm notifies.
 */
export class RetrainingSchedule extends Construct {
  readonly schedule: scheduler.CfnSchedule;
  readonly role: MlServiceRole;

  constructor(scope: Construct, id: string, props: RetrainingScheduleProps) {
    super(scope, id);
    const problems: string[] = [];
    const expressionProblem = Token.isUnresolved(props.expression) ? undefined : scheduleExpressionProblem(props.expression);
    if (expressionProblem) problems.push(`expression: got '${props.expression}'; ${expressionProblem}`);
    for (const name of Object.keys(props.parameters ?? {})) {
      if (!props.pipelineParameterNames.includes(name)) {
        problems.push(`parameters.${name}: not a parameter of the pipeline; allowed: ${props.pipelineParameterNames.join(', ')}`);
      }
    }
    if (problems.length) throw new Error(`Invalid RetrainingSchedule props:\n- ${problems.join('\n- ')}`);

    const stack = Stack.of(this);
    const pipelineArn = stack.formatArn({ service: 'sagemaker', resource: 'pipeline', resourceName: props.pipelineName.toLowerCase() });
    this.role = new MlServiceRole(this, 'Role', {
      description: `EventBridge Scheduler starts ${props.pipelineName}`,
      trust: {
        service: 'scheduler.amazonaws.com',
        sourceArnPattern: stack.formatArn({ service: 'scheduler', resource: 'schedule', resourceName: `default/${props.scheduleName}` }),
      },
    });
    this.role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sagemaker:StartPipelineExecution'], resources: [pipelineArn] }));
    this.role.allowSendMessages(props.deadLetterQueue);

    const parameters = Object.entries(props.parameters ?? {}).map(([Name, Value]) => ({ name: Name, value: Value }));
    this.schedule = new scheduler.CfnSchedule(this, 'Schedule', {
      name: props.scheduleName,
      description: `Starts ${props.pipelineName}: ${props.expression}`,
      scheduleExpression: props.expression,
      scheduleExpressionTimezone: props.timezone ?? 'UTC',
      flexibleTimeWindow: { mode: 'OFF' },
      target: {
        arn: pipelineArn,
        roleArn: this.role.role.roleArn,
        sageMakerPipelineParameters: parameters.length ? { pipelineParameterList: parameters } : undefined,
        retryPolicy: { maximumRetryAttempts: 3, maximumEventAgeInSeconds: 3600 },
        deadLetterConfig: { arn: props.deadLetterQueue.queueArn },
      },
    });
    this.schedule.node.addDependency(this.role);
  }
}
