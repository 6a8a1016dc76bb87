import { Match, Template } from 'aws-cdk-lib/assertions';
import { ENVIRONMENTS } from '../../lib/config/environments';
import { validateEnvironmentConfig } from '../../lib/config/validate';
import { FINE_TUNING_PARAMETER_NAMES } from '../../lib/pipeline/fine-tuning-pipeline';
import { configWith, synthesizeEnvironment } from '../support/app';

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
