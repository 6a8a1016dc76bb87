import { MAX_BODY_BYTES } from '../../lib/api/validate';
import { invoke, invokeStream, post, requestEvent, SdkMocks, testApi, useSdkMocks } from './support';

// Requests the contract refuses: each answer is a 4xx problem naming the field (JSON Pointer into the body, or
// the parameter name), and no backend is called.

function expectNoBackendCall(sdk: SdkMocks): void {
  expect(sdk.sagemaker.calls()).toHaveLength(0);
  expect(sdk.bedrock.calls()).toHaveLength(0);
}

describe('inference API validation', () => {
  const sdk = useSdkMocks();
  afterEach(() => expectNoBackendCall(sdk));

  test.each([
    ['missing field', 'generate', { parameters: { maxNewTokens: 5 } }, [{ field: '/prompt', message: 'is required' }]],
    ['wrong type', 'generate', { prompt: 42 }, [{ field: '/prompt', message: 'must be a string, got number 42' }]],
    ['wrong nested type', 'generate', { prompt: 'x', parameters: { stop: 'END' } }, [{ field: '/parameters/stop', message: 'must be an array, got the string "END"' }]],
    ['unknown field', 'generate', { prompt: 'x', temperature: 0.5 }, [{ field: '/temperature', message: 'is not a field here; allowed: prompt, system, parameters, cache' }]],
    ['unknown nested field', 'generate', { prompt: 'x', parameters: { max_tokens: 5 } }, [{ field: '/parameters/max_tokens', message: 'is not a field here; allowed: maxNewTokens, temperature, topP, stop' }]],
    ['number above maximum', 'generate', { prompt: 'x', parameters: { maxNewTokens: 5000 } }, [{ field: '/parameters/maxNewTokens', message: 'must be from 1 to 4096, got 5000' }]],
    ['number below minimum', 'generate', { prompt: 'x', parameters: { topP: 0 } }, [{ field: '/parameters/topP', message: 'must be from 0.01 to 1, got 0' }]],
    ['non-integer', 'generate', { prompt: 'x', parameters: { maxNewTokens: 2.5 } }, [{ field: '/parameters/maxNewTokens', message: 'must be an integer, got number 2.5' }]],
    ['empty string', 'generate', { prompt: '' }, [{ field: '/prompt', message: 'must be from 1 to 100000 characters long, got 0' }]],
    ['too many stop sequences', 'generate', { prompt: 'x', parameters: { stop: ['a', 'b', 'c', 'd', 'e'] } }, [{ field: '/parameters/stop', message: 'must have at most 4 items, got 5' }]],
    ['empty stop sequence', 'generate', { prompt: 'x', parameters: { stop: ['a', ''] } }, [{ field: '/parameters/stop/1', message: 'must be from 1 to 64 characters long, got 0' }]],
    ['too few labels', 'classify', { text: 'x', labels: ['only'] }, [{ field: '/labels', message: 'must have from 2 to 200 items, got 1' }]],
    ['a label twice', 'classify', { text: 'x', labels: ['a', 'b', 'a'] }, [{ field: '/labels', message: 'must not list an item twice; items 0 and 2 are equal' }]],
    ['summarize maxNewTokens 0', 'summarize', { document: 'd', maxNewTokens: 0 }, [{ field: '/maxNewTokens', message: 'must be from 1 to 4096, got 0' }]],
    ['answer without context', 'answer', { question: 'q' }, [{ field: '/context', message: 'is required' }]],
    ['body not an object', 'generate', ['x'], [{ field: '', message: 'must be an object, got an array' }]],
  ] as const)('%s → 400 naming the field', async (_, operation, body, errors) => {
    const res = await invoke(testApi().api, post(operation, 'serving', body));
    expect(res.statusCode).toBe(400);
    expect(res.json).toEqual(expect.objectContaining({ type: 'urn:fmft:problem:invalid-request', status: 400, retryable: false, instance: 'req-0001', errors }));
    expect(res.headers['Retry-After']).toBeUndefined();
  });

  test('every bad field is named at once (allErrors), each message saying what is allowed', async () => {
    const res = await invoke(testApi().api, post('generate', 'serving', { system: '', parameters: { maxNewTokens: 0, temperature: 3, topP: 'high', x: 1 }, extra: true }));
    expect(res.json.errors).toEqual([
      { field: '/prompt', message: 'is required' },
      { field: '/extra', message: 'is not a field here; allowed: prompt, system, parameters, cache' },
      { field: '/system', message: 'must be from 1 to 20000 characters long, got 0' },
      { field: '/parameters/x', message: 'is not a field here; allowed: maxNewTokens, temperature, topP, stop' },
      { field: '/parameters/maxNewTokens', message: 'must be from 1 to 4096, got 0' },
      { field: '/parameters/temperature', message: 'must be from 0 to 2, got 3' },
      { field: '/parameters/topP', message: 'must be a number, got the string "high"' },
    ]);
    expect(res.json.detail).toBe('The request does not match the API: /prompt, /extra, /system, /parameters/x, /parameters/maxNewTokens, /parameters/temperature, /parameters/topP.');
  });

  test('an unknown field name with "/" and "~" is escaped as RFC 6901 requires', async () => {
    const res = await invoke(testApi().api, post('generate', 'serving', { prompt: 'x', 'a/b~c': 1 }));
    expect(res.json.errors).toEqual([{ field: '/a~1b~0c', message: expect.stringMatching(/^is not a field here/) }]);
  });

  test('at most 50 field errors are listed; the detail says how many there were', async () => {
    const labels = Array.from({ length: 120 }, () => '');
    const res = await invoke(testApi().api, post('classify', 'serving', { text: 'x', labels }));
    expect(res.statusCode).toBe(400);
    expect(res.json.errors).toHaveLength(50);
    expect(res.json.detail).toMatch(/\(the first 50 of 121 listed\)/);
  });

  test.each([
    ['not JSON', '{"prompt": "x",}'],
    ['a truncated document', '{"prompt": "x'],
  ])('a body that is %s → 400 invalid-request', async (_, rawBody) => {
    const res = await invoke(testApi().api, post('generate', 'serving', undefined, { rawBody }));
    expect(res.statusCode).toBe(400);
    expect(res.json.type).toBe('urn:fmft:problem:invalid-request');
    expect(res.json.detail).toMatch(/^The request body is not JSON \(.+\); send a JSON object of schema GenerateRequest\.$/);
    expect(res.json.errors).toEqual([{ field: '', message: 'must be a JSON object' }]);
  });

  test.each([null, ''])('no body (%j) → 400 invalid-request', async (rawBody) => {
    const res = await invoke(testApi().api, post('summarize', 'serving', undefined, { rawBody }));
    expect(res.statusCode).toBe(400);
    expect(res.json.errors).toEqual([{ field: '', message: 'is required: a JSON object of schema SummarizeRequest' }]);
  });

  test('a body over 256 KiB → 413 payload-too-large, counted in UTF-8 bytes', async () => {
    // 100,000 three-byte characters are a valid prompt by the schema (maxLength 100000) but 300,000 bytes.
    const res = await invoke(testApi().api, post('generate', 'serving', { prompt: '€'.repeat(100_000) }));
    expect(res.statusCode).toBe(413);
    expect(res.json).toEqual(expect.objectContaining({ type: 'urn:fmft:problem:payload-too-large', retryable: false }));
    expect(res.json.detail).toBe(`The request body has 300013 bytes; at most ${MAX_BODY_BYTES} (256 KiB) are accepted.`);
  });

  test('a body of exactly 256 KiB is read (and refused by the schema, not by size)', async () => {
    const prefix = '{"prompt":"';
    const raw = prefix + 'a'.repeat(MAX_BODY_BYTES - prefix.length - 2) + '"}';
    expect(Buffer.byteLength(raw)).toBe(MAX_BODY_BYTES);
    const res = await invoke(testApi().api, post('generate', 'serving', undefined, { rawBody: raw }));
    expect(res.statusCode).toBe(400);
    expect(res.json.errors).toEqual([{ field: '/prompt', message: `must be from 1 to 100000 characters long, got ${MAX_BODY_BYTES - prefix.length - 2}` }]);
  });

  test.each([
    ['a character the pattern refuses', 'my_model', 'must match ^[a-zA-Z0-9](-*[a-zA-Z0-9])*$, got the string "my_model"'],
    ['a leading hyphen', '-serving', 'must match ^[a-zA-Z0-9](-*[a-zA-Z0-9])*$, got the string "-serving"'],
    ['more than 63 characters', 'm'.repeat(64), 'must be from 1 to 63 characters long, got 64'],
  ])('a model id with %s → 400 naming the parameter', async (_, model, message) => {
    const res = await invoke(testApi().api, post('generate', model, { prompt: 'x' }));
    expect(res.statusCode).toBe(400);
    expect(res.json.errors).toEqual([{ field: 'model', message }]);
  });

  test('a well-formed model id that is not served → 404 unknown-model naming it and listing the served ids', async () => {
    const res = await invoke(testApi().api, post('classify', 'llama-prod', { text: 'x', labels: ['a', 'b'] }));
    expect(res.statusCode).toBe(404);
    expect(res.json).toEqual(expect.objectContaining({ type: 'urn:fmft:problem:unknown-model', title: 'No such model', retryable: false }));
    expect(res.json.detail).toBe("No model 'llama-prod' is served here; served: serving, support-bot, claims-nova, batch-only.");
  });

  test.each([
    ['GET', '/models/{model}/generate'],
    ['DELETE', '/models'],
    ['POST', '/admin'],
  ])('%s %s → 404 not-found listing the routes', async (method, resource) => {
    const res = await invoke(testApi().api, requestEvent(method, resource, { model: 'serving' }));
    expect(res.statusCode).toBe(404);
    const problem = JSON.parse(res.body);
    expect(problem).toEqual(expect.objectContaining({ type: 'urn:fmft:problem:not-found', status: 404 }));
    expect(problem.detail).toContain('routes: GET /models, POST /models/{model}/generate, POST /models/{model}/generate-stream');
  });

  test('generate-stream on a model that does not stream → 400 naming the model, before the body is read', async () => {
    const res = await invokeStream(testApi().api, post('generate-stream', 'batch-only', { prompt: 'x' }));
    expect(res.prelude.statusCode).toBe(400);
    const problem = JSON.parse(res.body);
    expect(problem.detail).toBe("Model 'batch-only' is not served on generate-stream; use generate.");
    expect(problem.errors).toEqual([{ field: 'model', message: "'batch-only' does not stream; models that stream: serving, support-bot, claims-nova" }]);
  });

  test('the streaming handler refuses an invalid body with the problem as the whole response', async () => {
    const res = await invokeStream(testApi().api, post('generate-stream', 'serving', { prompt: 'x', parameters: { temperature: -1 } }));
    expect(res.prelude).toEqual({ statusCode: 400, headers: { 'Content-Type': 'application/problem+json' } });
    expect(JSON.parse(res.body).errors).toEqual([{ field: '/parameters/temperature', message: 'must be from 0 to 2, got -1' }]);
  });
});
