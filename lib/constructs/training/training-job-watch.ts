import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { announceOnTopic } from '../platform-alerts';

export interface TrainingJobWatchProps {
  /** The environment's training role: its jobs (pipeline steps and tuning trials alike) are the ones watched. */
  readonly trainingRole: iam.IRole;
  /** The environment's processing role (data preparation, evaluation, monitors). */
  readonly processingRole: iam.IRole;
  /** Failed and timed-out jobs are announced here; EventBridge of this account must be allowed to publish. */
  readonly topic: sns.ITopic;
  /** Announcements EventBridge could not deliver. */
  readonly deadLetterQueue: sqs.IQueue;
  /** Names the dashboard. */
  readonly dashboardName: string;
  /** Metric names the training jobs publish (the pipeline's metric definitions), e.g. train_loss. */
  readonly jobMetricNames: readonly string[];
}

/** The CloudWatch namespace of training job metrics: metric definitions and instance metrics. */
const TRAINING_NAMESPACE = '/aws/sagemaker/TrainingJobs';

/**
 * Watches this environment's SageMaker jobs, recognised by their execution role: a rule announces every
 * training job that fails, and every one stopped at its runtime limit (with spot, the limit also bounds the
 * wait for capacity), to the alerts topic with the job's name and reason; another does the same for failed
 * processing jobs. A tuning trial that fails does not fail the pipeline, so without these rules nobody would
 * hear of it. The dashboard shows the training metrics of recent jobs (the pipeline's metric definitions)
 * and the instances' GPU and memory use, found with SEARCH so every new job appears without a deploy.
 */
export class TrainingJobWatch extends Construct {
  readonly trainingJobRule: events.Rule;
  readonly processingJobRule: events.Rule;
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: TrainingJobWatchProps) {
    super(scope, id);
    if (props.jobMetricNames.length === 0) throw new Error('Invalid TrainingJobWatch props:\n- jobMetricNames: got none; allowed: at least one metric name');
    this.trainingJobRule = new events.Rule(this, 'TrainingJobEnded', {
      description: 'Training jobs of this environment that failed or hit their runtime limit',
      eventPattern: {
        source: ['aws.sagemaker'],
        detailType: ['SageMaker Training Job State Change'],
        detail: {
          RoleArn: [props.trainingRole.roleArn],
          $or: [{ TrainingJobStatus: ['Failed'] }, { TrainingJobStatus: ['Stopped'], SecondaryStatus: ['MaxRuntimeExceeded', 'MaxWaitTimeExceeded'] }],
        } as any,
      },
    });
    const trainingJob = events.EventField.fromPath('$.detail.TrainingJobName');
    announceOnTopic(
      this.trainingJobRule,
      `Training job ${trainingJob} ended ${events.EventField.fromPath('$.detail.TrainingJobStatus')} ` +
        `(${events.EventField.fromPath('$.detail.SecondaryStatus')}): ${events.EventField.fromPath('$.detail.FailureReason')}. ` +
        `Details: aws sagemaker describe-training-job --training-job-name ${trainingJob}`,
      props.topic,
      props.deadLetterQueue,
    );
    this.processingJobRule = new events.Rule(this, 'ProcessingJobFailed', {
      description: 'Processing jobs of this environment that failed',
      eventPattern: {
        source: ['aws.sagemaker'],
        detailType: ['SageMaker Processing Job State Change'],
        detail: { RoleArn: [props.processingRole.roleArn], ProcessingJobStatus: ['Failed'] },
      },
    });
    const processingJob = events.EventField.fromPath('$.detail.ProcessingJobName');
    announceOnTopic(
      this.processingJobRule,
      `Processing job ${processingJob} failed: ${events.EventField.fromPath('$.detail.FailureReason')}. ` +
        `Details: aws sagemaker describe-processing-job --processing-job-name ${processingJob}`,
      props.topic,
      props.deadLetterQueue,
    );

    const search = (expression: string, label: string) =>
      new cloudwatch.MathExpression({ expression, label, period: Duration.minutes(5), usingMetrics: {} });
    const jobMetric = (name: string) =>
      search(`SEARCH('{${TRAINING_NAMESPACE},TrainingJobName} MetricName="${name}"', 'Average', 300)`, name);
    const hostMetric = (name: string) => search(`SEARCH('{${TRAINING_NAMESPACE},Host} MetricName="${name}"', 'Average', 300)`, name);
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.days(7),
    });
    this.dashboard.addWidgets(
      ...props.jobMetricNames.map((name) => new cloudwatch.GraphWidget({ title: `${name} per training job`, left: [jobMetric(name)], width: 12 })),
      new cloudwatch.GraphWidget({ title: 'GPU utilization per host (%)', left: [hostMetric('GPUUtilization')], width: 12 }),
      new cloudwatch.GraphWidget({ title: 'GPU memory per host (%)', left: [hostMetric('GPUMemoryUtilization')], width: 12 }),
    );
  }

}
