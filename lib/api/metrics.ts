/**
 * One CloudWatch Embedded Metric Format line per request
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
 * CloudWatch Logs turns it into metrics with no API call, so measuring costs one JSON.stringify and one write.
 * Dimensions are Route and Model only; the problem code, status, request id and API key id are properties (searchable in
 * Logs Insights) so that they add no metric cardinality.
 */

export const METRIC_NAMES = {
  requests: 'Requests',
  modelLatency: 'ModelLatency',
  handlerOverhead: 'HandlerOverhead',
  errors4xx: 'Errors4xx',
  errors5xx: 'Errors5xx',
  cacheHits: 'CacheHits',
  cacheMisses: 'CacheMisses',
} as const;

/** The Model dimension of requests that name no served model (listModels, unknown routes and ids). */
export const NO_MODEL = 'none';
/** The Route dimension of requests that match no route. */
export const NO_ROUTE = 'none';

export interface RequestMeasurement {
  /** operationId, or NO_ROUTE. */
  readonly route: string;
  /** A served model id, or NO_MODEL (never an unserved id a caller sent: that would be unbounded cardinality). */
  readonly model: string;
  readonly status: number;
  readonly problem?: string;
  readonly requestId: string;
  /** The caller's API key id (API Gateway's), for per-caller queries. */
  readonly apiKeyId?: string;
  /** Time spent waiting for the model; absent when no model was called. */
  readonly modelMs?: number;
  readonly totalMs: number;
  /** The answer cache's verdict, when the request could be cached: a failed lookup counts as a miss. */
  readonly cache?: 'hit' | 'miss' | 'error';
}

const COUNT = 'Count';
const MILLISECONDS = 'Milliseconds';
const DIMENSIONS = [['Route', 'Model']];
// Declared metrics must be present in the line, so there are two declarations: with and without ModelLatency.
const WITH_MODEL = [
  { Name: METRIC_NAMES.requests, Unit: COUNT },
  { Name: METRIC_NAMES.modelLatency, Unit: MILLISECONDS },
  { Name: METRIC_NAMES.handlerOverhead, Unit: MILLISECONDS },
  { Name: METRIC_NAMES.errors4xx, Unit: COUNT },
  { Name: METRIC_NAMES.errors5xx, Unit: COUNT },
];
const WITHOUT_MODEL = WITH_MODEL.filter((m) => m.Name !== METRIC_NAMES.modelLatency);
// Requests the cache could answer also declare its hits and misses, whose ratio is the hit rate.
const CACHE_METRICS = [
  { Name: METRIC_NAMES.cacheHits, Unit: COUNT },
  { Name: METRIC_NAMES.cacheMisses, Unit: COUNT },
];
const WITH_MODEL_CACHED = [...WITH_MODEL, ...CACHE_METRICS];
const WITHOUT_MODEL_CACHED = [...WITHOUT_MODEL, ...CACHE_METRICS];

const round = (ms: number) => Math.round(ms * 1000) / 1000;

function declared(withModel: boolean, withCache: boolean) {
  if (withCache) return withModel ? WITH_MODEL_CACHED : WITHOUT_MODEL_CACHED;
  return withModel ? WITH_MODEL : WITHOUT_MODEL;
}

/** The EMF line (without newline) of one request. */
export function emfLine(namespace: string, m: RequestMeasurement, timestamp: number): string {
  const modelMs = m.modelMs;
  return JSON.stringify({
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [{ Namespace: namespace, Dimensions: DIMENSIONS, Metrics: declared(modelMs !== undefined, m.cache !== undefined) }],
    },
    Route: m.route,
    Model: m.model,
    [METRIC_NAMES.requests]: 1,
    ...(modelMs === undefined ? {} : { [METRIC_NAMES.modelLatency]: round(modelMs) }),
    [METRIC_NAMES.handlerOverhead]: round(Math.max(0, m.totalMs - (modelMs ?? 0))),
    [METRIC_NAMES.errors4xx]: m.status >= 400 && m.status < 500 ? 1 : 0,
    [METRIC_NAMES.errors5xx]: m.status >= 500 ? 1 : 0,
    ...(m.cache === undefined ? {} : { [METRIC_NAMES.cacheHits]: m.cache === 'hit' ? 1 : 0, [METRIC_NAMES.cacheMisses]: m.cache === 'hit' ? 0 : 1 }),
    ...(m.cache === 'error' ? { CacheError: true } : {}),
    StatusCode: m.status,
    ...(m.problem ? { Problem: m.problem } : {}),
    RequestId: m.requestId,
    ...(m.apiKeyId ? { ApiKeyId: m.apiKeyId } : {}),
  });
}
