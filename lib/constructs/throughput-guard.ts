import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledgeNag, iam5ResourceFinding } from './compliance';
import { PlatformFunction } from './platform-function';

/** Metric the guard publishes: provisioned throughputs older than the limit and still there. */
export const STALE_THROUGHPUT_METRIC = 'StaleProvisionedThroughputs';

export interface ThroughputGuardProps {
  /** Runs training.bedrock.handlers.guard_throughput with its settings in FMFT_BEDROCK_SETTINGS. */
  readonly handler: PlatformFunction;
  readonly metricNamespace: string;
  readonly topic: sns.ITopic;
  readonly deadLetterQueue: sqs.IQueue;
  /** Whether the handler deletes the platform's own stale throughput (it then needs the permission). */
  readonly deleteStale: boolean;
  /**
   * The tag this environment's workflow puts on the throughput it creates. With `deleteStale`, IAM lets the
   * guard delete only throughput carrying it (`aws:ResourceTag`), so a dev guard cannot delete prod's
   * throughput in a shared account whatever its code does.
   */
  readonly ownerTag: { readonly key: string; readonly value: string };
}

/**
 * Hourly check for provisioned throughput left running (it bills every hour): a scheduled function lists
 * throughput older than the configured age, publishes the count as a metric and mails the list; an alarm
 * on the metric keeps firing until the throughput is gone.
 */
export class ThroughputGuard extends Construct {
  readonly rule: events.Rule;
  readonly alarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: ThroughputGuardProps) {
    super(scope, id);
    const role = props.handler.role;
    const add = (actions: string[], resources: string[], conditions?: Record<string, unknown>) =>
      role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources, conditions }));
    add(['bedrock:ListProvisionedModelThroughputs'], ['*']);
    const throughput = Stack.of(this).formatArn({ service: 'bedrock', resource: 'provisioned-model', resourceName: '*' });
    if (props.deleteStale) {
      // Bedrock's provisioned-model resource type supports aws:ResourceTag (Service Authorization Reference,
      // "Actions, resources, and condition keys for Amazon Bedrock").
      add(['bedrock:DeleteProvisionedModelThroughput'], [throughput], {
        StringEquals: { [`aws:ResourceTag/${props.ownerTag.key}`]: props.ownerTag.value },
      });
    }
    role.allowMetrics(props.metricNamespace);
    role.allowPublish(props.topic);
    acknowledgeNag(role, {
      id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      reason: 'ListProvisionedModelThroughputs has no resource-level permissions; PutMetricData is limited by the cloudwatch:namespace condition',
    });
    if (props.deleteStale) {
      acknowledgeNag(role, {
        id: iam5ResourceFinding(role, throughput),
        reason: 'Stale throughput has run-generated names; IAM admits only throughput tagged with this environment, and the handler deletes only names with the platform prefix',
      });
    }

    this.rule = new events.Rule(this, 'Hourly', {
      description: 'Checks for Bedrock provisioned throughput older than the configured age',
      schedule: events.Schedule.rate(Duration.hours(1)),
      targets: [
        new targets.LambdaFunction(props.handler.fn, {
          deadLetterQueue: props.deadLetterQueue,
          retryAttempts: 3,
          maxEventAge: Duration.hours(1),
        }),
      ],
    });

    const metric = new cloudwatch.Metric({
      namespace: props.metricNamespace,
      metricName: STALE_THROUGHPUT_METRIC,
      statistic: cloudwatch.Stats.MAXIMUM,
      period: Duration.hours(1),
    });
    this.alarm = metric.createAlarm(this, 'StaleThroughput', {
      alarmDescription: 'Bedrock provisioned throughput older than the configured age is still running (and billing), or the hourly check stopped reporting',
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    this.alarm.addAlarmAction(new actions.SnsAction(props.topic));
    this.alarm.addOkAction(new actions.SnsAction(props.topic));
  }
}
