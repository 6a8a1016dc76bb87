import { Template } from 'aws-cdk-lib/assertions';
import metricsContract from '../../training/contracts/training-metrics.json';
import { ENVIRONMENTS } from '../../lib/config/environments';
import { synthesizeEnvironment } from '../support/app';
import { eventEntry, renderInput, useLocalEventBridge } from '../support/eventbridge';

const dev = synthesizeEnvironment(ENVIRONMENTS.dev);
const tpl = Template.fromStack(dev.platform.training);
const TRAINING_ROLE = 'arn:aws:iam::123456789012:role/training';
const PROCESSING_ROLE = 'arn:aws:iam::123456789012:role/processing';

function rule(prefix: string): any {
  const found = Object.entries(tpl.findResources('AWS::Events::Rule')).filter(([id]) => id.startsWith(prefix));
  expect(found).toHaveLength(1);
  return found[0][1];
}

describe('training stack', () => {
  test('the pipelines, monitoring and Bedrock stacks run its image and code; it owns no orchestration', () => {
    expect(dev.platform.pipelines.dependencies).toContain(dev.platform.training);
    expect(dev.platform.monitoring.dependencies).toContain(dev.platform.training);
    expect(dev.platform.bedrock.dependencies).toContain(dev.platform.training);
    tpl.resourceCountIs('AWS::SageMaker::Pipeline', 0);
    tpl.resourceCountIs('AWS::Lambda::Function', 0);
  });

  test("the dashboard charts every metric the training jobs publish, and the hosts' GPUs, found by SEARCH", () => {
    const [dashboard] = Object.values(tpl.findResources('AWS::CloudWatch::Dashboard')) as any[];
    expect(dashboard.Properties.DashboardName).toBe('fmft-dev-training-us-east-1');
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const m of metricsContract.metrics) expect(body).toContain(`MetricName=\\\\\\"${m.name}\\\\\\"`);
    expect(body).toContain('GPUUtilization');
    expect(body).toContain('GPUMemoryUtilization');
  });
});

describe("this environment's failed jobs, loaded into a local EventBridge (moto)", () => {
  const local = useLocalEventBridge();

  // The role ARNs are cross-stack references to the security stack's roles.
  const resolve = (token: any) => (JSON.stringify(token).includes('TrainingRole') ? TRAINING_ROLE : PROCESSING_ROLE);
  const training = (status: string, secondary: string, role = TRAINING_ROLE) =>
    eventEntry('aws.sagemaker', 'SageMaker Training Job State Change', {
      TrainingJobName: `job-${status}-${secondary}`,
      TrainingJobStatus: status,
      SecondaryStatus: secondary,
      FailureReason: `reason ${secondary}`,
      RoleArn: role,
    });

  test('training jobs of the training role that fail or hit their runtime or spot wait limit are announced; others are not', async () => {
    const watch = rule('JobWatchTrainingJobEnded');
    const queue = await local().load(watch, resolve, { withoutTransformer: true });
    await local().put(
      training('Failed', 'Failed'),
      training('Stopped', 'MaxRuntimeExceeded'),
      training('Stopped', 'MaxWaitTimeExceeded'),
      training('Stopped', 'Stopped'),
      training('Completed', 'Completed'),
      training('Failed', 'Failed', 'arn:aws:iam::123456789012:role/someone-else'),
    );
    const transformer = watch.Properties.Targets[0].InputTransformer;
    const messages = (await local().received(queue)).map((event) => renderInput(transformer, event)).sort();
    expect(messages).toEqual([
      'Training job job-Failed-Failed ended Failed (Failed): reason Failed. Details: aws sagemaker describe-training-job --training-job-name job-Failed-Failed',
      'Training job job-Stopped-MaxRuntimeExceeded ended Stopped (MaxRuntimeExceeded): reason MaxRuntimeExceeded. Details: aws sagemaker describe-training-job --training-job-name job-Stopped-MaxRuntimeExceeded',
      'Training job job-Stopped-MaxWaitTimeExceeded ended Stopped (MaxWaitTimeExceeded): reason MaxWaitTimeExceeded. Details: aws sagemaker describe-training-job --training-job-name job-Stopped-MaxWaitTimeExceeded',
    ]);
  });

  test('failed processing jobs of the processing role are announced', async () => {
    const watch = rule('JobWatchProcessingJobFailed');
    const queue = await local().load(watch, resolve, { withoutTransformer: true });
    const processing = (status: string, role = PROCESSING_ROLE) =>
      eventEntry('aws.sagemaker', 'SageMaker Processing Job State Change', { ProcessingJobName: `p-${status}`, ProcessingJobStatus: status, FailureReason: 'oom', RoleArn: role });
    await local().put(processing('Failed'), processing('Completed'), processing('Failed', TRAINING_ROLE));
    const transformer = watch.Properties.Targets[0].InputTransformer;
    expect((await local().received(queue)).map((event) => renderInput(transformer, event))).toEqual(['Processing job p-Failed failed: oom. Details: aws sagemaker describe-processing-job --processing-job-name p-Failed']);
  });

  test('announcements go to the alerts topic, retried, with a dead-letter queue', () => {
    for (const prefix of ['JobWatchTrainingJobEnded', 'JobWatchProcessingJobFailed']) {
      const [target] = rule(prefix).Properties.Targets;
      expect(JSON.stringify(target.Arn)).toContain('AlertsTopic');
      expect(JSON.stringify(target.DeadLetterConfig.Arn)).toContain('UndeliveredAlerts');
      expect(target.RetryPolicy).toEqual({ MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 86400 });
    }
  });
});
