import * as path from 'path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { ENVIRONMENTS, loadEnvironmentConfig } from '../../lib/config/environments';
import { STORAGE_LAYOUT } from '../../lib/config/storage-layout';
import { validateEnvironmentConfig } from '../../lib/config/validate';
import { FINE_TUNING_PARAMETER_NAMES } from '../../lib/pipeline/fine-tuning-pipeline';
import { configWith, synthesizeEnvironment } from '../support/app';
import { eventEntry, renderInput, useLocalEventBridge } from '../support/eventbridge';

const dev = synthesizeEnvironment(ENVIRONMENTS.dev);
const tpl = Template.fromStack(dev.platform.pipelines);

describe('retraining on a schedule', () => {
  test("the schedule starts this environment's pipeline at the configured time, retrying, with a dead-letter queue", () => {
    tpl.hasResourceProperties('AWS::Scheduler::Schedule', {
      Name: 'fmft-dev-retraining',
      ScheduleExpression: ENVIRONMENTS.dev.training.retraining!.schedule,
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: {
        Arn: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp(':pipeline/fmft-dev-fine-tuning$')])] },
        RoleArn: Match.anyValue(),
        RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 },
        DeadLetterConfig: { Arn: Match.anyValue() },
      },
    });
  });

  test('its role may start only this pipeline, and only Scheduler may assume it, for this schedule', () => {
    const policies = Object.entries(tpl.findResources('AWS::IAM::ManagedPolicy')).filter(([id]) => id.startsWith('RetrainingScheduleRole'));
    expect(policies).toHaveLength(1);
    const statements: any[] = (policies[0][1] as any).Properties.PolicyDocument.Statement;
    const start = statements.filter((s) => [s.Action].flat().includes('sagemaker:StartPipelineExecution'));
    expect(start).toHaveLength(1);
    expect(JSON.stringify(start[0].Resource)).toMatch(/:pipeline\/fmft-dev-fine-tuning"/);
    tpl.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Service: 'scheduler.amazonaws.com' },
            Condition: Match.objectLike({ ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp(':schedule/default/fmft-dev-retraining$')])] } } }),
          }),
        ],
      },
    });
  });

  test('configured parameter values reach every scheduled execution; a name the pipeline lacks fails synth', () => {
    const withParameters = configWith(ENVIRONMENTS.dev, (c) => {
      c.training.retraining = { schedule: 'rate(7 days)', parameters: { [FINE_TUNING_PARAMETER_NAMES.inputDataUri]: 's3://data/training-data/raw/support/' } };
    });
    Template.fromStack(synthesizeEnvironment(withParameters).platform.pipelines).hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(7 days)',
      Target: Match.objectLike({
        SageMakerPipelineParameters: { PipelineParameterList: [{ Name: FINE_TUNING_PARAMETER_NAMES.inputDataUri, Value: 's3://data/training-data/raw/support/' }] },
      }),
    });
    const unknown = configWith(ENVIRONMENTS.dev, (c) => (c.training.retraining = { schedule: 'rate(1 day)', parameters: { Epochz: '2' } }));
    expect(() => synthesizeEnvironment(unknown)).toThrow(/parameters\.Epochz: not a parameter of the pipeline; allowed: BaseModel, InputDataUri/);
  });

  test.each(['cron(0 3 * * MON)', 'rate(1 days)', 'every monday', 'rate(0 hours)'])("the schedule '%s' is refused at synth, naming the key", (schedule) => {
    expect(() => validateEnvironmentConfig(configWith(ENVIRONMENTS.dev, (c) => (c.training.retraining = { schedule })))).toThrow(
      new RegExp(`training\\.retraining\\.schedule: got "${schedule.replace(/[()*?.]/g, '\\$&')}"; allowed: cron\\(`),
    );
  });

  test('without training.retraining there is no schedule', () => {
    const none = synthesizeEnvironment(configWith(ENVIRONMENTS.dev, (c) => delete c.training.retraining));
    Template.fromStack(none.platform.pipelines).resourceCountIs('AWS::Scheduler::Schedule', 0);
  });
});

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'serving.json');
const prodServing = synthesizeEnvironment(loadEnvironmentConfig('prod', FIXTURE));
const prodPipelines = Template.fromStack(prodServing.platform.pipelines);
const prodMonitoring = Template.fromStack(prodServing.platform.monitoring);

