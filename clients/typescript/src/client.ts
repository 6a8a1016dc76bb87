import { ApiError, asProblem, StreamError, TransportError } from './errors';
import { DEFAULT_RETRY, RetryOptions, RetryPolicy, retryOptionProblems, retryWait } from './retry';
import { AwsCredentials, RequestSigner } from './sigv4';
import { EventStreamReader, ServerSentEvent } from './sse';
import type {
  AnswerRequest,
  AnswerResponse,
  ClassifyRequest,
  ClassifyResponse,
  GenerateRequest,
  GenerateResponse,
  ModelId,
  ModelList,
  StreamDone,
  StreamToken,
  SummarizeRequest,
  SummarizeResponse,
} from './types';

/** This package's version (package.json; a test keeps them equal), sent in the User-Agent. */
export const VERSION = '0.1.0';

export interface InferenceClientOptions {
  /** The stage URL, e.g. the stack output ApiUrl `https://abcdef1234.execute-api.us-east-1.amazonaws.com/v1/`. */
  readonly baseUrl: string | URL;
  /** An API key of a usage plan, sent as `x-api-key`. Give it, `credentials`, or both (api.authentication `iam-and-api-key`). */
  readonly apiKey?: string;
  /** AWS credentials, or a provider of them, to sign every attempt with SigV4 (service execute-api); needs `region`. */
  readonly credentials?: AwsCredentials;
  /** The API's region, for SigV4. */
  readonly region?: string;
  /** The retry policy of api/vectors/README.md. @default { maxAttempts: 3, baseDelaySeconds: 0.5, maxDelaySeconds: 8, maxWaitSeconds: 30, jitter: 'full' } */
  readonly retry?: RetryOptions;
  /** Waits between attempts. @default a timer */
  readonly sleep?: (seconds: number) => Promise<void>;
  /** The jitter's random factor, uniform in [0, 1). @default Math.random */
  readonly random?: () => number;
  /** The fetch to send with. @default globalThis.fetch (Node 20+) */
  readonly fetch?: typeof fetch;
  /** The User-Agent header. @default `fmft-inference-client/<version> node/<version>` */
  readonly userAgent?: string;
}

/** The whole of a generate-stream once it has ended. */
export interface StreamResult {
  readonly tokens: readonly string[];
  /** The tokens joined. */
  readonly text: string;
  readonly done: StreamDone;
}

const defaultSleep = (seconds: number) => new Promise<void>((resolve) => setTimeout(resolve, seconds * 1000));

/**
 * A client of the inference API (api/openapi.json): one method per operation, typed from the document,
 * with the shared retry policy, typed errors and API key or SigV4 authentication.
 *
 * Every method throws `ApiError` for an error answer (the problem document, with `code`, `status`,
 * `retryable`...), `TransportError` when no answer could be read, and retries what the policy retries first.
 */
export class InferenceClient {
  private readonly baseUrl: URL;
  private readonly apiKey?: string;
  private readonly signer?: RequestSigner;
  private readonly retry: RetryPolicy;
  private readonly sleep: (seconds: number) => Promise<void>;
  private readonly random: () => number;
  private readonly fetchImpl: typeof fetch;
  private readonly userAgent: string;

  constructor(options: InferenceClientOptions) {
    const problems: string[] = [];
    let baseUrl: URL | undefined;
    try {
      baseUrl = new URL(String(options.baseUrl));
      if (baseUrl.protocol !== 'https:' && baseUrl.protocol !== 'http:') problems.push(`baseUrl must be an http(s) URL, got ${baseUrl.protocol}`);
    } catch {
      problems.push(`baseUrl must be a URL, got ${JSON.stringify(String(options.baseUrl))}`);
    }
    if (options.apiKey === undefined && options.credentials === undefined) problems.push('give apiKey, credentials (with region) or both: the API refuses a request without either');
    if (options.apiKey !== undefined && !options.apiKey) problems.push('apiKey must not be empty');
    if (options.credentials !== undefined && !options.region) problems.push('credentials need region, the region of the API, to sign with SigV4');
    problems.push(...retryOptionProblems(options.retry ?? {}));
    const fetchImpl = options.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== 'function') problems.push('no fetch: use Node 20 or later, or pass options.fetch');
    if (problems.length) throw new Error(`Invalid InferenceClient options:\n- ${problems.join('\n- ')}`);

