import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256 } from '../src/sigv4';
import { LocalServer, REPO_ROOT, startLocalServer } from './local-server';

/**
 * api/local-server.ts with plain fetch, without the client: what api/vectors/README.md promises beyond the
 * vectors (the signature is really checked, the gateway's answers, the control routes, the script's edges).
 */

const { server: settings } = JSON.parse(readFileSync(join(REPO_ROOT, 'api', 'vectors', 'vectors.json'), 'utf8')) as {
  server: { apiKey: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } };
};
const KEY = { 'x-api-key': settings.apiKey };
const GENERATE = { prompt: 'hi' };

let server: LocalServer;
beforeAll(async () => {
  server = await startLocalServer();
});
afterAll(async () => {
  await server?.stop();
});

async function post(path: string, body: unknown, headers: Record<string, string> = KEY): Promise<Response> {
  return fetch(new URL(path, server.url), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

/** The headers of a SigV4-signed request, signed as `overrides` say (another secret, region or date). */
async function signedHeaders(path: string, body: string, overrides: { secretAccessKey?: string; region?: string; signingDate?: Date } = {}): Promise<Record<string, string>> {
  const url = new URL(path, server.url);
  const signer = new SignatureV4({
    service: 'execute-api',
    region: overrides.region ?? settings.region,
    credentials: { ...settings.credentials, ...(overrides.secretAccessKey ? { secretAccessKey: overrides.secretAccessKey } : {}) },
    sha256: NodeSha256,
  });
  const signed = await signer.sign(
    { method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: url.pathname, headers: { host: url.host, 'content-type': 'application/json' }, body },
    overrides.signingDate ? { signingDate: overrides.signingDate } : {},
  );
  const { host: _host, ...headers } = signed.headers;
  void _host;
  return headers;
}

async function problemOf(response: Response): Promise<Record<string, unknown>> {
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  return (await response.json()) as Record<string, unknown>;
}

describe('authentication', () => {
  test('a request without a key or signature is the forbidden problem, with the request id as instance', async () => {
    await server.script([]);
    const response = await fetch(new URL('models', server.url));
    expect(response.status).toBe(403);
    const problem = await problemOf(response);
    expect(problem).toEqual({ type: 'urn:fmft:problem:forbidden', title: expect.any(String), status: 403, detail: 'Forbidden', instance: response.headers.get('x-amzn-requestid'), retryable: false });
  });

  test('a valid signature passes', async () => {
    await server.script([{ model: { text: 'ok', finishReason: 'stop' } }]);
    const body = JSON.stringify(GENERATE);
    const response = await fetch(new URL('models/claims-nova/generate', server.url), { method: 'POST', headers: await signedHeaders('models/claims-nova/generate', body), body });
    expect(response.status).toBe(200);
  });

  test.each([
    ['another secret', { secretAccessKey: 'not-the-secret' }, /signature we calculated does not match/],
    ['another region', { region: 'eu-west-1' }, /scoped to a valid region/],
    ['a date 20 minutes old', { signingDate: new Date(Date.now() - 20 * 60 * 1000) }, /Signature expired/],
  ])('a signature with %s is forbidden', async (_name, overrides, detail) => {
    await server.script([{ model: { text: 'ok', finishReason: 'stop' } }]);
    const body = JSON.stringify(GENERATE);
    const response = await fetch(new URL('models/claims-nova/generate', server.url), { method: 'POST', headers: await signedHeaders('models/claims-nova/generate', body, overrides), body });
    expect(response.status).toBe(403);
    expect((await problemOf(response)).detail).toMatch(detail);
  });

  test('a body changed after signing is forbidden', async () => {
    await server.script([{ model: { text: 'ok', finishReason: 'stop' } }]);
    const headers = await signedHeaders('models/claims-nova/generate', JSON.stringify(GENERATE));
    const response = await fetch(new URL('models/claims-nova/generate', server.url), { method: 'POST', headers, body: JSON.stringify({ prompt: 'changed' }) });
    expect(response.status).toBe(403);
  });

  test('a refused caller does not take the next step', async () => {
    await server.script([{ gateway: 'throttled' }]);
    expect((await post('models/serving/generate', GENERATE, { 'x-api-key': 'wrong' })).status).toBe(403);
    expect((await post('models/serving/generate', GENERATE)).status).toBe(429);
  });
});

describe('gateway and transport steps', () => {
  test("a gateway step answers API Gateway's problem document with its status and Retry-After", async () => {
    await server.script([{ gateway: 'quota-exceeded' }]);
    const response = await post('models/serving/generate', GENERATE);
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('3600');
    const text = await response.text();
    // Field order of the gateway response template (lib/constructs/api/inference-api.ts).
    expect(Object.keys(JSON.parse(text))).toEqual(['type', 'title', 'status', 'detail', 'instance', 'retryable', 'retryAfterSeconds']);
    expect(JSON.parse(text)).toMatchObject({ type: 'urn:fmft:problem:quota-exceeded', status: 429, retryable: true, retryAfterSeconds: 3600, detail: 'Limit Exceeded' });
  });

  test('a transport step closes the connection without an answer', async () => {
    await server.script([{ transport: 'reset' }]);
    await expect(post('models/serving/generate', GENERATE)).rejects.toThrow('fetch failed');
    expect(await server.requests()).toHaveLength(1);
  });

  test('a path or method the API does not have is forbidden, as API Gateway answers it', async () => {
    await server.script([]);
    const unknownPath = await fetch(new URL('nothing-here', server.url), { headers: KEY });
    const wrongMethod = await fetch(new URL('models/serving/generate', server.url), { headers: KEY });
    for (const response of [unknownPath, wrongMethod]) {
      expect(response.status).toBe(403);
      expect((await problemOf(response)).detail).toBe('Missing Authentication Token');
    }
  });
});

describe('model steps', () => {
  test('a request the handler refuses takes no model step', async () => {
    await server.script([{ model: { text: 'kept', finishReason: 'stop' } }]);
    expect((await post('models/serving/generate', { prompt: '' })).status).toBe(400);
    expect((await post('models/no-such-model/generate', GENERATE)).status).toBe(404);
    expect(await (await post('models/serving/generate', GENERATE)).json()).toMatchObject({ text: 'kept' });
  });

  test('a model call that finds the script empty is a 500 problem saying so', async () => {
    await server.script([]);
    const response = await post('models/serving/generate', GENERATE);
    expect(response.status).toBe(500);
    expect((await problemOf(response)).detail).toMatch(/script is empty/);
  });

  test('a stream is sent chunked as server-sent events, with the version defaulting to the first', async () => {
    await server.script([{ model: { tokens: ['a', 'b'], finishReason: 'length', usage: { outputTokens: 2 } } }]);
    const response = await post('models/serving/generate-stream', GENERATE);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(response.headers.get('transfer-encoding')).toBe('chunked');
    expect(await response.text()).toBe(
      'event: token\ndata: {"text":"a"}\n\nevent: token\ndata: {"text":"b"}\n\n' +
        'event: done\ndata: {"model":"serving","version":"arn:aws:sagemaker:us-east-1:111122223333:model-package/fmft-local-models/3","finishReason":"length","usage":{"outputTokens":2}}\n\n',
    );
  });
});

describe('control routes', () => {
  test('requests are recorded with method, path and lower-case headers, and cleared by a new script', async () => {
    await server.script([]);
    await fetch(new URL('models', server.url), { headers: { ...KEY, 'X-Custom': 'Value' } });
    expect(await server.requests()).toEqual([{ method: 'GET', path: '/v1/models', headers: expect.objectContaining({ 'x-api-key': settings.apiKey, 'x-custom': 'Value' }) }]);
    await server.script([]);
    expect(await server.requests()).toEqual([]);
  });

  test('a script with an unknown step is refused, naming it', async () => {
    const response = await fetch(new URL('/__control/script', server.url), { method: 'POST', body: JSON.stringify({ steps: [{ gateway: 'no-such-problem' }, { model: { text: 'x' } }] }) });
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/steps\[0\]\.gateway[\s\S]*steps\[1\]\.model\.finishReason/);
  });
});
