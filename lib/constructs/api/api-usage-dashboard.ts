import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { InferenceApi, API_STAGE_NAME } from './inference-api';

export interface ApiUsageDashboardProps {
  readonly api: InferenceApi;
  readonly dashboardName: string;
  /** 5xx share and p99 latency over 5 minutes that alarm. */
  readonly alarms: { readonly maxServerErrorPercent: number; readonly maxLatencyP99Ms: number };
  /** Receives the alarms. */
  readonly topic: sns.ITopic;
}

/** Usage metrics the access log feeds, per API key: name, filter pattern, value and unit. */
const PER_KEY_METRICS = [
  { name: 'Requests', pattern: '{ $.status = * }', value: '1', unit: cloudwatch.Unit.COUNT },
  { name: 'Latency', pattern: '{ $.status = * }', value: '$.latencyMs', unit: cloudwatch.Unit.MILLISECONDS },
  { name: 'ClientErrors', pattern: '{ $.status >= 400 && $.status < 500 }', value: '1', unit: cloudwatch.Unit.COUNT },
  { name: 'ServerErrors', pattern: '{ $.status >= 500 }', value: '1', unit: cloudwatch.Unit.COUNT },
  { name: 'Throttles', pattern: '{ $.status = 429 }', value: '1', unit: cloudwatch.Unit.COUNT },
] as const;

const PERIOD = Duration.minutes(5);
const PERCENTILES = ['p50', 'p90', 'p99'] as const;

/**
 * The inference API's usage dashboard and alarms. Per route: API Gateway's detailed metrics (calls, latency
 * percentiles, 4xx, 5xx) and throttles from the access log. Per API key: calls, latency percentiles, 4xx, 5xx
 * and throttles from metric filters on the access log, whose JSON lines carry the key id (API Gateway itself
 * publishes nothing per key). Per route and model: the handler's model latency and own overhead. Alarms on
 * the 5xx share and the p99 latency go to the alerts topic.
 */