/** The only resource of `type` in `template` whose logical id starts with `prefix`. */
function only(template: Template, type: string, prefix: string): any {
  const found = Object.entries(template.findResources(type)).filter(([id]) => id.startsWith(prefix));
  expect(found.map(([id]) => id)).toHaveLength(1);
  return found[0][1];
}
const statementsOf = (template: Template, prefix: string): any[] => only(template, 'AWS::IAM::ManagedPolicy', prefix).Properties.PolicyDocument.Statement;
const actionsOf = (s: any): string[] => [s.Action].flat();
const retrainSettings = (template: Template): any => {
  const fn = only(template, 'AWS::Lambda::Function', 'RetrainingTriggerHandler');
  const value = fn.Properties.Environment.Variables.FMFT_RETRAIN_SETTINGS;
  const parts: unknown[] = typeof value === 'string' ? [value] : value['Fn::Join'][1];
  return JSON.parse(parts.map((p) => (typeof p === 'string' ? p : '<token>')).join(''));
};

describe('retraining on new data', () => {
  test('objects created under training-data/raw/ in the data bucket go to the request queue, retried, with a dead-letter queue', () => {
    const rule = only(tpl, 'AWS::Events::Rule', 'RetrainingTriggerNewData');
    expect(rule.Properties.Name).toBe('fmft-dev-new-training-data');
    expect(rule.Properties.EventPattern).toEqual({
      source: ['aws.s3'],
      'detail-type': ['Object Created'],
      detail: { bucket: { name: [expect.anything()] }, object: { key: [{ prefix: STORAGE_LAYOUT.trainingData.prefixes.raw }] } },
    });
    const [target] = rule.Properties.Targets;
    expect(target.Arn).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^RetrainingTriggerRequests/), 'Arn'] });
    expect(target.RetryPolicy).toEqual({ MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 7200 });
    expect(target.DeadLetterConfig.Arn['Fn::GetAtt'][0]).toMatch(/^TriggerDeadLetters/);
    expect(target.Input ?? target.InputTransformer).toBeUndefined();
  });

  test('the request queue is KMS-encrypted, TLS-only, and hands a request that failed five times to the alarmed dead-letter queue', () => {
    const queue = only(tpl, 'AWS::SQS::Queue', 'RetrainingTriggerRequests');
    expect(queue.Properties.KmsMasterKeyId['Fn::GetAtt'][0]).toMatch(/^TriggersKey/);
    expect(queue.Properties.RedrivePolicy).toEqual({ deadLetterTargetArn: { 'Fn::GetAtt': [expect.stringMatching(/^TriggerDeadLetters/), 'Arn'] }, maxReceiveCount: 5 });
    // Lambda's advice for SQS sources: a visibility timeout of at least six times the function timeout.
    const fn = only(tpl, 'AWS::Lambda::Function', 'RetrainingTriggerHandler');
    expect(queue.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * fn.Properties.Timeout);
    const alarm = only(tpl, 'AWS::CloudWatch::Alarm', 'TriggerDeadLetters');
    expect(alarm.Properties.AlarmActions).toHaveLength(1);
  });

  test("EventBridge may send to the queue from this environment's two rules only", () => {
    const policy = only(prodPipelines, 'AWS::SQS::QueuePolicy', 'RetrainingTriggerRequests');
    const allows = policy.Properties.PolicyDocument.Statement.filter((s: any) => s.Effect === 'Allow');
    expect(allows).toHaveLength(1);
    expect(allows[0].Principal).toEqual({ Service: 'events.amazonaws.com' });
    expect(allows[0].Action).toBe('sqs:SendMessage');
    const sources = JSON.stringify(allows[0].Condition.ArnEquals['aws:SourceArn']);
    expect(sources).toMatch(/:rule\/fmft-prod-new-training-data"/);
    expect(sources).toMatch(/:rule\/fmft-prod-drift-retraining"/);
    expect(allows[0].Condition.StringEquals).toBeUndefined();
  });

  test('the function gets the datasets, the quiet period and the data parameter; batches report partial failures', () => {
    const fn = only(tpl, 'AWS::Lambda::Function', 'RetrainingTriggerHandler');
    expect(fn.Properties.Handler).toBe('training.triggers.retrain.handler');
    expect(fn.Properties.ReservedConcurrentExecutions).toBe(2);
    expect(fn.Properties.VpcConfig).toBeDefined();
    const settings = retrainSettings(tpl);
    expect(settings).toMatchObject({
      rawPrefix: STORAGE_LAYOUT.trainingData.prefixes.raw,
      inputParameter: FINE_TUNING_PARAMETER_NAMES.inputDataUri,
      datasets: ENVIRONMENTS.dev.training.retraining!.datasets,
      quietSeconds: ENVIRONMENTS.dev.training.retraining!.onNewData!.quietMinutes * 60,
      maxWaitHours: 48,
    });
    tpl.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: Match.stringLikeRegexp('^RetrainingTriggerHandler') },
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: 60,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 2 },
    });
  });

  test('its role may start and list executions of this pipeline only, list only the raw prefix, and publish only to the alerts topic', () => {
    const statements = statementsOf(tpl, 'RetrainingTriggerHandlerRole');
    const sagemaker = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('sagemaker:')));
    expect(sagemaker).toHaveLength(1);
    expect(actionsOf(sagemaker[0]).sort()).toEqual(['sagemaker:ListPipelineExecutions', 'sagemaker:StartPipelineExecution']);
    expect(JSON.stringify(sagemaker[0].Resource)).toMatch(/:pipeline\/fmft-dev-fine-tuning"\]\]\}$/);
    const list = statements.filter((s) => actionsOf(s).includes('s3:ListBucket'));
    expect(list).toHaveLength(1);
    expect(JSON.stringify(list[0].Condition)).toContain(`${STORAGE_LAYOUT.trainingData.prefixes.raw}*`);
    expect(statements.some((s) => actionsOf(s).some((a) => a === 's3:GetObject' || a === 's3:PutObject'))).toBe(false);
    const publish = statements.filter((s) => actionsOf(s).includes('sns:Publish'));
    expect(publish).toHaveLength(1);
    expect(statements.flatMap(actionsOf).filter((a) => a.endsWith('*') && !a.startsWith('xray:'))).toEqual([]);
  });

  test('a schedule alone builds no trigger; the dead-letter queue then serves the schedule only', () => {
    const scheduleOnly = synthesizeEnvironment(configWith(ENVIRONMENTS.dev, (c) => (c.training.retraining = { schedule: 'rate(7 days)' })));
    const template = Template.fromStack(scheduleOnly.platform.pipelines);
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 0);
    template.resourceCountIs('AWS::Events::Rule', 1); // the pipeline's failure rule
    template.resourceCountIs('AWS::Scheduler::Schedule', 1);
  });

  test.each([
    ['no trigger', {}, /training\.retraining: got .*; set at least one of schedule, onNewData, onDrift/],
    ['parameters without a schedule', { parameters: { Epochs: '1' }, datasets: { a: {} }, onNewData: { quietMinutes: 5 } }, /training\.retraining\.parameters: .*applies to scheduled runs only/],
    ['a dataset name that cannot be a folder', { datasets: { My_Data: {} }, onNewData: { quietMinutes: 5 } }, /training\.retraining\.datasets\.My_Data: got "My_Data"; not a dataset folder name; allowed: lowercase letters, digits and single hyphens, at most 40 characters/],
    ['new data without datasets', { onNewData: { quietMinutes: 5 } }, /training\.retraining\.datasets: .*onNewData and onDrift need at least one dataset/],
    ['drift on an unknown dataset', { datasets: { a: {} }, onDrift: { dataset: 'b', metrics: ['PromptTokensPsi'] } }, /training\.retraining\.onDrift\.dataset: got "b"; not in retraining\.datasets; allowed: a/],
    ['drift on an unknown metric', { datasets: { a: {} }, onDrift: { dataset: 'a', metrics: ['Psi'] } }, /training\.retraining\.onDrift\.metrics\[0\]: got "Psi"; allowed: .*PromptTokensPsi/],
    ['a quiet period of zero', { datasets: { a: {} }, onNewData: { quietMinutes: 0 } }, /training\.retraining\.onNewData\.quietMinutes: got 0; allowed: a whole number of minutes from 1 to 1440/],
  ])('%s is refused at synth, naming the key', (_name, retraining, message) => {
    expect(() => validateEnvironmentConfig(configWith(ENVIRONMENTS.dev, (c) => (c.training.retraining = retraining)))).toThrow(message);
  });

  test.each([
    [FINE_TUNING_PARAMETER_NAMES.inputDataUri, /datasets\.a\.parameters\.InputDataUri: set by the trigger to the dataset's folder; remove it/],
    ['Epochz', /datasets\.a\.parameters\.Epochz: not a parameter of the pipeline; allowed: BaseModel, InputDataUri/],
  ])('a dataset parameter %s is refused at synth', (name, message) => {
    const config = configWith(ENVIRONMENTS.dev, (c) => (c.training.retraining = { datasets: { a: { parameters: { [name]: 'x' } } }, onNewData: { quietMinutes: 5 } }));
    expect(() => synthesizeEnvironment(config)).toThrow(message);
  });
});

