import { CfnParameter, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { IConstruct } from 'constructs';
import { PlatformAlerts, PlatformAlertsProps } from '../../lib/constructs/platform-alerts';
import { PlatformKey } from '../../lib/constructs/platform-key';
import { ENVIRONMENTS } from '../../lib/config/environments';
import { testStack } from '../support/app';

const logicalId = (stack: Stack, c: IConstruct) => stack.getLogicalId(c.node.defaultChild as any);

function fixture(props: Partial<PlatformAlertsProps> = {}) {
  const stack = testStack();
  const key = new PlatformKey(stack, 'AlertsKey', { aliasName: 'fmft/dev/alerts', description: 'alerts', rotationPeriodDays: 365, deletionWindowDays: 7 }).key;
  const make = () =>
    new PlatformAlerts(stack, 'Alerts', {
      key,
      email: ENVIRONMENTS.dev.alarmEmail,
      budgetName: 'fmft-dev-monthly',
      monthlyBudgetUsd: ENVIRONMENTS.dev.monthlyBudgetUsd,
      budgetAlerts: { forecastPercents: [80], actualPercents: [100] },
      ...props,
    });
  return { stack, key, make };
}

describe('PlatformAlerts', () => {
  const { stack, key, make } = fixture();
  const alerts = make();
  const template = Template.fromStack(stack);
  const topicRef = { Ref: logicalId(stack, alerts.topic) };
  const keyArn = { 'Fn::GetAtt': [logicalId(stack, key), 'Arn'] };
  const queueArn = { 'Fn::GetAtt': [logicalId(stack, alerts.undeliveredAlerts), 'Arn'] };

  test('topic encrypted with the platform key', () => {
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: keyArn });
  });

  test('topic policy denies publishing without TLS and allows only Budgets, CloudWatch and EventBridge of this account', () => {
    template.resourceCountIs('AWS::SNS::TopicPolicy', 1);
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [topicRef],
      PolicyDocument: {
        Statement: [
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sns:Publish',
            Principal: '*',
            Resource: topicRef,
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          {
            Sid: 'AllowAlertPublishersFromThisAccount',
            Effect: 'Allow',
            Action: 'sns:Publish',
            Principal: { Service: ['budgets.amazonaws.com', 'cloudwatch.amazonaws.com', 'events.amazonaws.com'] },
            Resource: topicRef,
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          },
        ],
        Version: '2012-10-17',
      },
    });
  });

  test('e-mail subscription with the dead-letter queue as redrive target', () => {
    template.resourceCountIs('AWS::SNS::Subscription', 1);
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: ENVIRONMENTS.dev.alarmEmail,
      TopicArn: topicRef,
      RedrivePolicy: { deadLetterTargetArn: queueArn },
    });
  });

  test('dead-letter queue: KMS-encrypted, 14 days retention, TLS only, SNS may send only from this topic', () => {
    template.resourceCountIs('AWS::SQS::Queue', 1);
    template.hasResourceProperties('AWS::SQS::Queue', { KmsMasterKeyId: keyArn, MessageRetentionPeriod: 14 * 24 * 3600 });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({
            Effect: 'Allow',
            Action: 'sqs:SendMessage',
            Principal: { Service: 'sns.amazonaws.com' },
            Resource: queueArn,
            Condition: { ArnEquals: { 'aws:SourceArn': topicRef } },
          }),
        ]),
      },
    });
  });

  test('the dead-letter queue\'s own missing DLQ is acknowledged on the queue with evidence', () => {
    const acks: Record<string, string> = {};
    for (const e of alerts.undeliveredAlerts.node.metadata) {
      if (e.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) Object.assign(acks, e.data);
    }
    expect(Object.keys(acks).sort()).toEqual(['AwsSolutions::AwsSolutions-SQS3', 'Serverless::Serverless-SQSRedrivePolicy']);
    expect(acks['AwsSolutions::AwsSolutions-SQS3']).toMatch(/dead-letter queue/);
  });

  test('monthly cost budget in USD with FORECASTED 80 % and ACTUAL 100 % notifications to the topic', () => {
    template.resourceCountIs('AWS::Budgets::Budget', 1);
    const subscribers = [{ SubscriptionType: 'SNS', Address: topicRef }];
    template.hasResourceProperties('AWS::Budgets::Budget', {
      Budget: {
        BudgetName: 'fmft-dev-monthly',
        BudgetType: 'COST',
        TimeUnit: 'MONTHLY',
        BudgetLimit: { Amount: ENVIRONMENTS.dev.monthlyBudgetUsd, Unit: 'USD' },
      },
      NotificationsWithSubscribers: [
        {
          Notification: { ComparisonOperator: 'GREATER_THAN', NotificationType: 'FORECASTED', Threshold: 80, ThresholdType: 'PERCENTAGE' },
          Subscribers: subscribers,
        },
        {
          Notification: { ComparisonOperator: 'GREATER_THAN', NotificationType: 'ACTUAL', Threshold: 100, ThresholdType: 'PERCENTAGE' },
          Subscribers: subscribers,
        },
      ],
    });
  });

  test('key policy lets Budgets, CloudWatch, EventBridge and SNS of this account decrypt and create data keys only', () => {
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          {
            Sid: 'AllowAlertPublishersToUseKey',
            Effect: 'Allow',
            Principal: { Service: ['budgets.amazonaws.com', 'cloudwatch.amazonaws.com', 'events.amazonaws.com', 'sns.amazonaws.com'] },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            Resource: '*',
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          },
        ]),
      },
    });
  });

  test('no service principal in the key policy is unconditioned', () => {
    const keyResource = Object.values(template.findResources('AWS::KMS::Key'))[0];
    const service = (keyResource.Properties.KeyPolicy.Statement as any[]).filter((s) => s.Principal?.Service);
    expect(service.length).toBeGreaterThan(0);
    expect(service.filter((s) => !s.Condition)).toEqual([]);
  });

  describe('validation', () => {
    test.each([0, -100, Number.NaN])('monthlyBudgetUsd %p is rejected', (usd) => {
      expect(() => fixture({ monthlyBudgetUsd: usd }).make()).toThrow(/Invalid PlatformAlerts props:\n- monthlyBudgetUsd must be > 0/);
    });

    test('each configured percentage becomes one notification, forecasts first, in order', () => {
      const f = fixture({ budgetAlerts: { forecastPercents: [50, 90], actualPercents: [75, 100, 120] } });
      f.make();
      const budget = Object.values(Template.fromStack(f.stack).findResources('AWS::Budgets::Budget'))[0] as any;
      expect(budget.Properties.NotificationsWithSubscribers.map((n: any) => `${n.Notification.NotificationType} ${n.Notification.Threshold}`)).toEqual([
        'FORECASTED 50',
        'FORECASTED 90',
        'ACTUAL 75',
        'ACTUAL 100',
        'ACTUAL 120',
      ]);
    });

    test.each([
      [{ forecastPercents: [90, 80], actualPercents: [] }, /budgetAlerts.forecastPercents\[1\] must be above the one before \(90\), got 80/],
      [{ forecastPercents: [], actualPercents: [0] }, /budgetAlerts.actualPercents\[0\] must be above 0 and at most 1000, got 0/],
      [{ forecastPercents: [], actualPercents: [] }, /budgetAlerts must hold 1 to 10 percentages in all .*, got 0/],
      [{ forecastPercents: [1, 2, 3, 4, 5, 6], actualPercents: [1, 2, 3, 4, 5] }, /budgetAlerts must hold 1 to 10 percentages in all .*, got 11/],
    ])('budget alerts %j are refused', (budgetAlerts, message) => {
      expect(() => fixture({ budgetAlerts }).make()).toThrow(message);
    });

    test('a fractional budget is accepted', () => {
      expect(() => fixture({ monthlyBudgetUsd: 0.5 }).make()).not.toThrow();
    });

    // CONVENTIONS.md: "Validate in the constructor ... skip unresolved tokens". CfnBudget accepts a token here.
    test('an unresolved token for monthlyBudgetUsd is not validated', () => {
      const f = fixture();
      const usd = new CfnParameter(f.stack, 'BudgetUsd', { type: 'Number' }).valueAsNumber;
      expect(() => new PlatformAlerts(f.stack, 'Alerts', { key: f.key, email: 'a@example.com', budgetName: 'b', monthlyBudgetUsd: usd, budgetAlerts: { forecastPercents: [80], actualPercents: [100] } })).not.toThrow();
    });
  });
});
