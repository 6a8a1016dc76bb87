import { Duration, Stack, Token } from 'aws-cdk-lib';
import * as budgets from 'aws-cdk-lib/aws-budgets';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { MAX_BUDGET_NOTIFICATIONS } from '../config/environment-config';
import { acknowledgeNag } from './compliance';

export interface PlatformAlertsProps {
  /** Encrypts the topic; this construct lets AWS Budgets and CloudWatch alarms use it. */
  readonly key: kms.Key;
  /** Address subscribed to the topic. */
  readonly email: string;
  /**
   * Name of the cost budget, unique in the account. A budget counts the whole account's cost, so an account
   * needs one per environment, not one per region. @default - no budget (a failover deployment: the
   * primary's budget still counts)
   */
  readonly budgetName?: string;
  /** Monthly cost limit in USD. */
  readonly monthlyBudgetUsd: number;
  /** Percentages of the limit that alert: of the forecast and of the actual spend, each list increasing. */
  readonly budgetAlerts: { readonly forecastPercents: readonly number[]; readonly actualPercents: readonly number[] };
}

/**
 * The environment's alert channel: a KMS-encrypted, TLS-only SNS topic with an e-mail subscription, and a
 * monthly cost budget that alerts the topic at the configured shares of forecast and actual spend.
 */
export class PlatformAlerts extends Construct {
  readonly topic: sns.Topic;
  readonly budget?: budgets.CfnBudget;
  /** Dead-letter queue of the e-mail subscription and of EventBridge rules that target the topic. */
  readonly undeliveredAlerts: sqs.Queue;

  constructor(scope: Construct, id: string, props: PlatformAlertsProps) {
    super(scope, id);
    const problems: string[] = [];
    if (!Token.isUnresolved(props.monthlyBudgetUsd) && !(props.monthlyBudgetUsd > 0)) problems.push(`monthlyBudgetUsd must be > 0, got ${props.monthlyBudgetUsd}`);
    for (const [name, list] of Object.entries(props.budgetAlerts)) {
      list.forEach((p, i) => {
        if (!(p > 0 && p <= 1000)) problems.push(`budgetAlerts.${name}[${i}] must be above 0 and at most 1000, got ${p}`);
        if (i > 0 && !(p > list[i - 1])) problems.push(`budgetAlerts.${name}[${i}] must be above the one before (${list[i - 1]}), got ${p}`);
      });
    }
    const count = props.budgetAlerts.forecastPercents.length + props.budgetAlerts.actualPercents.length;
    if (count < 1 || count > MAX_BUDGET_NOTIFICATIONS) problems.push(`budgetAlerts must hold 1 to ${MAX_BUDGET_NOTIFICATIONS} percentages in all (AWS Budgets' limit per budget), got ${count}`);
    if (problems.length) throw new Error(`Invalid PlatformAlerts props:\n- ${problems.join('\n- ')}`);
    const account = Stack.of(this).account;
    this.topic = new sns.Topic(this, 'Topic', { masterKey: props.key, enforceSSL: true });
    // Alerts that cannot be delivered (a bouncing address, throttling) are kept for 14 days, not dropped.
    this.undeliveredAlerts = new sqs.Queue(this, 'UndeliveredAlerts', {
      encryptionMasterKey: props.key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const isDlq = 'This queue is itself the dead-letter queue of the alert e-mail subscription; a further DLQ would only re-queue the same undeliverable messages';
    acknowledgeNag(
      this.undeliveredAlerts,
      { id: 'AwsSolutions::AwsSolutions-SQS3', reason: isDlq },
      { id: 'Serverless::Serverless-SQSRedrivePolicy', reason: isDlq },
    );
    this.undeliveredAlerts.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowEventBridgeDeadLettersFromThisAccount',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['sqs:SendMessage'],
        resources: [this.undeliveredAlerts.queueArn],
        conditions: { StringEquals: { 'aws:SourceAccount': account } },
      }),
    );
    this.topic.addSubscription(new subscriptions.EmailSubscription(props.email, { deadLetterQueue: this.undeliveredAlerts }));

    // EventBridge rules of other stacks (pipeline failures) publish here too. Granting by account here, not
    // per rule, keeps those stacks from writing into this one's policies (a dependency cycle).
    const publishers = ['budgets.amazonaws.com', 'cloudwatch.amazonaws.com', 'events.amazonaws.com'];
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowAlertPublishersFromThisAccount',
        principals: publishers.map((p) => new iam.ServicePrincipal(p)),
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: { StringEquals: { 'aws:SourceAccount': account } },
      }),
    );
    // Publishing to the encrypted topic, and SNS moving undelivered alerts to the encrypted queue, need
    // data keys from this key.
    props.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowAlertPublishersToUseKey',
        principals: [...publishers, 'sns.amazonaws.com'].map((p) => new iam.ServicePrincipal(p)),
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': account } },
      }),
    );

    const notify = (notificationType: 'ACTUAL' | 'FORECASTED', threshold: number) => ({
      notification: { comparisonOperator: 'GREATER_THAN', notificationType, threshold, thresholdType: 'PERCENTAGE' },
      subscribers: [{ subscriptionType: 'SNS', address: this.topic.topicArn }],
    });
    if (props.budgetName === undefined) return;
    this.budget = new budgets.CfnBudget(this, 'MonthlyCostBudget', {
      budget: {
        budgetName: props.budgetName,
        budgetType: 'COST',
        timeUnit: 'MONTHLY',
        budgetLimit: { amount: props.monthlyBudgetUsd, unit: 'USD' },
      },
      notificationsWithSubscribers: [
        ...props.budgetAlerts.forecastPercents.map((p) => notify('FORECASTED', p)),
        ...props.budgetAlerts.actualPercents.map((p) => notify('ACTUAL', p)),
      ],
    });
  }
}

/**
 * Sends `text` to the alerts topic for each event of `rule`, with retries for a day and a dead-letter queue.
 * Not targets.SnsTopic: that would add the rule to the topic's policy in the security stack (a dependency
 * cycle); the topic already admits EventBridge rules of this account (PlatformAlerts).
 */
export function announceOnTopic(rule: events.Rule, text: string, topic: sns.ITopic, deadLetterQueue: sqs.IQueue): void {
  rule.addTarget({
    bind: () => ({
      arn: topic.topicArn,
      input: events.RuleTargetInput.fromText(text),
      deadLetterConfig: { arn: deadLetterQueue.queueArn },
      retryPolicy: { maximumRetryAttempts: 8, maximumEventAgeInSeconds: Duration.hours(24).toSeconds() },
    }),
  });
}