export class ApiUsageDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  readonly serverErrorAlarm: cloudwatch.Alarm;
  readonly latencyAlarm: cloudwatch.Alarm;
  /** Namespace of the metrics the access log feeds. */
  readonly usageNamespace: string;

  constructor(scope: Construct, id: string, props: ApiUsageDashboardProps) {
    super(scope, id);
    const { api } = props;
    const apiName = api.api.restApiName;
    this.usageNamespace = `${api.metricsNamespace}/Usage`;

    for (const m of PER_KEY_METRICS) {
      new logs.MetricFilter(this, `PerKey${m.name}`, {
        logGroup: api.accessLogs,
        metricNamespace: this.usageNamespace,
        metricName: m.name,
        filterPattern: logs.FilterPattern.literal(m.pattern),
        metricValue: m.value,
        dimensions: { ApiKeyId: '$.apiKeyId' },
        unit: m.unit,
      });
    }
    new logs.MetricFilter(this, 'PerRouteThrottles', {
      logGroup: api.accessLogs,
      metricNamespace: this.usageNamespace,
      metricName: 'Throttles',
      filterPattern: logs.FilterPattern.literal('{ $.status = 429 }'),
      metricValue: '1',
      dimensions: { Route: '$.route' },
      unit: cloudwatch.Unit.COUNT,
    });

    const gateway = (metricName: string, statistic: string, dims: Record<string, string> = {}, label?: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/ApiGateway',
        metricName,
        dimensionsMap: { ApiName: apiName, Stage: API_STAGE_NAME, ...dims },
        statistic,
        period: PERIOD,
        label,
      });
    const routes = api.operations.map((op) => ({ label: `${op.method} ${op.path}`, dims: { Method: op.method, Resource: op.path }, path: op.path }));
    const perRoute = (metricName: string, statistic: string) => routes.map((r) => gateway(metricName, statistic, r.dims, r.label));
    const usage = (metricName: string, statistic: string, dims: Record<string, string>, label: string) =>
      new cloudwatch.Metric({ namespace: this.usageNamespace, metricName, dimensionsMap: dims, statistic, period: PERIOD, label });
    const keys = Object.entries(api.apiKeys);
    const perKey = (metricName: string, statistic: string) => keys.map(([name, key]) => usage(metricName, statistic, { ApiKeyId: key.keyId }, name));
    const handler = (metricName: string, statistic: string) =>
      new cloudwatch.MathExpression({
        expression: `SEARCH('{${api.metricsNamespace},Route,Model} MetricName="${metricName}"', '${statistic}', ${PERIOD.toSeconds()})`,
        label: '',
        period: PERIOD,
      });

    const graph = (title: string, left: cloudwatch.IMetric[], width = 8) => new cloudwatch.GraphWidget({ title, left, width, height: 6 });
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.hours(6),
    });
    this.dashboard.addWidgets(new cloudwatch.TextWidget({ markdown: `# ${apiName}\nCalls, latency, errors and throttles per route and per API key (stage \`${API_STAGE_NAME}\`).`, width: 24, height: 2 }));
    this.dashboard.addWidgets(
      graph('Calls per route', perRoute('Count', 'Sum')),
      graph('4xx per route', perRoute('4XXError', 'Sum')),
      graph('5xx per route', perRoute('5XXError', 'Sum')),
    );
    this.dashboard.addWidgets(
      ...PERCENTILES.map((p) => graph(`Latency ${p} per route (ms)`, perRoute('Latency', p))),
    );
    this.dashboard.addWidgets(
      graph('Throttles (429) per route', routes.map((r) => usage('Throttles', 'Sum', { Route: r.path }, r.label))),
      graph('Model latency p90 per route and model (ms)', [handler('ModelLatency', 'p90')]),
      graph('Handler overhead p99 per route and model (ms)', [handler('HandlerOverhead', 'p99')]),
    );
    if (keys.length) {
      this.dashboard.addWidgets(
        graph('Calls per API key', perKey('Requests', 'Sum')),
        graph('4xx per API key', perKey('ClientErrors', 'Sum')),
        graph('5xx per API key', perKey('ServerErrors', 'Sum')),
      );
      this.dashboard.addWidgets(
        graph('Throttles (429) per API key', perKey('Throttles', 'Sum')),
        ...PERCENTILES.slice(1).map((p) => graph(`Latency ${p} per API key (ms)`, perKey('Latency', p))),
      );
    }
    if (api.cacheTable) {
      const cacheSum = (metricName: string) => `SUM(SEARCH('{${api.metricsNamespace},Route,Model} MetricName="${metricName}"', 'Sum', ${PERIOD.toSeconds()}))`;
      this.dashboard.addWidgets(
        graph(
          'Answer cache hit rate (%)',
          [
            new cloudwatch.MathExpression({
              expression: `100 * ${cacheSum('CacheHits')} / (${cacheSum('CacheHits')} + ${cacheSum('CacheMisses')})`,
              label: 'hit rate',
              period: PERIOD,
            }),
          ],
          12,
        ),
        graph('Answer cache hits and misses', [handler('CacheHits', 'Sum'), handler('CacheMisses', 'Sum')], 12),
      );
    }
    this.dashboard.addWidgets(
      graph('Requests the web ACL blocked', [
        new cloudwatch.Metric({
          namespace: 'AWS/WAFV2',
          metricName: 'BlockedRequests',
          dimensionsMap: { WebACL: api.webAcl.name!, Rule: 'ALL', Region: api.api.env.region },
          statistic: 'Sum',
          period: PERIOD,
        }),
      ], 24),
    );

    const alarm = (id: string, metric: cloudwatch.IMetric, threshold: number, description: string) => {
      const a = new cloudwatch.Alarm(this, id, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      a.addAlarmAction(new actions.SnsAction(props.topic));
      return a;
    };
    // 5XXError's average is the share of requests that failed with 5xx.
    this.serverErrorAlarm = alarm(
      'ServerErrorRate',
      new cloudwatch.MathExpression({ expression: '100 * errors', usingMetrics: { errors: gateway('5XXError', 'Average') }, period: PERIOD, label: '5xx %' }),
      props.alarms.maxServerErrorPercent,
      `${apiName}: more than ${props.alarms.maxServerErrorPercent}% of requests failed with 5xx in 5 minutes`,
    );
    this.latencyAlarm = alarm(
      'LatencyP99',
      gateway('Latency', 'p99'),
      props.alarms.maxLatencyP99Ms,
      `${apiName}: p99 latency above ${props.alarms.maxLatencyP99Ms} ms in 5 minutes`,
    );
  }
}
