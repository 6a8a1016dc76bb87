import contract from '../../training/contracts/monitoring-metrics.json';

/**
 * The capture monitor's metrics (training/contracts/monitoring-metrics.json, shared with training/monitor):
 * the CDK app builds the config thresholds, alarms and dashboard from it. Never write a metric name elsewhere.
 */
export interface MonitoringMetric {
  readonly name: string;
  readonly unit: 'Count' | 'None' | 'Milliseconds';
  /** run: bookkeeping of a run; drift: inputs against the baseline; health: the answers; quality: the canary's scores. */
  readonly kind: 'run' | 'drift' | 'health' | 'quality';
  /** Key of `monitoring.thresholds` that sets this metric's alarm; absent: no alarm of its own. */
  readonly config?: string;
  /** The alarm threshold unless the config sets one (measured: training/tests/test_monitor.py). */
  readonly default?: number;
  /** The alarm fires below the threshold (a score), not above it. @default false */
  readonly alarmBelow?: boolean;
  readonly description: string;
}

export const MONITORING_METRICS: readonly MonitoringMetric[] = contract.metrics as MonitoringMetric[];

/** The dimensions of every monitor metric, in order. */
export const MONITORING_DIMENSIONS: readonly string[] = contract.dimensions;

/** The metric that every finished run reports once (the missing-report alarm watches it). */
export const MONITOR_RUN_METRIC = 'MonitorRun';
/** Captured records read by a run. */
export const CAPTURED_RECORDS_METRIC = 'CapturedRecords';

/** Metrics that have an alarm threshold in the config, by config key. */
export const THRESHOLD_METRICS: ReadonlyMap<string, MonitoringMetric> = new Map(
  MONITORING_METRICS.filter((m) => m.config).map((m) => [m.config as string, m]),
);

/** Every threshold at its measured default, by config key: what environments start from. */
export const DEFAULT_MONITOR_THRESHOLDS: Readonly<Record<string, number>> = Object.fromEntries(
  [...THRESHOLD_METRICS].map(([key, metric]) => [key, metric.default as number]),
);

for (const name of [MONITOR_RUN_METRIC, CAPTURED_RECORDS_METRIC]) {
  if (!MONITORING_METRICS.some((m) => m.name === name)) throw new Error(`monitoring-metrics.json lacks ${name}`);
}

/** The CloudWatch namespace of an environment's platform metrics (the throughput guard's too). */
export function platformMetricNamespace(environment: string): string {
  return `FineTuningPlatform/${environment}`;
}
