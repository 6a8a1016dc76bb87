import { ApiError, TransportError } from './errors';

/**
 * The retry policy every client of the API implements, word for word from api/vectors/README.md:
 *
 * - retry a problem whose `retryable` is true, a connection that fails before any answer, and a 502, 503 or
 *   504 that is not a problem document; nothing else;
 * - before attempt n + 1, wait max(backoff, retryAfter): backoff = min(maxDelay, base * 2^(n-1)) * jitter
 *   (full jitter: uniform in [0, 1); `none`: 1), retryAfter = the Retry-After header (seconds or HTTP date),
 *   else the problem's retryAfterSeconds, else 0;
 * - a wait longer than maxWaitSeconds is not waited: the error is raised as it is;
 * - at most maxAttempts attempts in all; the last error is raised.
 */
export interface RetryOptions {
  /** Attempts in all, the first included; 1 turns retries off. @default 3 */
  readonly maxAttempts?: number;
  /** The backoff before the second attempt; it doubles per attempt. @default 0.5 */
  readonly baseDelaySeconds?: number;
  /** The backoff never exceeds this (before jitter). @default 8 */
  readonly maxDelaySeconds?: number;
  /** A wait longer than this is not waited: the error is raised instead (a used-up quota asks for an hour). @default 30 */
  readonly maxWaitSeconds?: number;
  /** `full`: the backoff times a uniform random factor in [0, 1); `none`: the backoff itself (tests). @default 'full' */
  readonly jitter?: 'full' | 'none';
}

export type RetryPolicy = Required<RetryOptions>;

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 3, baseDelaySeconds: 0.5, maxDelaySeconds: 8, maxWaitSeconds: 30, jitter: 'full' };

/** The problems of `options`, each naming the option; empty when they are valid. */
export function retryOptionProblems(options: RetryOptions): string[] {
  const problems: string[] = [];
  const { maxAttempts, baseDelaySeconds, maxDelaySeconds, maxWaitSeconds, jitter } = options;
  if (maxAttempts !== undefined && !(Number.isInteger(maxAttempts) && maxAttempts >= 1)) problems.push(`retry.maxAttempts must be a whole number >= 1, got ${maxAttempts}`);
  for (const [name, value] of Object.entries({ baseDelaySeconds, maxDelaySeconds, maxWaitSeconds })) {
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) problems.push(`retry.${name} must be a number of seconds >= 0, got ${value}`);
  }
  if (jitter !== undefined && jitter !== 'full' && jitter !== 'none') problems.push(`retry.jitter must be 'full' or 'none', got ${String(jitter)}`);
  return problems;
}

/**
 * The seconds a Retry-After header asks for: delay-seconds, or an HTTP date (RFC 9110 10.2.3) less `nowMs`,
 * at least 0; undefined when there is no header or it is neither.
 */
export function parseRetryAfter(header: string | null | undefined, nowMs: number): number | undefined {
  if (header === null || header === undefined) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value);
  // The three HTTP date formats (IMF-fixdate, RFC 850, asctime) all start with the day's name; Date.parse
  // alone would also take '3' or '-3' as years.
  if (!/^[A-Za-z]{3}/.test(value)) return undefined;
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, (date - nowMs) / 1000);
}

/** Whether the policy retries `error` at all (before counting attempts or waits). */
export function isRetryable(error: unknown): error is ApiError | TransportError {
  return (error instanceof ApiError || error instanceof TransportError) && error.retryable;
}

/**
 * The seconds to wait before attempt `attempts + 1` after `error` ended attempt `attempts`, or undefined when
 * the policy does not retry: the error is not retryable, the attempts are used up, or the wait exceeds maxWaitSeconds.
 */
export function retryWait(error: unknown, attempts: number, policy: RetryPolicy, random: () => number, nowMs: number): number | undefined {
  if (!isRetryable(error) || attempts >= policy.maxAttempts) return undefined;
  const jitter = policy.jitter === 'none' ? 1 : random();
  const backoff = Math.min(policy.maxDelaySeconds, policy.baseDelaySeconds * 2 ** (attempts - 1)) * jitter;
  const retryAfter = error instanceof ApiError ? (parseRetryAfter(error.retryAfterHeader, nowMs) ?? error.retryAfterSeconds ?? 0) : 0;
  const wait = Math.max(backoff, retryAfter);
  return wait > policy.maxWaitSeconds ? undefined : wait;
}
