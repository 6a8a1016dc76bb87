import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import type { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { Backend, clientSettings, Generation, GenerationRequest, StreamEvent } from './backends/backend';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { cacheKey, EndpointVersions, ResponseCache } from './cache';
import { ApiConfig, configFromEnvironment } from './config';
import { DEFAULTS, OperationId, routeKey, ROUTES, TaskOperationId } from './contract';
import { emfLine, NO_MODEL, NO_ROUTE } from './metrics';
import { ApiProblem, problemDocument, problemHeaders, truncate } from './problems';
import { ServedModel } from './served-models';
import { endStream, ResponseStream, SSE_HEADERS, sseEvent, streamifyResponse, writePrelude } from './stream';
import { classifyMaxNewTokens, parseLabel, taskPrompt, unparseableAnswer } from './tasks';
import { invalidRequest, parseBody, schemaErrors, schemaValidator } from './validate';

/**
 * The inference API's Lambda: one function behind every route of api/openapi.json, with two entry points:
 * `handler` for API Gateway's buffered REST proxy integration and `streamHandler` for its streaming one
 * (generate-stream). Either answers any route; only the streaming one sends tokens as they come.
 *
 * A request is checked completely (route, model id, served model, body size, JSON, schema) before any model
 * is called; every error is a problem document of api/problems.json; every request writes one EMF line.
 */

/** The fields of API Gateway's REST proxy event (payload format 1.0) that the handler reads. */
export interface ProxyEvent {
  readonly resource?: string;
  readonly path?: string;
  readonly httpMethod?: string;
  readonly pathParameters?: Readonly<Record<string, string | undefined>> | null;
  readonly body?: string | null;
  readonly isBase64Encoded?: boolean;
  readonly requestContext?: { readonly requestId?: string; readonly identity?: { readonly apiKeyId?: string | null } };
}

export interface ProxyResult {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** What the API runs with; everything but `config` has a production default. */
export interface ApiDependencies {
  readonly config: ApiConfig;
  /** Backends to use instead of the SDK-backed ones (tests, the benchmark). */
  readonly backends?: { readonly sagemaker?: Backend; readonly bedrock?: Backend };
  /**
   * SDK clients for the default backends, the DynamoDB cache and the cache's endpoint lookups (`sagemakerApi`,
   * SageMaker's control plane). @default clients of config.region with `clientSettings` (backends/backend.ts), and
   * short timeouts for the cache's (cache-dynamodb.ts, endpoint-config.ts)
   */
  readonly clients?: {
    readonly sagemaker?: SageMakerRuntimeClient;
    readonly bedrock?: BedrockRuntimeClient;
    readonly dynamodb?: DynamoDBClient;
    readonly sagemakerApi?: SageMakerClient;
  };
  /** The answer cache to use instead of the DynamoDB table of `config.cache` (tests, the benchmark). */
  readonly cache?: ResponseCache;
  /** Receives each EMF line. @default one write of the line and a newline to stdout, which Lambda sends to CloudWatch Logs */
  readonly writeMetrics?: (line: string) => void;
  /** Receives each 5xx with its cause. @default console.error of the entry as JSON */
  readonly logError?: (entry: Record<string, unknown>) => void;
  /** Milliseconds for durations. @default performance.now */
  readonly now?: () => number;
  /** Milliseconds by which a looked-up endpoint config name expires (ENDPOINT_VERSION_TTL_MS). @default performance.now */
  readonly clock?: () => number;
}

// Request bodies after schema validation (api/openapi.json components.schemas).
interface GenerateBody {
  readonly prompt: string;
  readonly system?: string;
  readonly parameters?: { readonly maxNewTokens?: number; readonly temperature?: number; readonly topP?: number; readonly stop?: readonly string[] };
  readonly cache?: boolean;
}
interface ClassifyBody {
  readonly text: string;
  readonly labels: readonly string[];
}
interface SummarizeBody {
  readonly document: string;
  readonly maxNewTokens?: number;
}
interface AnswerBody {
  readonly question: string;
  readonly context: string;
  readonly maxNewTokens?: number;
}

/** One request's bookkeeping for the metrics line and the log. */
interface RequestContext {
  readonly requestId: string;
  readonly apiKeyId?: string;
  route: string;
  model: string;
  modelMs?: number;
  cache?: 'hit' | 'miss' | 'error';
}

/** What a cacheable request's key is made of (all but the live version, which is looked up only when a cache is asked). */
interface Cacheable {
  readonly operation: OperationId;
  readonly model: ServedModel;
  readonly request: unknown;
}

/** The outcome of the checks: a response to compute, or a stream to run. */
type Plan =
  | { readonly kind: 'respond'; readonly respond: () => Promise<ProxyResult> }
  | { readonly kind: 'stream'; readonly model: ServedModel; readonly request: GenerationRequest };

/** Where a stream goes: the Lambda response stream, or a string for the buffered integration. */
interface StreamSink {
  start(statusCode: number, headers: Readonly<Record<string, string>>): void;
  write(text: string): void;
}

const JSON_HEADERS: Readonly<Record<string, string>> = { 'Content-Type': 'application/json' };
/** Longest wait for the cache before the request goes on to the model (a DynamoDB read takes milliseconds). */
const CACHE_TIMEOUT_MS = 500;
const ROUTE_LIST = [...ROUTES.values()].map((r) => `${r.method} ${r.resource}`).join(', ');

// Each backend module, and with it its AWS SDK client, is evaluated on first use (esbuild keeps a module reached
// by require() lazy in the bundle): evaluating a client adds tens of milliseconds to a cold start
// (bench/api-handler-overhead.ts), and an environment without Bedrock models never needs Bedrock's.
/* eslint-disable @typescript-eslint/no-require-imports */
const loadSageMaker = () => require('./backends/sagemaker') as typeof import('./backends/sagemaker');
const loadBedrock = () => require('./backends/bedrock') as typeof import('./backends/bedrock');
const loadCache = () => require('./cache-dynamodb') as typeof import('./cache-dynamodb');
const loadEndpointConfig = () => require('./endpoint-config') as typeof import('./endpoint-config');
/* eslint-enable @typescript-eslint/no-require-imports */

function json(statusCode: number, value: unknown): ProxyResult {
  return { statusCode, headers: JSON_HEADERS, body: JSON.stringify(value) };
}

/** Settles as `promise`, or rejects with `problem()` as soon as `signal` aborts, whether or not the SDK honours it. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal, problem: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(problem());
    if (signal.aborted) return abort();
    signal.addEventListener('abort', abort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', abort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', abort);
        reject(error);
      },
    );
  });
}

export class InferenceApi {
  private readonly config: ApiConfig;
  private readonly models: ReadonlyMap<string, ServedModel>;
  private readonly modelListBody: string;
  private readonly writeMetrics: (line: string) => void;
  private readonly logError: (entry: Record<string, unknown>) => void;
  private readonly now: () => number;
  private sagemaker?: Backend;
  private bedrock?: Backend;
  private responseCache?: ResponseCache | null;
  private endpointVersions?: EndpointVersions;

  constructor(private readonly deps: ApiDependencies) {
    this.config = deps.config;
    this.models = new Map(deps.config.models.map((m) => [m.id, m]));
    // The ModelList schema: what is served, not where (no endpoint names or ARNs beyond the versions).
    this.modelListBody = JSON.stringify({ models: deps.config.models.map((m) => ({ id: m.id, backend: m.backend, versions: [...m.versions], streaming: m.streaming })) });
    this.writeMetrics = deps.writeMetrics ?? ((line) => process.stdout.write(`${line}\n`));
    this.logError = deps.logError ?? ((entry) => console.error(JSON.stringify(entry)));
    this.now = deps.now ?? (() => performance.now());
  }

  /** The buffered integration: the whole response at once (generate-stream's events as one body). */
  async handle(event: ProxyEvent): Promise<ProxyResult> {
    const started = this.now();
    const ctx = this.context(event);
    let result: ProxyResult;
    let problem: ApiProblem | undefined;
    try {
      const plan = this.prepare(event, ctx);
      if (plan.kind === 'respond') result = await plan.respond();
      else {
        let statusCode = 200;
        let headers: Readonly<Record<string, string>> = SSE_HEADERS;
        let body = '';
        problem = await this.runStream(plan.model, plan.request, ctx, {
          start: (s, h) => {
            statusCode = s;
            headers = h;
          },
          write: (text) => {
            body += text;
          },
        });
        result = { statusCode, headers, body };
      }
    } catch (error) {
      problem = this.toProblem(error, ctx);
      result = this.problemResult(problem, ctx);
    }
    this.record(ctx, problem?.status ?? result.statusCode, problem, started);
    return result;
  }

  /** The streaming integration: the prelude, then the body as it is produced (tokens as they come). */
  async handleStream(event: ProxyEvent, stream: ResponseStream): Promise<void> {
    const started = this.now();
    const ctx = this.context(event);
    let status = 200;
    let problem: ApiProblem | undefined;
    try {
      const plan = this.prepare(event, ctx);
      if (plan.kind === 'respond') {
        const result = await plan.respond();
        writePrelude(stream, result.statusCode, result.headers);
        stream.write(result.body);
        status = result.statusCode;
      } else {
        problem = await this.runStream(plan.model, plan.request, ctx, {
          start: (s, h) => writePrelude(stream, s, h),
          write: (text) => stream.write(text),
        });
      }
    } catch (error) {
      problem = this.toProblem(error, ctx);
      const result = this.problemResult(problem, ctx);
      writePrelude(stream, result.statusCode, result.headers);
      stream.write(result.body);
    }
    await endStream(stream);
    // An error after the first token went out with status 200; the metrics count it by its problem's status.
    this.record(ctx, problem?.status ?? status, problem, started);
  }

  private context(event: ProxyEvent): RequestContext {
    const apiKeyId = event.requestContext?.identity?.apiKeyId ?? undefined;
    return { requestId: event.requestContext?.requestId ?? '', ...(apiKeyId ? { apiKeyId } : {}), route: NO_ROUTE, model: NO_MODEL };
  }

  /** Every check that needs no model, in order: route, model id, served model, streaming, body. */
  private prepare(event: ProxyEvent, ctx: RequestContext): Plan {
    const route = ROUTES.get(routeKey(event.httpMethod ?? '', event.resource ?? ''));
    if (!route) {
      const asked = `${event.httpMethod ?? '?'} ${truncate(event.resource ?? event.path ?? '?', 200)}`;
      throw new ApiProblem('not-found', `The API has no route ${asked}; routes: ${ROUTE_LIST}.`);
    }
    const operation: OperationId = route.operationId;
    ctx.route = operation;
    if (operation === 'listModels') return { kind: 'respond', respond: async () => ({ statusCode: 200, headers: JSON_HEADERS, body: this.modelListBody }) };
    const model = this.servedModel(event.pathParameters?.model);
    ctx.model = model.id;
    if (operation === 'generateStream' && !model.streaming) {
      throw new ApiProblem('invalid-request', `Model '${model.id}' is not served on generate-stream; use generate.`, [
        { field: 'model', message: `'${model.id}' does not stream; models that stream: ${this.streamingIds() || 'none'}` },
      ]);
    }
    const body = parseBody(event.body, event.isBase64Encoded, route.requestSchema!);
    switch (operation) {
      case 'generateStream':
        return { kind: 'stream', model, request: generationRequest(body as GenerateBody) };
      case 'generate': {
        const request = generationRequest(body as GenerateBody);
        // Only greedy decoding is deterministic; a caller may also ask for a fresh answer.
        const cacheable = request.temperature === 0 && (body as GenerateBody).cache !== false ? { operation, model, request } : undefined;
        return { kind: 'respond', respond: () => this.cached(cacheable, ctx, () => this.generate(model, body as GenerateBody, ctx)) };
      }
      default: {
        // The task routes decode greedily: the same request always has the same answer.
        const cacheable = { operation, model, request: taskRequest(operation, body as Record<string, unknown>) };
        return { kind: 'respond', respond: () => this.cached(cacheable, ctx, () => this.task(operation, model, body, ctx)) };
      }
    }
  }

  private servedModel(id: string | undefined): ServedModel {
    if (id === undefined) throw invalidRequest([{ field: 'model', message: 'is required: a model id of GET /models' }]);
    const errors = schemaErrors('ModelId', id);
    if (errors.length) throw invalidRequest(errors.map((e) => ({ field: 'model', message: e.message })));
    const model = this.models.get(id);
    if (!model) throw new ApiProblem('unknown-model', `No model '${id}' is served here; served: ${[...this.models.keys()].join(', ') || 'none'}.`);
    return model;
  }

  private streamingIds(): string {
    return this.config.models.filter((m) => m.streaming).map((m) => m.id).join(', ');
  }

  private async generate(model: ServedModel, body: GenerateBody, ctx: RequestContext): Promise<ProxyResult> {
    const generation = await this.callModel(model, generationRequest(body), ctx);
    return json(200, {
      model: model.id,
      ...(generation.version ? { version: generation.version } : {}),
      text: generation.text,
      finishReason: generation.finishReason,
      ...(generation.usage ? { usage: generation.usage } : {}),
      cached: false,
    });
  }

  /**
   * The answer from the cache, marked `cached`, or `compute()`'s, stored when it is a 200. The key's live version
   * (an A/B endpoint's config) is looked up first; that lookup and the read together get CACHE_TIMEOUT_MS. A
   * lookup or read that fails is a miss: the request goes on to the model and the failure is logged and counted;
   * without the live version the answer is not stored either, since it is not known which model gave it.
   */
  private async cached(cacheable: Cacheable | undefined, ctx: RequestContext, compute: () => Promise<ProxyResult>): Promise<ProxyResult> {
    const cache = cacheable === undefined ? undefined : this.cache();
    if (!cache || cacheable === undefined) return compute();
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), CACHE_TIMEOUT_MS);
    let key: string | undefined;
    let step: 'version' | 'get' = 'version';
    try {
      const liveVersion = await this.liveVersion(cacheable.model, controller.signal);
      key = cacheKey(cacheable.operation, cacheable.model, cacheable.request, liveVersion);
      step = 'get';
      const body = await raceAbort(cache.get(key, controller.signal), controller.signal, () => new Error(`cache lookup took over ${CACHE_TIMEOUT_MS} ms`));
      if (body !== undefined) {
        ctx.cache = 'hit';
        return { statusCode: 200, headers: JSON_HEADERS, body: JSON.stringify({ ...JSON.parse(body), cached: true }) };
      }
      ctx.cache = 'miss';
    } catch (error) {
      ctx.cache = 'error';
      this.logError({ level: 'WARN', requestId: ctx.requestId, route: ctx.route, model: ctx.model, cache: step, error: { name: (error as Error).name, message: (error as Error).message } });
    } finally {
      clearTimeout(timer);
    }
    const result = await compute();
    if (key !== undefined && result.statusCode === 200) {
      try {
        await cache.put(key, result.body);
      } catch (error) {
        this.logError({ level: 'WARN', requestId: ctx.requestId, route: ctx.route, model: ctx.model, cache: 'put', error: { name: (error as Error).name, message: (error as Error).message } });
      }
    }
    return result;
  }

  /**
   * The part of the key that says what the model's backend serves now, where that can change while the API's
   * configuration stays: an A/B endpoint's endpoint config name (endpoint-config.ts), looked up at most once per
   * ENDPOINT_VERSION_TTL_MS per endpoint. Undefined for the other backends: their configured versions say it.
   */
  private liveVersion(model: ServedModel, signal: AbortSignal): Promise<string | undefined> {
    if (model.backend !== 'sagemaker-endpoint' || model.endpointName === undefined) return Promise.resolve(undefined);
    this.endpointVersions ??= new EndpointVersions(
      loadEndpointConfig().endpointConfigLookup(this.config.region, this.deps.clients?.sagemakerApi),
      this.deps.clock ?? (() => performance.now()),
    );
    return raceAbort(this.endpointVersions.get(model.endpointName), signal, () => new Error(`endpoint config lookup took over ${CACHE_TIMEOUT_MS} ms`));
  }

  /** The answer cache: the injected one, else the DynamoDB table of the configuration, else none. */
  private cache(): ResponseCache | undefined {
    if (this.responseCache === undefined) {
      const settings = this.config.cache;
      this.responseCache =
        this.deps.cache ??
        (settings
          ? loadCache().dynamoDbResponseCache(settings.tableName, settings.ttlSeconds, this.config.region, this.deps.clients?.dynamodb)
          : null);
    }
    return this.responseCache ?? undefined;
  }

  /** The task routes: the training prompt, greedy decoding, and the answer read as the task allows. */
  private async task(operation: TaskOperationId, model: ServedModel, body: unknown, ctx: RequestContext): Promise<ProxyResult> {
    const fields = body as Record<string, unknown>;
    const prompt = taskPrompt(operation, fields);
    const greedy = { prompt, temperature: 0, topP: DEFAULTS.topP };
    const version = (g: Generation) => (g.version ? { version: g.version } : {});
    if (operation === 'classify') {
      const { labels } = body as ClassifyBody;
      const generation = await this.callModel(model, { ...greedy, maxNewTokens: classifyMaxNewTokens(labels) }, ctx);
      const label = parseLabel(generation.text, labels);
      if (label === undefined) throw unparseableAnswer(generation.text, labels);
      return json(200, { model: model.id, ...version(generation), label, text: generation.text, cached: false });
    }
    if (operation === 'summarize') {
      const maxNewTokens = (body as SummarizeBody).maxNewTokens ?? DEFAULTS.summarizeMaxNewTokens;
      const generation = await this.callModel(model, { ...greedy, maxNewTokens }, ctx);
      return json(200, { model: model.id, ...version(generation), summary: generation.text.trim(), finishReason: generation.finishReason, cached: false });
    }
    const maxNewTokens = (body as AnswerBody).maxNewTokens ?? DEFAULTS.answerMaxNewTokens;
    const generation = await this.callModel(model, { ...greedy, maxNewTokens }, ctx);
    return json(200, { model: model.id, ...version(generation), answer: generation.text.trim(), cached: false });
  }

  /**
   * Does now what the first requests would otherwise do: builds the clients of the backends the configuration
   * uses and compiles every request schema. The Lambda entry points call it during init.
   */
  warmUp(): void {
    for (const model of this.config.models) this.backendFor(model);
    for (const route of ROUTES.values()) if (route.requestSchema) schemaValidator(route.requestSchema);
    schemaValidator('ModelId');
  }

  /** The model's backend; made on first use and kept for the container's life (client and connection reuse). */
  private backendFor(model: ServedModel): Backend {
    const settings = () => clientSettings(this.config.region, this.config.modelTimeoutMs);
    if (model.backend === 'bedrock') {
      return (this.bedrock ??= this.deps.backends?.bedrock ?? loadBedrock().bedrockBackend(settings(), this.deps.clients?.bedrock));
    }
    return (this.sagemaker ??= this.deps.backends?.sagemaker ?? loadSageMaker().sagemakerBackend(settings(), this.deps.clients?.sagemaker));
  }

  private timeoutProblem(model: ServedModel, streaming = false): ApiProblem {
    const ms = this.config.modelTimeoutMs;
    return new ApiProblem(
      'model-timeout',
      streaming ? `Model '${model.id}' did not finish within ${ms} ms; a smaller maxNewTokens may help.` : `Model '${model.id}' did not answer within ${ms} ms; a smaller maxNewTokens or the streaming route may help.`,
    );
  }

  /** One buffered model call, aborted after MODEL_TIMEOUT_MS; its time is the request's ModelLatency. */
  private async callModel(model: ServedModel, request: GenerationRequest, ctx: RequestContext): Promise<Generation> {
    const backend = this.backendFor(model);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.config.modelTimeoutMs);
    const started = this.now();
    try {
      return await raceAbort(backend.generate(model, request, controller.signal), controller.signal, () => this.timeoutProblem(model));
    } finally {
      clearTimeout(timer);
      ctx.modelMs = (ctx.modelMs ?? 0) + this.now() - started;
    }
  }

  /**
   * Runs a stream into `sink`, the whole backend call bounded by MODEL_TIMEOUT_MS. Before the first event any
   * error is thrown (the caller answers a problem with its status); once the status line is out, an error,
   * the timeout included, becomes an `error` event, returned for the metrics.
   */
  private async runStream(model: ServedModel, request: GenerationRequest, ctx: RequestContext, sink: StreamSink): Promise<ApiProblem | undefined> {
    const backend = this.backendFor(model);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.config.modelTimeoutMs);
    const started = this.now();
    const events = backend.stream(model, request, controller.signal)[Symbol.asyncIterator]();
    const nextEvent = () => raceAbort(events.next(), controller.signal, () => this.timeoutProblem(model, true));
    let problem: ApiProblem | undefined;
    try {
      let next: IteratorResult<StreamEvent> = await nextEvent();
      sink.start(200, SSE_HEADERS);
      try {
        while (!next.done) {
          const event = next.value;
          if (event.kind === 'token') sink.write(sseEvent('token', { text: event.text }));
          else {
            sink.write(
              sseEvent('done', {
                model: model.id,
                ...(event.version ? { version: event.version } : {}),
                finishReason: event.finishReason,
                ...(event.usage ? { usage: event.usage } : {}),
              }),
            );
          }
          next = await nextEvent();
        }
      } catch (error) {
        problem = this.toProblem(error, ctx);
        sink.write(sseEvent('error', problemDocument(problem, ctx.requestId || undefined)));
      }
    } finally {
      clearTimeout(timer);
      ctx.modelMs = this.now() - started;
    }
    return problem;
  }

  /** `error` as a problem; anything that is not one is `internal`. Every 5xx is logged with its cause. */
  private toProblem(error: unknown, ctx: RequestContext): ApiProblem {
    const problem = error instanceof ApiProblem ? error : new ApiProblem('internal', 'The API failed; the request id is in instance.', undefined, { cause: error });
    if (problem.status >= 500) {
      const cause = (problem.cause ?? (error instanceof ApiProblem ? undefined : error)) as { name?: unknown; message?: unknown; stack?: unknown } | undefined;
      this.logError({
        level: 'ERROR',
        requestId: ctx.requestId,
        route: ctx.route,
        model: ctx.model,
        problem: problem.code,
        detail: problem.detail,
        ...(cause ? { error: { name: cause.name, message: cause.message, ...(problem.code === 'internal' ? { stack: cause.stack } : {}) } } : {}),
      });
    }
    return problem;
  }

  private problemResult(problem: ApiProblem, ctx: RequestContext): ProxyResult {
    const document = problemDocument(problem, ctx.requestId || undefined);
    return { statusCode: document.status, headers: problemHeaders(document), body: JSON.stringify(document) };
  }

  private record(ctx: RequestContext, status: number, problem: ApiProblem | undefined, started: number): void {
    const line = emfLine(
      this.config.metricsNamespace,
      {
        route: ctx.route,
        model: ctx.model,
        status,
        ...(problem ? { problem: problem.code } : {}),
        requestId: ctx.requestId,
        ...(ctx.apiKeyId ? { apiKeyId: ctx.apiKeyId } : {}),
        ...(ctx.modelMs === undefined ? {} : { modelMs: ctx.modelMs }),
        ...(ctx.cache === undefined ? {} : { cache: ctx.cache }),
        totalMs: this.now() - started,
      },
      Date.now(),
    );
    this.writeMetrics(line);
  }
}

