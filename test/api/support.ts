import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { DescribeEndpointCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import Ajv2020 from 'ajv/dist/2020';
import { AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { Writable } from 'stream';
import openapi from '../../api/openapi.json';
import { ResponseCache } from '../../lib/api/cache';
import { ApiDependencies, InferenceApi, ProxyEvent, ProxyResult } from '../../lib/api/handler';
import { ServedModel } from '../../lib/api/served-models';

/**
 * Shared fixtures of the inference API tests: served models of every backend, events as API Gateway sends
 * them, and `invoke`/`invokeStream`, which check every response against api/openapi.json (the operation's
 * documented statuses, content types and schemas) with an ajv instance of their own, so no test can pass
 * with a response the contract does not allow.
 */

const ACCOUNT = '123456789012';
export const MODELS: ServedModel[] = [
  {
    id: 'serving',
    backend: 'sagemaker-endpoint',
    endpointName: 'fmft-dev-llm',
    versions: [`arn:aws:sagemaker:us-east-1:${ACCOUNT}:model-package/fmft-dev-models/3`, `arn:aws:sagemaker:us-east-1:${ACCOUNT}:model-package/fmft-dev-models/4`],
    streaming: true,
  },
  {
    id: 'support-bot',
    backend: 'sagemaker-inference-component',
    endpointName: 'fmft-dev-shared',
    inferenceComponentName: 'fmft-dev-support-bot',
    versions: [`arn:aws:sagemaker:us-east-1:${ACCOUNT}:model-package/support-bot/2`],
    streaming: true,
  },
  {
    id: 'claims-nova',
    backend: 'bedrock',
    modelArn: `arn:aws:bedrock:us-east-1:${ACCOUNT}:provisioned-model/abcd1234efgh`,
    versions: [`arn:aws:bedrock:us-east-1:${ACCOUNT}:custom-model/amazon.nova-micro-v1:0:128k/xyz987`],
    streaming: true,
  },
  { id: 'batch-only', backend: 'sagemaker-endpoint', endpointName: 'fmft-dev-batch', versions: [], streaming: false },
];
export const SAGEMAKER_ENDPOINT = MODELS[0];
export const INFERENCE_COMPONENT = MODELS[1];
export const BEDROCK = MODELS[2];
export const NOT_STREAMING = MODELS[3];

export interface TestApi {
  readonly api: InferenceApi;
  /** Every EMF line written, parsed. */
  readonly metrics: Record<string, any>[];
  /** Every 5xx log entry. */
  readonly errors: Record<string, unknown>[];
}

export function testApi(overrides: Partial<ApiDependencies> & { modelTimeoutMs?: number; models?: ServedModel[] } = {}): TestApi {
  const metrics: Record<string, any>[] = [];
  const errors: Record<string, unknown>[] = [];
  const { modelTimeoutMs, models, ...deps } = overrides;
  const api = new InferenceApi({
    config: { models: models ?? MODELS, metricsNamespace: 'FMFT/InferenceApi', modelTimeoutMs: modelTimeoutMs ?? 2000, region: 'us-east-1' },
    writeMetrics: (line) => metrics.push(JSON.parse(line)),
    logError: (entry) => errors.push(entry),
    ...deps,
  });
  return { api, metrics, errors };
}

/** An in-memory answer cache that records what it is asked. */
export function memoryCache(): ResponseCache & { gets: string[]; puts: string[]; store: Map<string, string> } {
  const store = new Map<string, string>();
  const gets: string[] = [];
  const puts: string[] = [];
  return {
    store,
    gets,
    puts,
    async get(key) {
      gets.push(key);
      return store.get(key);
    },
    async put(key, body) {
      puts.push(key);
      store.set(key, body);
    },
  };
}

export type Operation = 'generate' | 'generate-stream' | 'classify' | 'summarize' | 'answer';

export function requestEvent(method: string, resource: string, options: { model?: string; body?: unknown; rawBody?: string | null; base64?: boolean; requestId?: string; apiKeyId?: string } = {}): ProxyEvent {
  let body = options.rawBody !== undefined ? options.rawBody : options.body === undefined ? null : JSON.stringify(options.body);
  if (options.base64 && body !== null) body = Buffer.from(body, 'utf8').toString('base64');
  return {
    resource,
    path: options.model === undefined ? resource : resource.replace('{model}', options.model),
    httpMethod: method,
    pathParameters: options.model === undefined ? null : { model: options.model },
    body,
    isBase64Encoded: options.base64 ?? false,
    requestContext: { requestId: options.requestId ?? 'req-0001', identity: { apiKeyId: options.apiKeyId ?? 'key-abc' } },
  };
}

/** A POST to `/models/{model}/<operation>`. */
export function post(operation: Operation, model: string, body: unknown, options: { rawBody?: string | null; base64?: boolean; requestId?: string } = {}): ProxyEvent {
  return requestEvent('POST', `/models/{model}/${operation}`, { model, body, ...options });
}

export const listModels = (): ProxyEvent => requestEvent('GET', '/models');

// ---------------------------------------------------------------------------------------------------------
// The contract check.

const ajv = new Ajv2020({ allErrors: true, strict: false });
ajv.addSchema({ $id: 'urn:test:openapi', components: { schemas: openapi.components.schemas } });
const schema = (name: string) => ajv.getSchema(`urn:test:openapi#/components/schemas/${name}`)!;
const refName = (ref: string) => ref.split('/').pop()!;

interface ResponseObject {
  readonly $ref?: string;
  readonly content?: Record<string, { schema?: { $ref?: string }; 'x-event-data'?: Record<string, { $ref: string }> }>;
  readonly headers?: Record<string, unknown>;
}

function operationOf(method: string, resource: string): { operationId: string; responses: Record<string, ResponseObject> } {
  const item = (openapi.paths as Record<string, Record<string, unknown>>)[resource];
  const operation = item?.[method.toLowerCase()] as { operationId: string; responses: Record<string, ResponseObject> } | undefined;
  if (!operation) throw new Error(`api/openapi.json has no ${method} ${resource}`);
  return operation;
}

function documentedResponse(method: string, resource: string, status: number): ResponseObject {
  const operation = operationOf(method, resource);
  let response = operation.responses[String(status)];
  if (!response) throw new Error(`${operation.operationId} answered ${status}, which api/openapi.json does not document (documented: ${Object.keys(operation.responses).join(', ')})`);
  if (response.$ref) response = (openapi.components.responses as Record<string, ResponseObject>)[refName(response.$ref)];
  return response;
}

function expectValid(name: string, value: unknown, where: string): void {
  const validate = schema(name);
  if (!validate(value)) throw new Error(`${where} does not match ${name}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value)}`);
}

/** Throws unless `status`, `headers` and `body` are a response api/openapi.json documents for the route. */
export function expectContract(method: string, resource: string, status: number, headers: Readonly<Record<string, string>>, body: string): void {
  const response = documentedResponse(method, resource, status);
  const contentType = headers['Content-Type'];
  const [mediaType] = (contentType ?? '').split(';');
  const content = response.content?.[mediaType];
  if (!content) throw new Error(`${method} ${resource} ${status} has Content-Type ${contentType}; documented: ${Object.keys(response.content ?? {}).join(', ')}`);
  if (response.headers?.['Retry-After'] !== undefined || status === 429 || status === 503 || status === 504) {
    const problem = JSON.parse(body) as { retryAfterSeconds?: number };
    if (headers['Retry-After'] !== String(problem.retryAfterSeconds)) throw new Error(`${status}: Retry-After ${headers['Retry-After']} is not retryAfterSeconds ${problem.retryAfterSeconds}`);
  }
  if (mediaType === 'text/event-stream') {
    for (const event of parseEvents(body)) {
      const ref = content['x-event-data']?.[event.event];
      if (!ref) throw new Error(`event '${event.event}' is not documented`);
      expectValid(refName(ref.$ref), event.data, `event ${event.event}`);
    }
    return;
  }
  expectValid(refName(content.schema!.$ref!), JSON.parse(body), `${method} ${resource} ${status}`);
}

/** The buffered handler's answer, checked against the contract. */
export async function invoke(api: InferenceApi, event: ProxyEvent): Promise<ProxyResult & { json: any }> {
  const result = await api.handle(event);
  if (ROUTE_KNOWN(event)) expectContract(event.httpMethod!, event.resource!, result.statusCode, result.headers, result.body);
  else expect(result.headers['Content-Type']).toBe('application/problem+json');
  const isJson = !result.headers['Content-Type'].startsWith('text/event-stream');
  return { ...result, json: isJson ? JSON.parse(result.body) : undefined };
}

function ROUTE_KNOWN(event: ProxyEvent): boolean {
  const item = (openapi.paths as Record<string, Record<string, unknown>>)[event.resource ?? ''];
  return item?.[(event.httpMethod ?? '').toLowerCase()] !== undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Streams.

export interface SseEvent {
  readonly event: string;
  readonly data: any;
}

export function parseEvents(body: string): SseEvent[] {
  return body
    .split('\n\n')
    .filter((block) => block.trim())
    .map((block) => {
      const lines = block.split('\n');
      const name = lines.find((l) => l.startsWith('event: '))?.slice(7);
      const data = lines.find((l) => l.startsWith('data: '))?.slice(6);
      if (name === undefined || data === undefined) throw new Error(`not an SSE event: ${JSON.stringify(block)}`);
      return { event: name, data: JSON.parse(data) };
    });
}

/** A Writable standing in for Lambda's response stream; it records what `setContentType` was given. */
export class CollectingStream extends Writable {
  readonly chunks: Buffer[] = [];
  contentType?: string;
  ended = false;

  setContentType(contentType: string): void {
    this.contentType = contentType;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.chunks.push(Buffer.from(chunk));
    done();
  }

  override _final(done: (error?: Error | null) => void): void {
    this.ended = true;
    done();
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

export interface StreamedResponse {
  readonly prelude: { statusCode: number; headers: Record<string, string> };
  readonly body: string;
  readonly events: SseEvent[];
  readonly stream: CollectingStream;
}

/** Splits the streamed bytes at the 8-NUL delimiter API Gateway expects. */
export function splitStreamed(bytes: Buffer): { prelude: string; delimiterAt: number; body: string } {
  const delimiterAt = bytes.indexOf(Buffer.alloc(8));
  if (delimiterAt < 0) throw new Error('no 8-byte NUL delimiter in the streamed response');
  return { prelude: bytes.subarray(0, delimiterAt).toString('utf8'), delimiterAt, body: bytes.subarray(delimiterAt + 8).toString('utf8') };
}

/** The streaming handler's answer, checked against the contract. */
export async function invokeStream(api: InferenceApi, event: ProxyEvent): Promise<StreamedResponse> {
  const stream = new CollectingStream();
  await api.handleStream(event, stream);
  const parts = splitStreamed(stream.bytes());
  const prelude = JSON.parse(parts.prelude) as StreamedResponse['prelude'];
  if (ROUTE_KNOWN(event)) expectContract(event.httpMethod!, event.resource!, prelude.statusCode, prelude.headers, parts.body);
  const events = prelude.headers['Content-Type']?.startsWith('text/event-stream') ? parseEvents(parts.body) : [];
  return { prelude, body: parts.body, events, stream };
}

// ---------------------------------------------------------------------------------------------------------
// SDK mocks: class-level (every client the API builds is mocked), installed per describe block and removed
// after it, so other test modules in this process (moto) get the real clients.

export interface SdkMocks {
  sagemaker: AwsClientStub<SageMakerRuntimeClient>;
  bedrock: AwsClientStub<BedrockRuntimeClient>;
  /** SageMaker's control plane: the answer cache's DescribeEndpoint of the A/B endpoint. */
  sagemakerApi: AwsClientStub<SageMakerClient>;
}

/** What the control-plane mock's DescribeEndpoint answers unless a test says otherwise. */
export const ENDPOINT_CONFIG = 'fmft-dev-llm-config-a1b2c3';

export function useSdkMocks(): SdkMocks {
  const mocks = {} as SdkMocks;
  beforeAll(() => {
    mocks.sagemaker = mockClient(SageMakerRuntimeClient);
    mocks.bedrock = mockClient(BedrockRuntimeClient);
    mocks.sagemakerApi = mockClient(SageMakerClient);
  });
  beforeEach(() => {
    mocks.sagemaker.reset();
    mocks.bedrock.reset();
    mocks.sagemakerApi.reset();
    mocks.sagemakerApi.on(DescribeEndpointCommand).resolves({ EndpointName: 'fmft-dev-llm', EndpointConfigName: ENDPOINT_CONFIG, EndpointStatus: 'InService' } as never);
  });
  afterAll(() => {
    mocks.sagemaker.restore();
    mocks.bedrock.restore();
    mocks.sagemakerApi.restore();
  });
  return mocks;
}

/** A SageMaker response body (the SDK's Uint8ArrayBlobAdapter is a Uint8Array). */
export function blob(value: unknown): never {
  return new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value)) as never;
}

/** An async iterable of `items`, then `error` thrown if given: an event stream of the SDK. */
export async function* eventStream<T>(items: readonly T[], error?: Error): AsyncGenerator<T> {
  for (const item of items) {
    await Promise.resolve();
    yield item;
  }
  if (error) throw error;
}

/** SageMaker stream payload parts carrying `text`, split at the given byte offsets (boundaries inside lines). */
export function payloadParts(text: string, cuts: readonly number[] = []): { PayloadPart: { Bytes: Uint8Array } }[] {
  const bytes = new TextEncoder().encode(text);
  const bounds = [0, ...cuts, bytes.length];
  return bounds.slice(1).map((end, i) => ({ PayloadPart: { Bytes: bytes.slice(bounds[i], end) } }));
}

/** The JSON body a SageMaker mock call received. */
export function sentBody(call: { args: readonly unknown[] }): any {
  return JSON.parse(String((call.args[0] as { input: { Body: string } }).input.Body));
}
