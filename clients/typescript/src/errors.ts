import type { FieldError, Problem } from './types';

/** The prefix of every problem type URI of the API (api/problems.json): `urn:fmft:problem:<code>`. */
export const PROBLEM_TYPE_PREFIX = 'urn:fmft:problem:';

/**
 * The API answered with an error: a problem document (RFC 9457), or, where something in front of the API
 * answered instead (a proxy's 502 page), a status without one; then `code` is undefined and `problem` too.
 */
export class ApiError extends Error {
  /** The problem's code, the end of its type URN (`model-throttled`); undefined when the answer was no problem document. */
  readonly code: string | undefined;
  /** The problem's status (for a stream's `error` event, the problem's, not the 200 the stream began with). */
  readonly status: number;
  readonly title: string;
  readonly detail: string | undefined;
  /** The request id, to quote when reporting the error. */
  readonly instance: string | undefined;
  /** Whether the same request can succeed later, and so whether the client retries it (api/vectors/README.md). */
  readonly retryable: boolean;
  /** How long the API asks to wait before a retry, from the problem document. */
  readonly retryAfterSeconds: number | undefined;
  /** For `invalid-request`: each field the request got wrong, as a JSON Pointer, and why. */
  readonly errors: readonly FieldError[];
  /** The problem document as received; undefined when the answer was none. */
  readonly problem: Problem | undefined;
  /** The Retry-After header of the response, as received. */
  readonly retryAfterHeader: string | undefined;

  constructor(init: { status: number; problem?: Problem; retryAfterHeader?: string; body?: string }) {
    const { problem, status } = init;
    const code = problem ? codeOf(problem.type) : undefined;
    const title = problem?.title ?? `HTTP ${status}`;
    super(problem ? `${code} (${problem.status}): ${problem.detail ?? problem.title}` : `HTTP ${status} without a problem document${init.body ? `: ${init.body.slice(0, 200)}` : ''}`);
    this.name = 'ApiError';
    this.code = code;
    this.status = problem?.status ?? status;
    this.title = title;
    this.detail = problem?.detail;
    this.instance = problem?.instance;
    // A 502, 503 or 504 that is not a problem document is a proxy's page: the API behind it may answer a retry.
    this.retryable = problem ? problem.retryable === true : [502, 503, 504].includes(status);
    this.retryAfterSeconds = problem?.retryAfterSeconds;
    this.errors = problem?.errors ?? [];
    this.problem = problem;
    this.retryAfterHeader = init.retryAfterHeader;
  }
}

/** A generate-stream that failed after its first event: the problem of its `error` event, and the tokens that came before. */
export class StreamError extends ApiError {
  /** The tokens received before the error, in order. */
  readonly tokens: readonly string[];

  constructor(problem: Problem, tokens: readonly string[]) {
    super({ status: problem.status, problem });
    this.name = 'StreamError';
    this.tokens = [...tokens];
  }
}

/**
 * No answer could be read: the connection failed or closed, or the answer is not HTTP the API sends.
 * `retryable` is true where nothing of an answer had arrived (so the request cannot have been half-answered).
 */
export class TransportError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TransportError';
  }
}

/** The code of a problem type URI: `urn:fmft:problem:model-timeout` -> `model-timeout`; another URI stays whole. */
export function codeOf(type: string): string {
  return type.startsWith(PROBLEM_TYPE_PREFIX) ? type.slice(PROBLEM_TYPE_PREFIX.length) : type;
}

/** `value` as a problem document, or undefined when it is not one (RFC 9457 requires no more than this to read it). */
export function asProblem(value: unknown): Problem | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.type !== 'string' || typeof v.status !== 'number') return undefined;
  return {
    ...(v as Partial<Problem>),
    type: v.type,
    status: v.status,
    title: typeof v.title === 'string' ? v.title : '',
    retryable: v.retryable === true,
  } as Problem;
}
