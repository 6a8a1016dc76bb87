import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError, InferenceClient, StreamError } from '../src';
import { LocalServer, REPO_ROOT, startLocalServer } from './local-server';

/**
 * Every case of api/vectors/vectors.json against the local server (the real handler): the result or error,
 * the attempts (counted at the fetch and at the server) and the waits the retry policy chose, exactly.
 */

interface VectorCase {
  readonly name: string;
  readonly call: { readonly operation: string; readonly model?: string; readonly body?: unknown };
  readonly client?: { readonly apiKey?: string; readonly auth?: 'api-key' | 'sigv4'; readonly maxAttempts?: number; readonly maxWaitSeconds?: number };
  readonly script: readonly unknown[];
  readonly expect: {
    readonly result?: unknown;
    readonly error?: { code: string; status: number; retryable: boolean; retryAfterSeconds?: number; fields?: string[]; tokens?: string[] };
    readonly attempts: number;
    readonly waitsSeconds: readonly number[];
  };
}

interface Vectors {
  readonly retryPolicy: { maxAttempts: number; baseDelaySeconds: number; maxDelaySeconds: number; maxWaitSeconds: number; jitter: 'full' | 'none' };
  readonly server: { apiKey: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } };
  readonly cases: readonly VectorCase[];
}

const vectors = JSON.parse(readFileSync(join(REPO_ROOT, 'api', 'vectors', 'vectors.json'), 'utf8')) as Vectors;

let server: LocalServer;
beforeAll(async () => {
  server = await startLocalServer();
});
afterAll(async () => {
  await server?.stop();
});

/** Calls the case's operation as a user would; a stream is read to its end. */
async function run(client: InferenceClient, call: VectorCase['call']): Promise<unknown> {
  const model = call.model ?? '';
  const body = call.body as never;
  switch (call.operation) {
    case 'listModels':
      return client.listModels();
    case 'generate':
      return client.generate(model, body);
    case 'classify':
      return client.classify(model, body);
    case 'summarize':
      return client.summarize(model, body);
    case 'answer':
      return client.answer(model, body);
    case 'generateStream': {
      const stream = await client.generateStream(model, body);
      const tokens: string[] = [];
      for await (const token of stream) tokens.push(token);
      return { tokens, done: await stream.done };
    }
    default:
      throw new Error(`vectors.json: unknown operation ${call.operation}`);
  }
}

/** The error as the vectors write it: only the fields the README names, each when it applies. */
/** `fields` are sorted: the README lets them come in any order. */
function errorAsVector(error: unknown): unknown {
  if (!(error instanceof ApiError)) throw error;
  return {
    code: error.code,
    status: error.status,
    retryable: error.retryable,
    ...(error.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: error.retryAfterSeconds }),
    ...(error.code === 'invalid-request' ? { fields: error.errors.map((e) => e.field).sort() } : {}),
    ...(error instanceof StreamError ? { tokens: error.tokens } : {}),
  };
}

test('the vectors have cases, each with a distinct name', () => {
  expect(vectors.cases.length).toBeGreaterThan(0);
  expect(new Set(vectors.cases.map((c) => c.name)).size).toBe(vectors.cases.length);
});

describe.each(vectors.cases.map((c) => [c.name, c] as const))('%s', (_name, vector) => {
  test('gives the expected result or error after the expected attempts and waits', async () => {
    await server.script(vector.script);
    const waits: number[] = [];
    let attempts = 0;
    const sigv4 = vector.client?.auth === 'sigv4';
    const client = new InferenceClient({
      baseUrl: server.url,
      ...(sigv4 ? { credentials: vectors.server.credentials, region: vectors.server.region } : { apiKey: vector.client?.apiKey ?? vectors.server.apiKey }),
      retry: {
        ...vectors.retryPolicy,
        ...(vector.client?.maxAttempts === undefined ? {} : { maxAttempts: vector.client.maxAttempts }),
        ...(vector.client?.maxWaitSeconds === undefined ? {} : { maxWaitSeconds: vector.client.maxWaitSeconds }),
      },
      sleep: async (seconds) => {
        waits.push(seconds);
      },
      fetch: (input, init) => {
        attempts += 1;
        return fetch(input, init);
      },
    });

    let outcome: { result: unknown } | { error: unknown };
    try {
      outcome = { result: await run(client, vector.call) };
    } catch (error) {
      outcome = { error };
    }

    if (vector.expect.error) {
      expect('error' in outcome).toBe(true);
      const expected = { ...vector.expect.error, ...(vector.expect.error.fields ? { fields: [...vector.expect.error.fields].sort() } : {}) };
      expect(errorAsVector((outcome as { error: unknown }).error)).toEqual(expected);
    } else {
      if ('error' in outcome) throw outcome.error;
      expect(outcome.result).toEqual(vector.expect.result);
    }
    expect(attempts).toBe(vector.expect.attempts);
    expect(waits).toEqual(vector.expect.waitsSeconds);

    const received = await server.requests();
    expect(received).toHaveLength(vector.expect.attempts);
    for (const request of received) {
      expect(request.headers['user-agent']).toMatch(/^fmft-inference-client\/\d+\.\d+\.\d+ /);
      if (sigv4) {
        expect(request.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/execute-api\/aws4_request, SignedHeaders=[^,]*host[^,]*, Signature=[0-9a-f]{64}$/);
        expect(request.headers['x-api-key']).toBeUndefined();
      } else {
        expect(request.headers.authorization).toBeUndefined();
      }
    }
  });
});
