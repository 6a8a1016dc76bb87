import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError, InferenceClient, StreamError, TransportError, VERSION } from '../src';

/** The client's streams, errors and options, with a fetch that answers what each test needs. */

const BASE_URL = 'https://api.example.test/v1/';

/** A body whose chunks arrive one by one, and that fails after them when `failWith` is given. */
function chunked(chunks: readonly string[], failWith?: Error): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(encoder.encode(chunks[i++]));
      else if (failWith) controller.error(failWith);
      else controller.close();
    },
  });
}

const sse = (chunks: readonly string[], failWith?: Error) => () => new Response(chunked(chunks, failWith), { status: 200, headers: { 'content-type': 'text/event-stream; charset=utf-8' } });
const token = (text: string) => `event: token\ndata: ${JSON.stringify({ text })}\n\n`;
const DONE = `event: done\ndata: ${JSON.stringify({ model: 'm', finishReason: 'stop' })}\n\n`;

function clientAnswering(answers: readonly (() => Response)[]) {
  const waits: number[] = [];
  const requests: { url: string; init: RequestInit }[] = [];
  const client = new InferenceClient({
    baseUrl: BASE_URL,
    apiKey: 'key',
    retry: { jitter: 'none' },
    sleep: async (s) => {
      waits.push(s);
    },
    fetch: async (url, init) => {
      requests.push({ url: String(url), init: init ?? {} });
      const answer = answers[requests.length - 1];
      if (!answer) throw new Error('no answer scripted');
      return answer();
    },
  });
  return { client, waits, requests };
}

describe('generateStream', () => {
  test('yields tokens split anywhere across chunks, then resolves done', async () => {
    const body = token('Hel') + token('lo, ✓') + DONE;
    const { client } = clientAnswering([sse(body.match(/[\s\S]{1,7}/g)!)]);
    const stream = await client.generateStream('m', { prompt: 'hi' });
    const tokens: string[] = [];
    for await (const t of stream) tokens.push(t);
    expect(tokens).toEqual(['Hel', 'lo, ✓']);
    await expect(stream.done).resolves.toEqual({ model: 'm', finishReason: 'stop' });
  });

  test('collect() reads the rest', async () => {
    const { client } = clientAnswering([sse([token('a'), token('b'), DONE])]);
    const result = await (await client.generateStream('m', { prompt: 'hi' })).collect();
    expect(result).toEqual({ tokens: ['a', 'b'], text: 'ab', done: { model: 'm', finishReason: 'stop' } });
  });

  test('an error event after tokens is a StreamError with them, and done rejects with it', async () => {
    const problem = { type: 'urn:fmft:problem:model-timeout', title: 't', status: 504, detail: 'slow', retryable: true, retryAfterSeconds: 1 };
    const { client, requests } = clientAnswering([sse([token('a'), `event: error\ndata: ${JSON.stringify(problem)}\n\n`])]);
    const stream = await client.generateStream('m', { prompt: 'hi' });
    const error = (await stream.collect().catch((e: unknown) => e)) as StreamError;
    expect(error).toBeInstanceOf(StreamError);
    expect(error).toBeInstanceOf(ApiError);
    expect({ code: error.code, status: error.status, retryable: error.retryable, tokens: error.tokens }).toEqual({ code: 'model-timeout', status: 504, retryable: true, tokens: ['a'] });
    await expect(stream.done).rejects.toBe(error);
    // Retryable or not, a stream that has sent an event is never retried.
    expect(requests).toHaveLength(1);
  });

  test('an error event as the first event is raised, not retried', async () => {
    const problem = { type: 'urn:fmft:problem:model-error', title: 't', status: 502, retryable: false };
    const { client, requests } = clientAnswering([sse([`event: error\ndata: ${JSON.stringify(problem)}\n\n`])]);
    const stream = await client.generateStream('m', { prompt: 'hi' });
    await expect(stream.collect()).rejects.toMatchObject({ code: 'model-error', tokens: [] });
    expect(requests).toHaveLength(1);
  });

  test('a connection that breaks before the first event is retried; after it, it is raised with the tokens kept', async () => {
    const { client, waits } = clientAnswering([sse([], new Error('socket hang up')), sse([token('a')], new Error('socket hang up'))]);
    const stream = await client.generateStream('m', { prompt: 'hi' });
    expect(waits).toEqual([0.5]);
    const error = (await stream.collect().catch((e: unknown) => e)) as TransportError;
    expect(error).toBeInstanceOf(TransportError);
    expect(error.retryable).toBe(false);
    expect(stream.tokens).toEqual(['a']);
  });

  test('a stream that ends without done or error is a TransportError', async () => {
    const { client } = clientAnswering([sse([token('a')])]);
    const stream = await client.generateStream('m', { prompt: 'hi' });
    await expect(stream.collect()).rejects.toThrow(/without a done or error event/);
  });

  test('leaving the loop early cancels the body, and done rejects', async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(token('a') + token('b')));
      },
      cancel() {
        cancelled = true;
      },
    });
    const { client } = clientAnswering([() => new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } })]);
    const stream = await client.generateStream('m', { prompt: 'hi' });
    for await (const t of stream) if (t === 'a') break;
    expect(cancelled).toBe(true);
    await expect(stream.done).rejects.toThrow(/closed by its reader after 1 tokens/);
  });

  test('a problem before the stream is an ApiError of its status; a 200 that is not an event stream is a TransportError', async () => {
    const problem = new Response(JSON.stringify({ type: 'urn:fmft:problem:invalid-request', title: 't', status: 400, retryable: false, errors: [{ field: '/prompt', message: 'is required' }] }), {
      status: 400,
      headers: { 'content-type': 'application/problem+json' },
    });
    const { client } = clientAnswering([() => problem, () => new Response('{}', { status: 200, headers: { 'content-type': 'application/json' } })]);
    await expect(client.generateStream('m', { prompt: '' })).rejects.toMatchObject({ code: 'invalid-request', status: 400, errors: [{ field: '/prompt', message: 'is required' }] });
    await expect(client.generateStream('m', { prompt: 'x' })).rejects.toBeInstanceOf(TransportError);
  });
});