describe('retraining on drift (opt-in)', () => {
  test('alarms of the configured metrics, of every served variant, entering ALARM send a drift request for the dataset', () => {
    const rule = only(prodMonitoring, 'AWS::Events::Rule', 'DriftRetraining');
    expect(rule.Properties.Name).toBe('fmft-prod-drift-retraining');
    const drift = loadEnvironmentConfig('prod', FIXTURE).training.retraining!.onDrift!;
    const watched = [...prodServing.platform.monitoring.monitor.alarms].filter(([key]) => key.split('/').length === 3 && drift.metrics.includes(key.split('/')[2]));
    const variants = new Set(watched.map(([key]) => key.split('/').slice(0, 2).join('/')));
    expect(variants.size).toBeGreaterThan(1);
    expect(rule.Properties.EventPattern.resources).toHaveLength(watched.length);
    expect(rule.Properties.EventPattern.detail).toEqual({ state: { value: ['ALARM'] } });
    const [target] = rule.Properties.Targets;
    expect(target.InputTransformer.InputTemplate).toBe(`{"trigger":"drift","dataset":"${drift.dataset}","alarm":<detail-alarmName>,"time":<time>}`);
    expect(JSON.stringify(target.Arn)).toContain('RetrainingTriggerRequests');
  });

  test('without onDrift there is no drift rule', () => {
    // The stack's other rules are the idle-endpoint reaper's schedule (cost.idleEndpoints) and the backup job alerts (disasterRecovery.backup).
    const rules = Object.keys(Template.fromStack(dev.platform.monitoring).findResources('AWS::Events::Rule'));
    expect(rules.filter((id) => !id.startsWith('IdleEndpointReaperSchedule') && !id.startsWith('BackupJobAlerts'))).toEqual([]);
  });
});

