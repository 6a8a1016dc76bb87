import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledgeNag } from './compliance';

export interface DeadLetterQueueProps {
  /** Encrypts the queue; EventBridge of this account is admitted to it here. */
  readonly key: kms.Key;
  readonly topic: sns.ITopic;
  /** What lands here, for the alarm's description. */
  readonly sources: string;
}

/**
 * A stack's own KMS-encrypted dead-letter queue for EventBridge targets and asynchronous Lambda
 * invocations, with an alarm on the first message. Each stack keeps its own: EventBridge targets write the
 * queue policy, which on another stack's queue would be a dependency cycle.
 */
export class DeadLetterQueue extends Construct {
  readonly queue: sqs.Queue;

  constructor(scope: Construct, id: string, props: DeadLetterQueueProps) {
    super(scope, id);
    props.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowEventBridgeDeadLettersFromThisAccount',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );
    this.queue = new sqs.Queue(this, 'Queue', { encryptionMasterKey: props.key, enforceSSL: true, retentionPeriod: Duration.days(14) });
    acknowledgeNag(this.queue, {
      id: 'Serverless::Serverless-SQSRedrivePolicy',
      reason: `This queue is itself the dead-letter queue of ${props.sources}; a further DLQ would only re-queue the same messages`,
    });
    new cloudwatch.Alarm(this, 'Alarm', {
      alarmDescription: `Something failed for good (${props.sources}); see the dead-letter queue`,
      metric: this.queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }).addAlarmAction(new actions.SnsAction(props.topic));
  }
}
