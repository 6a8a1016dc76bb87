import { parseServedModels, ServedModel } from './served-models';

/** What the handler needs from its environment, read once per container (see `configFromEnvironment`). */
export interface ApiConfig {
  readonly models: readonly ServedModel[];
  /** CloudWatch namespace of the per-request EMF metrics. */
  readonly metricsNamespace: string;
  /** Abort a model call after this long and answer model-timeout; below API Gateway's integration timeout. */
  readonly modelTimeoutMs: number;
  readonly region: string;
  /** The answer cache of deterministic requests, when the API has one (CACHE_TABLE and CACHE_TTL_SECONDS). */
  readonly cache?: { readonly tableName: string; readonly ttlSeconds: number };
}

/**
 * The configuration in `env` (SERVED_MODELS, METRICS_NAMESPACE, MODEL_TIMEOUT_MS, AWS_REGION, and optionally
 * CACHE_TABLE with CACHE_TTL_SECONDS). Throws one
 * error naming every missing or malformed variable, so a bad deployment fails on its first request with a
 * message in the log instead of misrouting calls.
 */
export function configFromEnvironment(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  const problems: string[] = [];
  let models: ServedModel[] = [];
  if (!env.SERVED_MODELS) problems.push('SERVED_MODELS is not set; allowed: a JSON array of served models');
  else {
    try {
      models = parseServedModels(env.SERVED_MODELS);
    } catch (error) {
      problems.push((error as Error).message.replace(/\n- /g, '\n  - '));
    }
  }
  const metricsNamespace = env.METRICS_NAMESPACE ?? '';
  if (!metricsNamespace.trim()) problems.push('METRICS_NAMESPACE is not set; allowed: a CloudWatch namespace');
  const timeout = Number(env.MODEL_TIMEOUT_MS);
  if (!env.MODEL_TIMEOUT_MS || !Number.isInteger(timeout) || timeout <= 0) {
    problems.push(`MODEL_TIMEOUT_MS: got ${JSON.stringify(env.MODEL_TIMEOUT_MS)}; allowed: a whole number of milliseconds > 0`);
  }
  const region = env.AWS_REGION ?? '';
  if (!region) problems.push('AWS_REGION is not set');
  let cache: ApiConfig['cache'];
  if (env.CACHE_TABLE !== undefined || env.CACHE_TTL_SECONDS !== undefined) {
    const ttl = Number(env.CACHE_TTL_SECONDS);
    if (!env.CACHE_TABLE) problems.push('CACHE_TABLE is not set, but CACHE_TTL_SECONDS is; allowed: both (a cache) or neither');
    if (!env.CACHE_TTL_SECONDS || !Number.isInteger(ttl) || ttl <= 0) {
      problems.push(`CACHE_TTL_SECONDS: got ${JSON.stringify(env.CACHE_TTL_SECONDS)}; allowed: a whole number of seconds > 0 with CACHE_TABLE`);
    }
    cache = { tableName: env.CACHE_TABLE ?? '', ttlSeconds: ttl };
  }
  if (problems.length) throw new Error(`The inference API's environment is invalid:\n- ${problems.join('\n- ')}`);
  return { models, metricsNamespace, modelTimeoutMs: timeout, region, ...(cache ? { cache } : {}) };
}
