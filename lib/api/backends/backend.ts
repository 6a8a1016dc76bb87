import { ProblemCode } from '../contract';
import { ApiProblem } from '../problems';
import { ServedModel } from '../served-models';

/**
 * What every backend (SageMaker endpoint or inference component, Bedrock) takes and answers, so the routes
 * are written once. Backends throw ApiProblem only: each maps its service's exceptions in one table.
 */

/** One generation, with the schema defaults applied. */
export interface GenerationRequest {
  readonly prompt: string;
  /** Sent apart where the backend takes a system prompt (Converse), prepended to the prompt otherwise. */
  readonly system?: string;
  readonly maxNewTokens: number;
  /** 0 is greedy decoding. */
  readonly temperature: number;
  /** Used only when sampling (temperature > 0). */
  readonly topP: number;
  readonly stop?: readonly string[];
}

export type FinishReason = 'stop' | 'length' | 'content-filter' | 'unknown';

export interface Usage {
  readonly inputTokens?: number;
  readonly outputTokens?: number;
}

export interface Generation {
  readonly text: string;
  readonly finishReason: FinishReason;
  readonly usage?: Usage;
  /** The model version that answered (model package ARN, Bedrock model ARN or A/B variant). */
  readonly version?: string;
}

export type StreamEvent =
  | { readonly kind: 'token'; readonly text: string }
  | { readonly kind: 'done'; readonly finishReason: FinishReason; readonly usage?: Usage; readonly version?: string };

export interface Backend {
  generate(model: ServedModel, request: GenerationRequest, signal: AbortSignal): Promise<Generation>;
  /** Tokens as they come, then one `done`; throws ApiProblem at any point. */
  stream(model: ServedModel, request: GenerationRequest, signal: AbortSignal): AsyncIterable<StreamEvent>;
}

/**
 * SDK client settings: the SDK retries once (maxAttempts 2) and the API never retries on top of it, so a
 * throttled call reaches the caller quickly with Retry-After. The handler's abort timer bounds each call;
 * `requestTimeout` (socket idle time, the same length) also frees a socket the abort could not reach.
 */
export interface ClientSettings {
  readonly region: string;
  readonly maxAttempts: number;
  readonly requestHandler: { readonly requestTimeout: number; readonly connectionTimeout: number };
}

export function clientSettings(region: string, modelTimeoutMs: number): ClientSettings {
  return { region, maxAttempts: 2, requestHandler: { requestTimeout: modelTimeoutMs, connectionTimeout: Math.min(3000, modelTimeoutMs) } };
}

/** How one AWS exception name maps to a problem code (a function where the exception's fields decide). */
export type ErrorTable = Readonly<Record<string, ProblemCode | ((error: Record<string, unknown>) => ProblemCode)>>;

const DETAILS: Partial<Record<ProblemCode, (service: string, model: string) => string>> = {
  'rejected-by-model': (s, m) => `${s} refused the input for model '${m}', e.g. more tokens than its context holds; shorten the input or maxNewTokens.`,
  'model-throttled': (s, m) => `${s} throttled the call to model '${m}': it is at capacity.`,
  'model-not-ready': (s, m) => `Model '${m}' is not ready on ${s} (scaling from zero, updating or not in service yet).`,
  'model-timeout': (s, m) => `Model '${m}' on ${s} did not answer in time; a smaller maxNewTokens or the streaming route may help.`,
  'model-error': (s, m) => `Model '${m}' failed on ${s}.`,
  internal: () => 'The API could not call the model; the request id is in instance.',
};

/**
 * The problem for `error` thrown by `service`'s SDK: an ApiProblem passes through; an abort or socket timeout
 * is model-timeout; a name in `table` is its code; anything else is internal. `detail` never carries the AWS
 * message (it may name accounts or ARNs); the error stays on `cause` for the log.
 */
export function mapBackendError(error: unknown, table: ErrorTable, service: string, model: ServedModel): ApiProblem {
  if (error instanceof ApiProblem) return error;
  const e = (error ?? {}) as Record<string, unknown>;
  const name = typeof e.name === 'string' ? e.name : '';
  const entry = table[name];
  let code: ProblemCode;
  if (entry !== undefined) code = typeof entry === 'function' ? entry(e) : entry;
  else if (name === 'AbortError' || name === 'TimeoutError') code = 'model-timeout';
  else code = 'internal';
  return new ApiProblem(code, (DETAILS[code] ?? DETAILS.internal!)(service, model.id), undefined, { cause: error });
}

/** The problem for a response that is not one of the shapes the backend documents. */
export function unreadableAnswer(service: string, model: ServedModel, what: string): ApiProblem {
  return new ApiProblem('model-error', `Model '${model.id}' on ${service} answered in a shape the API cannot read (${what}).`);
}
