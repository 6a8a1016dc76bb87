import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { MONITORING_METRICS } from '../../config/monitoring-metrics';
import { CaptureMonitor, MonitorTarget } from './capture-monitor';

export interface MonitoringDashboardProps {
  readonly dashboardName: string;
  readonly monitor: CaptureMonitor;
  readonly targets: readonly MonitorTarget[];
  /** Adds the Bedrock provisioned models' drift and health (see CaptureMonitorProps.watchesBedrock). @default false */
  readonly watchesBedrock?: boolean;
}

const WIDTH = 24;

/**
 * One dashboard per environment: per served endpoint variant its traffic (invocations, 4xx/5xx), model latency
 * p50/p90/p99, input drift and output health from the capture monitor, and the monitor's own runs; then the
 * monitor's executions. Drift and health series come from training/contracts/monitoring-metrics.json.
 */
export class MonitoringDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringDashboardProps) {
    super(scope, id);
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.days(7),
    });
    const { monitor } = props;
    const byKind = (kind: string) => MONITORING_METRICS.filter((m) => m.kind === kind);
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        width: WIDTH,
        height: 2,
        markdown: props.targets.length
          ? `# ${props.dashboardName}\nPer served endpoint variant: traffic, latency, drift against the served version's training baseline, answer health and monitor runs. Alarms go to the alerts topic.`
          : `# ${props.dashboardName}\nNothing is served yet: deploy the endpoints stack with \`serving.variants\` (or \`-c serving=<file>\`) and the monitor starts watching it.`,
      }),
    );
    for (const target of props.targets) {
      const where = `${target.endpointName} / ${target.variantName}`;
      const sageMaker = (metricName: string, statistic: string, label: string) =>
        new cloudwatch.Metric({
          namespace: 'AWS/SageMaker',
          metricName,
          dimensionsMap: { EndpointName: target.endpointName, VariantName: target.variantName },
          statistic,
          period: Duration.minutes(5),
          label,
        });
      const ours = (names: { name: string }[]) => names.map((m) => monitor.metric(m.name, target, { label: m.name, period: Duration.hours(1) }));
      this.dashboard.addWidgets(
        new cloudwatch.GraphWidget({
          title: `${where}: invocations and errors`,
          width: 6,
          left: [sageMaker('Invocations', 'Sum', 'invocations'), sageMaker('Invocation4XXErrors', 'Sum', '4xx'), sageMaker('Invocation5XXErrors', 'Sum', '5xx')],
        }),
        new cloudwatch.GraphWidget({
          title: `${where}: model latency (microseconds)`,
          width: 6,
          left: ['p50', 'p90', 'p99'].map((p) => sageMaker('ModelLatency', p, p)),
        }),
        new cloudwatch.GraphWidget({ title: `${where}: input drift`, width: 6, left: ours(byKind('drift')) }),
        new cloudwatch.GraphWidget({ title: `${where}: answer health`, width: 6, left: ours(byKind('health')) }),
      );
      const quality = byKind('quality');
      this.dashboard.addWidgets(
        new cloudwatch.GraphWidget({
          title: `${where}: quality over time (canary)`,
          width: 12,
          height: 4,
          left: ours(quality.filter((m) => m.unit !== 'Milliseconds')),
          right: ours(quality.filter((m) => m.unit === 'Milliseconds')),
        }),
        new cloudwatch.GraphWidget({
          title: `${where}: monitor runs`,
          width: 12,
          height: 4,
          left: byKind('run').map((m) => monitor.metric(m.name, target, { label: m.name, statistic: cloudwatch.Stats.SUM, period: Duration.hours(1) })),
        }),
      );
    }
    if (props.watchesBedrock) {
      // Bedrock provisioned models are found at run time: one series per model, by Metrics Insights.
      const perModel = (names: { name: string }[]) =>
        names.map(
          (m) =>
            new cloudwatch.MathExpression({
              expression: `${monitor.bedrockMetric(m.name).expression} GROUP BY EndpointName`,
              period: Duration.hours(1),
              label: m.name,
            }),
        );
      this.dashboard.addWidgets(
        new cloudwatch.GraphWidget({ title: 'Bedrock provisioned models: input drift', width: 12, left: perModel(byKind('drift')) }),
        new cloudwatch.GraphWidget({ title: 'Bedrock provisioned models: answer health', width: 12, left: perModel(byKind('health')) }),
      );
    }
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Capture monitor executions',
        width: WIDTH,
        height: 4,
        left: [
          monitor.stateMachine.metricSucceeded({ period: Duration.hours(1), label: 'succeeded' }),
          monitor.stateMachine.metricFailed({ period: Duration.hours(1), label: 'failed' }),
        ],
      }),
      new cloudwatch.AlarmStatusWidget({
        title: 'Monitor alarms',
        width: WIDTH,
        alarms: [...monitor.alarms.values()],
      }),
    );
  }
}