    // The base keeps its path (the stage) for relative resolution: `models` under `/v1/`, not in place of `v1`.
    if (!baseUrl!.pathname.endsWith('/')) baseUrl!.pathname += '/';
    this.baseUrl = baseUrl!;
    this.apiKey = options.apiKey;
    this.signer = options.credentials ? new RequestSigner(options.credentials, options.region!) : undefined;
    this.retry = { ...DEFAULT_RETRY, ...definedOnly(options.retry ?? {}) };
    this.sleep = options.sleep ?? defaultSleep;
    this.random = options.random ?? Math.random;
    this.fetchImpl = fetchImpl;
    this.userAgent = options.userAgent ?? `fmft-inference-client/${VERSION} node/${process.versions.node}`;
  }

  /** `GET /models`: the models this environment serves. */
  listModels(): Promise<ModelList> {
    return this.call('GET', 'models');
  }

  /** `POST /models/{model}/generate`: text generated from a prompt. */
  generate(model: ModelId, body: GenerateRequest): Promise<GenerateResponse> {
    return this.call('POST', modelPath(model, 'generate'), body);
  }

  /**
   * `POST /models/{model}/generate-stream`: resolves once the first event has arrived, to a `TokenStream` to
   * iterate for the tokens. Errors before that (a problem answer, a broken connection) are retried by the
   * policy and then thrown here; an `error` event after it is thrown by the iteration as a `StreamError`,
   * never retried (tokens have been delivered).
   */
  generateStream(model: ModelId, body: GenerateRequest): Promise<TokenStream> {
    const path = modelPath(model, 'generate-stream');
    return this.withRetries(async () => {
      const response = await this.send('POST', path, body, 'text/event-stream');
      if (!response.ok) throw await errorOf(response);
      const contentType = response.headers.get('content-type') ?? '';
      if (!contentType.startsWith('text/event-stream') || !response.body) {
        await response.body?.cancel().catch(() => undefined);
        throw new TransportError(`generate-stream answered ${response.status} with content type '${contentType}', not text/event-stream`, false);
      }
      const reader = new EventStreamReader(response.body.getReader());
      let first: ServerSentEvent | undefined;
      try {
        first = await reader.next();
      } catch (cause) {
        throw new TransportError(`generate-stream broke before its first event: ${describe(cause)}`, true, { cause });
      }
      if (first === undefined) throw new TransportError('generate-stream ended before its first event', true);
      return new TokenStream(reader, first);
    });
  }

  /** `POST /models/{model}/classify`: one of the given labels. */
  classify(model: ModelId, body: ClassifyRequest): Promise<ClassifyResponse> {
    return this.call('POST', modelPath(model, 'classify'), body);
  }

  /** `POST /models/{model}/summarize`: a summary of the document. */
  summarize(model: ModelId, body: SummarizeRequest): Promise<SummarizeResponse> {
    return this.call('POST', modelPath(model, 'summarize'), body);
  }

  /** `POST /models/{model}/answer`: the answer to a question about a context. */
  answer(model: ModelId, body: AnswerRequest): Promise<AnswerResponse> {
    return this.call('POST', modelPath(model, 'answer'), body);
  }

  /** A buffered operation: the JSON of its 200, with retries. */
  private call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    return this.withRetries(async () => {
      const response = await this.send(method, path, body, 'application/json');
      if (!response.ok) throw await errorOf(response);
      let text: string;
      try {
        text = await response.text();
      } catch (cause) {
        // Part of an answer has arrived: the request may have been served, so this is not retried.
        throw new TransportError(`${method} ${path}: the answer broke off: ${describe(cause)}`, false, { cause });
      }
      try {
        return JSON.parse(text) as T;
      } catch (cause) {
        throw new TransportError(`${method} ${path}: the answer is not JSON: ${text.slice(0, 200)}`, false, { cause });
      }
    });
  }

  /** Runs `attempt` until it succeeds or the policy stops; the waits go through `sleep`. */
  private async withRetries<T>(attempt: () => Promise<T>): Promise<T> {
    for (let attempts = 1; ; attempts++) {
      try {
        return await attempt();
      } catch (error) {
        const wait = retryWait(error, attempts, this.retry, this.random, Date.now());
        if (wait === undefined) throw error;
        await this.sleep(wait);
      }
    }
  }

  /** One HTTP request, signed anew when SigV4 is on; a failure before any answer is a retryable TransportError. */
  private async send(method: 'GET' | 'POST', path: string, body: unknown, accept: string): Promise<Response> {
    const url = new URL(path, this.baseUrl);
    const text = body === undefined ? undefined : JSON.stringify(body);
    let headers: Record<string, string> = {
      accept,
      'user-agent': this.userAgent,
      ...(text === undefined ? {} : { 'content-type': 'application/json' }),
      ...(this.apiKey === undefined ? {} : { 'x-api-key': this.apiKey }),
    };
    if (this.signer) headers = await this.signer.sign(method, url, headers, text);
    try {
      return await this.fetchImpl(url, { method, headers, ...(text === undefined ? {} : { body: text }) });
    } catch (cause) {
      throw new TransportError(`${method} ${url.pathname} failed before any answer: ${describe(cause)}`, true, { cause });
    }
  }
}

/**
 * The tokens of a generate-stream, as they arrive: iterate it once with `for await`. The iteration ends after
 * the `done` event, whose data `done` then resolves to; an `error` event is thrown as a `StreamError` holding
 * the tokens received, a connection that breaks as a `TransportError` (and `done` rejects with the same).
 * Leaving the loop early closes the connection. It is read once: by one loop, or by `collect()`.
 */
