import { BedrockRuntimeServiceException, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { InvokeEndpointCommand, ModelError, SageMakerRuntimeServiceException } from '@aws-sdk/client-sagemaker-runtime';
import problems from '../../api/problems.json';
import { BEDROCK_ERRORS } from '../../lib/api/backends/bedrock';
import { SAGEMAKER_ERRORS } from '../../lib/api/backends/sagemaker';
import { blob, invoke, post, testApi, useSdkMocks } from './support';

// Each backend exception becomes the documented problem: code, status, retryable and Retry-After all from
// api/problems.json; the AWS message (which can name accounts and ARNs) never reaches the response.

const SECRET = 'arn:aws:sagemaker:us-east-1:123456789012:endpoint/fmft-dev-llm';

function sagemakerError(name: string, extra: Record<string, unknown> = {}): Error {
  if (name === 'ModelError') return new ModelError({ $metadata: {}, message: `Received client error from primary with message ${SECRET}`, ...extra });
  return Object.assign(new SageMakerRuntimeServiceException({ name, $fault: 'client', $metadata: {}, message: `Failure on ${SECRET}` }), extra);
}

function bedrockError(name: string): Error {
  return new BedrockRuntimeServiceException({ name, $fault: 'client', $metadata: {}, message: `Failure on ${SECRET}` });
}

/** The exception classes an SDK package exports (subclasses of its service exception). */
function exceptionNames(sdkModule: Record<string, unknown>, base: abstract new (...args: never[]) => Error): string[] {
  return Object.entries(sdkModule)
    .filter(([, value]) => typeof value === 'function' && (value as { prototype: unknown }).prototype instanceof base)
    .map(([name]) => name)
    .sort();
}

type Code = keyof typeof problems.problems;

function expectProblem(res: { statusCode: number; headers: Readonly<Record<string, string>>; json: any }, code: Code): void {
  const type = problems.problems[code] as { status: number; retryable: boolean; retryAfterSeconds?: number };
  expect(res.statusCode).toBe(type.status);
  expect(res.json).toEqual(expect.objectContaining({ type: `urn:fmft:problem:${code}`, status: type.status, retryable: type.retryable }));
  expect(res.json.retryAfterSeconds).toBe(type.retryAfterSeconds);
  expect(res.headers['Retry-After']).toBe(type.retryAfterSeconds === undefined ? undefined : String(type.retryAfterSeconds));
  expect(JSON.stringify(res.json)).not.toContain('123456789012');
}

describe('inference API backend errors', () => {
  const sdk = useSdkMocks();

  describe('SageMaker runtime', () => {
    test.each([
      ['ModelError', { OriginalStatusCode: 400 }, 'rejected-by-model', 422],
      ['ModelError', { OriginalStatusCode: 413 }, 'rejected-by-model', 422],
      ['ModelError', { OriginalStatusCode: 422 }, 'rejected-by-model', 422],
      ['ModelError', { OriginalStatusCode: 424 }, 'rejected-by-model', 422],
      ['ModelError', { OriginalStatusCode: 408 }, 'model-timeout', 504],
      ['ModelError', { OriginalStatusCode: 429 }, 'model-throttled', 429],
      ['ModelError', { OriginalStatusCode: 500 }, 'model-error', 502],
      ['ModelError', {}, 'model-error', 502],
      ['ModelNotReadyException', {}, 'model-not-ready', 503],
      ['ServiceUnavailable', {}, 'model-not-ready', 503],
      ['ThrottlingException', {}, 'model-throttled', 429],
      ['ValidationError', {}, 'internal', 500],
      ['InternalFailure', {}, 'model-error', 502],
      ['InternalDependencyException', {}, 'model-error', 502],
    ] as const)('%s %j → %s (%d)', async (name, extra, code, status) => {
      sdk.sagemaker.on(InvokeEndpointCommand).rejects(sagemakerError(name, extra));
      const { api, errors } = testApi();
      const res = await invoke(api, post('generate', 'serving', { prompt: 'x' }));
      expect(res.statusCode).toBe(status);
      expectProblem(res, code);
      // 5xx are logged with the request id and the AWS exception; 4xx are the caller's to fix.
      if (status >= 500) expect(errors).toEqual([expect.objectContaining({ requestId: 'req-0001', problem: code, error: expect.objectContaining({ name }) })]);
      else expect(errors).toEqual([]);
    });

    test('every exception the SDK models is in the table, and ThrottlingException, which it does not model', async () => {
      const sdkModule = await import('@aws-sdk/client-sagemaker-runtime');
      expect(Object.keys(SAGEMAKER_ERRORS).sort()).toEqual([...exceptionNames(sdkModule, SageMakerRuntimeServiceException), 'ThrottlingException'].sort());
    });

    test('a model-throttled answer says so and when to retry', async () => {
      sdk.sagemaker.on(InvokeEndpointCommand).rejects(sagemakerError('ThrottlingException'));
      const res = await invoke(testApi().api, post('classify', 'serving', { text: 'x', labels: ['a', 'b'] }));
      expect(res.json).toEqual({
        type: 'urn:fmft:problem:model-throttled',
        title: 'The model is at capacity',
        status: 429,
        detail: "SageMaker throttled the call to model 'serving': it is at capacity.",
        instance: 'req-0001',
        retryable: true,
        retryAfterSeconds: 2,
      });
      expect(res.headers).toEqual({ 'Content-Type': 'application/problem+json', 'Retry-After': '2' });
    });
  });

  describe('Bedrock runtime', () => {
    test.each([
      ['ThrottlingException', 'model-throttled'],
      ['ServiceQuotaExceededException', 'model-throttled'],
      ['ModelNotReadyException', 'model-not-ready'],
      ['ServiceUnavailableException', 'model-not-ready'],
      ['ModelTimeoutException', 'model-timeout'],
      ['ValidationException', 'rejected-by-model'],
      ['ModelErrorException', 'model-error'],
      ['InternalServerException', 'model-error'],
      ['ResourceNotFoundException', 'internal'],
      ['AccessDeniedException', 'internal'],
    ] as const)('%s → %s', async (name, code) => {
      sdk.bedrock.on(ConverseCommand).rejects(bedrockError(name));
      const res = await invoke(testApi().api, post('generate', 'claims-nova', { prompt: 'x' }));
      expectProblem(res, code);
    });

    test('every exception the runtime models is in the table, ConflictException aside (no Converse call raises it)', async () => {
      const sdkModule = await import('@aws-sdk/client-bedrock-runtime');
      const modelled = exceptionNames(sdkModule, BedrockRuntimeServiceException).filter((name) => name !== 'ConflictException');
      expect(Object.keys(BEDROCK_ERRORS).sort()).toEqual(modelled.sort());
    });
  });

  test.each(['AbortError', 'TimeoutError'])('an SDK %s (abort signal, socket timeout) → 504 model-timeout', async (name) => {
    sdk.sagemaker.on(InvokeEndpointCommand).rejects(Object.assign(new Error('aborted'), { name }));
    const res = await invoke(testApi().api, post('generate', 'serving', { prompt: 'x' }));
    expectProblem(res, 'model-timeout');
  });

  test('a backend slower than MODEL_TIMEOUT_MS → 504 model-timeout after the timeout, and the SDK call is aborted', async () => {
    const { api } = testApi({ modelTimeoutMs: 30 });
    // The mock ignores the abort signal, as a hung socket would; the handler answers anyway.
    sdk.sagemaker.on(InvokeEndpointCommand).callsFake(() => new Promise((resolve) => setTimeout(() => resolve({ Body: blob([{ generated_text: 'late' }]) }), 300)));
    const started = Date.now();
    const res = await invoke(api, post('generate', 'serving', { prompt: 'x' }));
    expect(Date.now() - started).toBeLessThan(250);
    expectProblem(res, 'model-timeout');
    expect(res.json.detail).toBe("Model 'serving' did not answer within 30 ms; a smaller maxNewTokens or the streaming route may help.");
    const options = (sdk.sagemaker.commandCalls(InvokeEndpointCommand)[0].args as unknown[])[1] as { abortSignal: AbortSignal };
    expect(options.abortSignal.aborted).toBe(true);
  });

  test('an error that is not an AWS exception → 500 internal, logged with the request id and stack, no stack in the response', async () => {
    sdk.sagemaker.on(InvokeEndpointCommand).rejects(new TypeError(`Cannot read properties of undefined (reading 'x') at ${SECRET}`));
    const { api, errors } = testApi();
    const res = await invoke(api, post('generate', 'serving', { prompt: 'x', system: 's' }, { requestId: 'req-9' }));
    expectProblem(res, 'internal');
    expect(res.json.detail).toBe('The API could not call the model; the request id is in instance.');
    expect(res.json.instance).toBe('req-9');
    expect(res.body).not.toMatch(/TypeError|at /);
    expect(errors).toEqual([
      expect.objectContaining({ level: 'ERROR', requestId: 'req-9', route: 'generate', model: 'serving', problem: 'internal', error: expect.objectContaining({ name: 'TypeError', stack: expect.stringContaining('TypeError') }) }),
    ]);
  });

  test.each([
    ['not JSON', 'Internal Server Error', 'not JSON'],
    ['JSON without generated_text', '{"outputs": []}', 'no generated_text'],
  ])('a SageMaker answer that is %s → 502 model-error', async (_, body, what) => {
    sdk.sagemaker.on(InvokeEndpointCommand).resolves({ Body: blob(body) });
    const res = await invoke(testApi().api, post('generate', 'serving', { prompt: 'x' }));
    expectProblem(res, 'model-error');
    expect(res.json.detail).toBe(`Model 'serving' on SageMaker answered in a shape the API cannot read (${what}).`);
  });

  test("LMI's failed generation (200 with details.finish_reason 'error') → 502 model-error", async () => {
    sdk.sagemaker.on(InvokeEndpointCommand).resolves({ Body: blob({ generated_text: '', details: { finish_reason: 'error', generated_tokens: null } }) });
    const res = await invoke(testApi().api, post('generate', 'support-bot', { prompt: 'x' }));
    expectProblem(res, 'model-error');
  });

  test('a Converse answer without output.message → 502 model-error', async () => {
    sdk.bedrock.on(ConverseCommand).resolves({ output: undefined, stopReason: 'end_turn', usage: undefined, metrics: undefined });
    const res = await invoke(testApi().api, post('generate', 'claims-nova', { prompt: 'x' }));
    expectProblem(res, 'model-error');
  });
});
