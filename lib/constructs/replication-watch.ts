import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { REPLICATION_RULE_ID, REPLICATION_TIME_MINUTES } from './bucket-replication';

/** One replicated bucket: its name and its replica's (the dimensions of S3's replication metrics). */
export interface ReplicatedBucket {
  /** Short name for construct ids and labels, e.g. `trainingData`. */
  readonly label: string;
  readonly sourceBucket: string;
  readonly destinationBucket: string;
}

export interface ReplicationWatchProps {
  readonly buckets: readonly ReplicatedBucket[];
  /** Alarm names are `<alarmNamePrefix>-<label in kebab case>-replication-latency` and `...-replication-failed`. */
  readonly alarmNamePrefix: string;
  readonly dashboardName: string;
  readonly topic: sns.ITopic;
}

/** Periods of five minutes the latency must stay above the objective before the alarm fires (one sample is noise). */
export const LATENCY_PERIODS = 3;

/**
 * The RPO in the open: per replicated bucket, an alarm when S3's `ReplicationLatency` stays above the
 * Replication Time Control objective (15 minutes) for 15 minutes, and one on any `OperationsFailedReplication`,
 * both to the alerts topic; a dashboard charts latency, pending bytes and operations and failures per bucket.
 * A bucket without writes sends no metrics: missing data is not breaching.
 */
export class ReplicationWatch extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: ReplicationWatchProps) {
    super(scope, id);
    if (props.buckets.length === 0) throw new Error('Invalid ReplicationWatch props:\n- buckets: got []; watch at least one replicated bucket');
    const metric = (b: ReplicatedBucket, metricName: string, statistic: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/S3',
        metricName,
        statistic,
        period: Duration.minutes(5),
        dimensionsMap: { SourceBucket: b.sourceBucket, DestinationBucket: b.destinationBucket, RuleId: REPLICATION_RULE_ID },
      });
    const kebab = (label: string) => label.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    for (const b of props.buckets) {
      const latency = metric(b, 'ReplicationLatency', 'Maximum').createAlarm(this, `Latency-${b.label}`, {
        alarmName: `${props.alarmNamePrefix}-${kebab(b.label)}-replication-latency`,
        alarmDescription: `Objects of ${b.label} take longer than ${REPLICATION_TIME_MINUTES} minutes to reach ${b.destinationBucket}: the RPO objective is missed`,
        threshold: REPLICATION_TIME_MINUTES * 60,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: LATENCY_PERIODS,
        datapointsToAlarm: LATENCY_PERIODS,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      const failed = metric(b, 'OperationsFailedReplication', 'Sum').createAlarm(this, `Failed-${b.label}`, {
        alarmName: `${props.alarmNamePrefix}-${kebab(b.label)}-replication-failed`,
        alarmDescription: `Objects of ${b.label} failed to replicate to ${b.destinationBucket} (permissions, keys or the replica bucket)`,
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      for (const a of [latency, failed]) {
        a.addAlarmAction(new actions.SnsAction(props.topic));
        this.alarms.push(a);
      }
    }
    const per = (metricName: string, statistic: string) => props.buckets.map((b) => metric(b, metricName, statistic).with({ label: b.label }));
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { dashboardName: props.dashboardName });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: `Replication latency (s), objective ${REPLICATION_TIME_MINUTES * 60} s`,
        left: per('ReplicationLatency', 'Maximum'),
        leftAnnotations: [{ value: REPLICATION_TIME_MINUTES * 60, label: 'RTC objective' }],
        width: 12,
      }),
      new cloudwatch.GraphWidget({ title: 'Bytes pending replication', left: per('BytesPendingReplication', 'Maximum'), width: 12 }),
      new cloudwatch.GraphWidget({ title: 'Operations pending / failed', left: per('OperationsPendingReplication', 'Maximum'), right: per('OperationsFailedReplication', 'Sum'), width: 12 }),
      new cloudwatch.AlarmStatusWidget({ title: 'Replication alarms', alarms: this.alarms, width: 12 }),
    );
  }
}
