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
 * share an entry while a new model version starts a new one. `liveVersion` is what the model's backend serves
 * now where that can change without the API's configuration changing (the A/B endpoint's endpoint config name,
 * see `EndpointVersions`); without it, the key is the same as before it existed.
 */
export function cacheKey(operation: string, model: ServedModel, request: unknown, liveVersion?: string): string {
  const parts: unknown[] = [operation, model.id, [...model.versions].sort(), sortKeys(request)];
  if (liveVersion !== undefined) parts.push(liveVersion);
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

/** How long a looked-up endpoint version is used before it is looked up again. */
export const ENDPOINT_VERSION_TTL_MS = 60_000;
/**
 * How long a failed lookup's error answers for the endpoint before it is asked again. DescribeEndpoint is a
 * control-plane call with a low request rate: during its outage or throttling, asking on every request would
 * add its wait to each and make the throttling worse.
 */
export const ENDPOINT_VERSION_RETRY_MS = 5_000;

/**
 * What each SageMaker endpoint serves now, by endpoint name, as `lookup` answers (its endpoint config name):
 * asked at most once per `ttlMs` per endpoint, and once at a time (callers during a lookup share it). A lookup
 * that fails answers its error for `retryMs`, then the next caller asks again. `clock` is in milliseconds.
 */
export class EndpointVersions {
  private readonly known = new Map<string, { readonly version: string; readonly at: number }>();
  private readonly failed = new Map<string, { readonly error: unknown; readonly at: number }>();
  private readonly pending = new Map<string, Promise<string>>();

  constructor(
    private readonly lookup: (endpointName: string) => Promise<string>,
    private readonly clock: () => number,
    private readonly ttlMs: number = ENDPOINT_VERSION_TTL_MS,
    private readonly retryMs: number = ENDPOINT_VERSION_RETRY_MS,
  ) {}

  get(endpointName: string): Promise<string> {
    const known = this.known.get(endpointName);
    if (known !== undefined && this.clock() - known.at < this.ttlMs) return Promise.resolve(known.version);
    const failed = this.failed.get(endpointName);
    if (failed !== undefined && this.clock() - failed.at < this.retryMs) return Promise.reject(failed.error);
    const pending = this.pending.get(endpointName);
    if (pending !== undefined) return pending;
    // Kept from when it was asked, so an answer is never used longer than ttlMs after SageMaker gave it.
    const at = this.clock();
    const lookup = Promise.resolve().then(() => this.lookup(endpointName));
    this.pending.set(endpointName, lookup);
    lookup
      .then(
        (version) => {
          this.known.set(endpointName, { version, at });
          this.failed.delete(endpointName);
        },
        (error: unknown) => void this.failed.set(endpointName, { error, at: this.clock() }),
      )
      .finally(() => this.pending.delete(endpointName));
    return lookup;
  }
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
