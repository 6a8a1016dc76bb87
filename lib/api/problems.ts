import { PROBLEM_TYPE_PREFIX, PROBLEM_TYPES, ProblemCode } from './contract';

/**
 * RFC 9457 problem documents built from api/problems.json: status, title, whether a retry can succeed and
 * after how long come from the table, so the handler, the API Gateway responses and the docs cannot disagree.
 */

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** A field the request got wrong: a JSON Pointer into the body (`/parameters/maxNewTokens`) or a parameter name. */
export interface FieldError {
  readonly field: string;
  readonly message: string;
}

/** The Problem schema of api/openapi.json. */
export interface ProblemDocument {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly instance?: string;
  readonly retryable: boolean;
  readonly retryAfterSeconds?: number;
  readonly errors?: readonly FieldError[];
}

/**
 * An error the API answers with a problem document. `cause` keeps the original error (an AWS exception) for
 * the log only; it never reaches the response, whose `detail` is written here and leaks no AWS message.
 */
export class ApiProblem extends Error {
  constructor(
    readonly code: ProblemCode,
    readonly detail: string,
    readonly errors?: readonly FieldError[],
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${detail}`, options);
    this.name = 'ApiProblem';
  }

  get status(): number {
    return PROBLEM_TYPES[this.code].status;
  }
}

export function problemDocument(problem: ApiProblem, instance: string | undefined): ProblemDocument {
  const type = PROBLEM_TYPES[problem.code];
  return {
    type: PROBLEM_TYPE_PREFIX + problem.code,
    title: type.title,
    status: type.status,
    detail: problem.detail,
    ...(instance ? { instance } : {}),
    retryable: type.retryable,
    ...(type.retryAfterSeconds !== undefined ? { retryAfterSeconds: type.retryAfterSeconds } : {}),
    ...(problem.errors?.length ? { errors: problem.errors } : {}),
  };
}

/** Content-Type, plus Retry-After (RFC 9110 10.2.3) equal to retryAfterSeconds where the type defines one. */
export function problemHeaders(document: ProblemDocument): Record<string, string> {
  return document.retryAfterSeconds === undefined
    ? { 'Content-Type': PROBLEM_CONTENT_TYPE }
    : { 'Content-Type': PROBLEM_CONTENT_TYPE, 'Retry-After': String(document.retryAfterSeconds) };
}

/** `text` cut to `limit` characters with an ellipsis, for quoting user or model text in a detail. */
export function truncate(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}