describe('the synthesized rules, loaded into a local EventBridge (moto) that delivers to SQS', () => {
  // The rules' patterns and input transformers run as written; tokens (bucket name, alarm ARNs) become
  // concrete names, and the target is a moto queue standing in for the request queue.
  const local = useLocalEventBridge();

  /** An alarm's Fn::GetAtt -> an alarm ARN named by its logical id; the bucket's name -> data-bucket. */
  const resolve = (token: any) => (token['Fn::GetAtt'] ? `arn:aws:cloudwatch:us-east-1:123456789012:alarm:${token['Fn::GetAtt'][0]}` : 'data-bucket');
  const entry = eventEntry;

  test('objects created under raw/ in the data bucket arrive as S3 events; other prefixes and buckets do not', async () => {
    const queue = await local().load(only(prodPipelines, 'AWS::Events::Rule', 'RetrainingTriggerNewData'), resolve);
    const created = (bucket: string, key: string) => entry('aws.s3', 'Object Created', { bucket: { name: bucket }, object: { key, size: 1 } });
    await local().put(
      created('data-bucket', 'training-data/raw/my-dataset/a.jsonl'),
      created('data-bucket', 'training-data/processed/my-dataset/train.jsonl'),
      created('other-bucket', 'training-data/raw/my-dataset/b.jsonl'),
      entry('aws.s3', 'Object Deleted', { bucket: { name: 'data-bucket' }, object: { key: 'training-data/raw/my-dataset/c.jsonl' } }),
    );
    const messages = await local().received(queue);
    expect(messages.map((m) => [m.source, m.detail.object.key])).toEqual([['aws.s3', 'training-data/raw/my-dataset/a.jsonl']]);
  });

  test("a watched alarm entering ALARM arrives as the drift request the trigger reads; OK and others' alarms do not", async () => {
    const rule = only(prodMonitoring, 'AWS::Events::Rule', 'DriftRetraining');
    // moto matches and delivers the event; the input template is applied as EventBridge documents it
    // (renderInput: moto inserts string values unquoted).
    const [target] = rule.Properties.Targets;
    const queue = await local().load(rule, resolve, { withoutTransformer: true });
    const watched = resolve(rule.Properties.EventPattern.resources[0]) as string;
    const change = (arn: string, state: string) =>
      entry('aws.cloudwatch', 'CloudWatch Alarm State Change', { alarmName: arn.split(':').pop(), state: { value: state } }, [arn]);
    await local().put(change(watched, 'ALARM'), change(watched, 'OK'), change('arn:aws:cloudwatch:us-east-1:123456789012:alarm:other', 'ALARM'));
    const events = await local().received(queue);
    expect(events.map((e) => [e.resources, e.detail.state.value])).toEqual([[[watched], 'ALARM']]);
    const drift = loadEnvironmentConfig('prod', FIXTURE).training.retraining!.onDrift!;
    expect(renderInput(target.InputTransformer, events[0])).toEqual({ trigger: 'drift', dataset: drift.dataset, alarm: watched.split(':').pop(), time: '2026-11-29T10:00:00Z' });
  });
});