describe('requests', () => {
  test('go to the operation path under the stage with the key, JSON body and user agent', async () => {
    const { client, requests } = clientAnswering([() => new Response('{"model":"a b","answer":"x","cached":false}', { status: 200 })]);
    await client.answer('a b', { question: 'q', context: 'c' });
    expect(requests[0].url).toBe('https://api.example.test/v1/models/a%20b/answer');
    expect(requests[0].init.method).toBe('POST');
    expect(requests[0].init.body).toBe('{"question":"q","context":"c"}');
    expect(requests[0].init.headers).toMatchObject({ 'x-api-key': 'key', 'content-type': 'application/json', 'user-agent': `fmft-inference-client/${VERSION} node/${process.versions.node}` });
  });

  test('a base URL without the trailing slash keeps its stage', async () => {
    const requests: string[] = [];
    const client = new InferenceClient({ baseUrl: 'https://api.example.test/v1', apiKey: 'k', fetch: async (url) => (requests.push(String(url)), new Response('{"models":[]}')) });
    await client.listModels();
    expect(requests).toEqual(['https://api.example.test/v1/models']);
  });

  test('SigV4 signs each attempt, with the session token of the credentials provider', async () => {
    const seen: Record<string, string>[] = [];
    const client = new InferenceClient({
      baseUrl: BASE_URL,
      region: 'eu-west-1',
      credentials: async () => ({ accessKeyId: 'AKID', secretAccessKey: 'secret', sessionToken: 'token' }),
      retry: { jitter: 'none' },
      sleep: async () => undefined,
      fetch: async (_url, init) => {
        seen.push(init?.headers as Record<string, string>);
        return seen.length === 1 ? new Response('', { status: 503 }) : new Response('{"models":[]}');
      },
    });
    await client.listModels();
    expect(seen).toHaveLength(2);
    for (const headers of seen) {
      expect(headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKID\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=accept;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/);
      expect(headers['x-amz-security-token']).toBe('token');
      expect(headers.host).toBeUndefined();
      expect(headers['x-api-key']).toBeUndefined();
    }
  });
});

describe('options', () => {
  test('every problem is listed at once', () => {
    expect(() => new InferenceClient({ baseUrl: 'ftp://x', credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, retry: { maxAttempts: 0, maxWaitSeconds: -1 } })).toThrow(
      /baseUrl must be an http\(s\) URL[\s\S]*credentials need region[\s\S]*retry\.maxAttempts must be a whole number >= 1[\s\S]*retry\.maxWaitSeconds must be/,
    );
  });

  test('a client needs an API key or credentials', () => {
    expect(() => new InferenceClient({ baseUrl: BASE_URL })).toThrow(/give apiKey, credentials/);
  });

  test('VERSION is the package version', () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
    expect(VERSION).toBe(pkg.version);
  });
});

describe('a TokenStream', () => {
  test('is read once', async () => {
    const { client } = clientAnswering([sse([token('a'), DONE])]);
    const stream = await client.generateStream('m', { prompt: 'hi' });
    for await (const t of stream) void t;
    expect(() => stream[Symbol.asyncIterator]()).toThrow(/read once/);
  });
});