/** What a task route's answer depends on: its fields with the schema's defaults filled in. */
function taskRequest(operation: TaskOperationId, body: Record<string, unknown>): Record<string, unknown> {
  if (operation === 'summarize') return { ...body, maxNewTokens: body.maxNewTokens ?? DEFAULTS.summarizeMaxNewTokens };
  if (operation === 'answer') return { ...body, maxNewTokens: body.maxNewTokens ?? DEFAULTS.answerMaxNewTokens };
  return body;
}

/** A generate request with the schema's defaults filled in. */
export function generationRequest(body: GenerateBody): GenerationRequest {
  const p = body.parameters ?? {};
  return {
    prompt: body.prompt,
    ...(body.system === undefined ? {} : { system: body.system }),
    maxNewTokens: p.maxNewTokens ?? DEFAULTS.maxNewTokens,
    temperature: p.temperature ?? DEFAULTS.temperature,
    topP: p.topP ?? DEFAULTS.topP,
    ...(p.stop?.length ? { stop: p.stop } : {}),
  };
}

// The container's API, built from the environment once and kept; a bad environment fails every request with the
// same error naming each bad variable (in the function's log). Inside Lambda it is built, with its clients and
// validators, during init, which also runs before provisioned concurrency takes traffic.
let instance: { api: InferenceApi } | { error: Error } | undefined;

function environmentApi(): InferenceApi {
  if (!instance) {
    try {
      instance = { api: new InferenceApi({ config: configFromEnvironment() }) };
    } catch (error) {
      instance = { error: error as Error };
    }
  }
  if ('error' in instance) throw instance.error;
  return instance.api;
}

/** Entry point of the buffered REST proxy integration. */
export const handler = async (event: ProxyEvent): Promise<ProxyResult> => environmentApi().handle(event);

/** Entry point of the streaming REST proxy integration (awslambda.streamifyResponse inside Lambda). */
export const streamHandler = streamifyResponse<ProxyEvent>(async (event, responseStream) => environmentApi().handleStream(event, responseStream));

if (process.env.AWS_LAMBDA_FUNCTION_NAME) {
  try {
    environmentApi().warmUp();
  } catch (error) {
    console.error(JSON.stringify({ level: 'ERROR', phase: 'init', message: (error as Error).message }));
  }
}