export class TokenStream implements AsyncIterable<string> {
  /** The tokens received so far, in order. */
  readonly tokens: string[] = [];
  /**
   * The `done` event's data, once the iteration has reached it; rejects with the error the iteration throws.
   * It settles only as the stream is read (iterate it, or call `collect()`); an unawaited rejection is ignored.
   */
  readonly done: Promise<StreamDone>;
  private resolveDone!: (done: StreamDone) => void;
  private rejectDone!: (error: Error) => void;
  private pending: ServerSentEvent | undefined;
  private finished = false;
  private iterated = false;

  /** @internal Made by `InferenceClient.generateStream` with the first event already read. */
  constructor(
    private readonly reader: EventStreamReader,
    first: ServerSentEvent,
  ) {
    this.pending = first;
    this.done = new Promise<StreamDone>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    this.done.catch(() => undefined);
  }

  [Symbol.asyncIterator](): AsyncIterator<string> {
    if (this.iterated) throw new Error('A TokenStream is read once: by one for-await loop, or by collect()');
    this.iterated = true;
    return {
      next: () => this.nextToken(),
      return: async () => {
        if (!this.finished) this.fail(new TransportError(`the stream was closed by its reader after ${this.tokens.length} tokens, before its done event`, false));
        await this.reader.cancel();
        return { done: true, value: undefined };
      },
    };
  }

  /** Reads the rest of the stream and returns all its tokens, their text and the `done` data. Throws as the iteration does. */
  async collect(): Promise<StreamResult> {
    this.iterated = true;
    while (!(await this.nextToken()).done);
    const done = await this.done;
    return { tokens: [...this.tokens], text: this.tokens.join(''), done };
  }

  private async nextToken(): Promise<IteratorResult<string>> {
    while (!this.finished) {
      let event: ServerSentEvent | undefined;
      try {
        event = this.pending ?? (await this.reader.next());
        this.pending = undefined;
      } catch (cause) {
        throw this.fail(new TransportError(`generate-stream broke after ${this.tokens.length} tokens: ${describe(cause)}`, false, { cause }));
      }
      if (event === undefined) throw this.fail(new TransportError(`generate-stream ended after ${this.tokens.length} tokens without a done or error event`, false));
      if (event.event === 'token') {
        const { text } = this.data<StreamToken>(event);
        this.tokens.push(text);
        return { done: false, value: text };
      }
      if (event.event === 'done') {
        const done = this.data<StreamDone>(event);
        this.finished = true;
        // The done event is the last. Cancelling frees the connection (kept for reuse when the body has ended).
        await this.reader.cancel();
        this.resolveDone(done);
        return { done: true, value: undefined };
      }
      if (event.event === 'error') {
        const problem = asProblem(this.data<unknown>(event));
        if (!problem) throw this.fail(new TransportError(`generate-stream sent an error event that is no problem document: ${event.data.slice(0, 200)}`, false));
        await this.reader.cancel();
        throw this.fail(new StreamError(problem, this.tokens));
      }
      // Events of other names are not the API's (api/openapi.json x-event-data): skipped, as the format allows.
    }
    return { done: true, value: undefined };
  }

  private data<T>(event: ServerSentEvent): T {
    try {
      return JSON.parse(event.data) as T;
    } catch (cause) {
      throw this.fail(new TransportError(`generate-stream sent a ${event.event} event whose data is not JSON: ${event.data.slice(0, 200)}`, false, { cause }));
    }
  }

  private fail<E extends Error>(error: E): E {
    this.finished = true;
    this.rejectDone(error);
    return error;
  }
}

/** The ApiError of a non-2xx answer: its problem document if it is one, else its status alone. */
async function errorOf(response: Response): Promise<ApiError> {
  const retryAfterHeader = response.headers.get('retry-after') ?? undefined;
  let body = '';
  try {
    body = await response.text();
  } catch {
    // The status line is what is known; the error stays an ApiError of that status.
  }
  let problem;
  if (/json/i.test(response.headers.get('content-type') ?? '')) {
    try {
      problem = asProblem(JSON.parse(body));
    } catch {
      problem = undefined;
    }
  }
  return new ApiError({ status: response.status, ...(problem ? { problem } : { body }), ...(retryAfterHeader === undefined ? {} : { retryAfterHeader }) });
}

function modelPath(model: ModelId, operation: string): string {
  return `models/${encodeURIComponent(model)}/${operation}`;
}

/** fetch's TypeError says only "fetch failed"; the reason is in its cause. */
function describe(error: unknown): string {
  const e = error as { message?: unknown; cause?: { message?: unknown; code?: unknown } };
  const cause = e?.cause ? ` (${[e.cause.code, e.cause.message].filter(Boolean).join(': ')})` : '';
  return `${String(e?.message ?? error)}${cause}`;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
