import { createHash } from 'crypto';
import { ServedModel } from './served-models';

/**
 * The answer cache of deterministic requests: greedy decoding (temperature 0) of the same request to the same
 * model versions gives the same answer, so a repeated one is served from DynamoDB without calling the model.
 * A cache failure never fails a request: it is a miss, counted and logged.
 */
export interface ResponseCache {
  /** The stored response body, or undefined. */
  get(key: string, signal: AbortSignal): Promise<string | undefined>;
  put(key: string, body: string): Promise<void>;
}

/**
 * The cache key of a request: SHA-256 of the operation, the model id, its configured versions and the request
 * with every default applied, so `{"prompt": "a"}` and `{"prompt": "a", "parameters": {"maxNewTokens": 256}}`
 * share an entry while a new model version starts a new one.
 */
export function cacheKey(operation: string, model: ServedModel, request: unknown): string {
  const canonical = JSON.stringify([operation, model.id, [...model.versions].sort(), sortKeys(request)]);
  return createHash('sha256').update(canonical).digest('hex');
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => [k, sortKeys(v)]),
  );
}
