import openapi from '../../api/openapi.json';
import problems from '../../api/problems.json';
import { configFromEnvironment } from '../../lib/api/config';
import { OPERATION_IDS, ROUTES } from '../../lib/api/contract';
import { MODEL_BACKENDS, MODEL_ID_MAX_LENGTH, MODEL_ID_PATTERN, parseServedModels, VERSION_MAX_LENGTH } from '../../lib/api/served-models';
import { CollectingStream, listModels, MODELS, splitStreamed } from './support';

// SERVED_MODELS, the construct-to-handler contract, is parsed strictly; the environment is read once and a
// bad one fails with a message naming each variable; the runtime's constants agree with the contract files.

const valid = (overrides: Record<string, unknown> = {}, index = 0) => {
  const models: Record<string, unknown>[] = MODELS.map((m) => ({ ...m }));
  models[index] = { ...models[index], ...overrides };
  for (const [key, value] of Object.entries(models[index])) if (value === undefined) delete models[index][key];
  return JSON.stringify(models);
};

describe('inference API served models and environment', () => {
  test('a valid SERVED_MODELS is parsed to the same models, frozen', () => {
    const models = parseServedModels(JSON.stringify(MODELS));
    expect(models).toEqual(MODELS);
    expect(Object.isFrozen(models[0])).toBe(true);
    expect(Object.isFrozen(models[0].versions)).toBe(true);
  });

  test.each([
    ['not JSON', '[{"id": "serving",}]', /^SERVED_MODELS is not JSON \(.+\); allowed: a JSON array of served models$/],
    ['not an array', '{"id": "serving"}', /^SERVED_MODELS: got \{"id":"serving"\}; allowed: a JSON array of served models$/],
    ['an entry that is not an object', '["serving"]', /\[0\]: got "serving"; allowed: an object with id, backend/],
    ['a missing id', valid({ id: undefined }), /\[0\]\.id: got undefined; allowed: 1-63 letters, digits and inner hyphens/],
    ['an id the ModelId pattern refuses', valid({ id: 'my_model' }), /\[0\]\.id: got "my_model"/],
    ['an id of 64 characters', valid({ id: 'm'.repeat(64) }), /\[0\]\.id: got "m+\.\.\.; allowed/],
    ['an unknown backend', valid({ backend: 'sagemaker' }), /\[0\]\.backend: got "sagemaker"; allowed: sagemaker-endpoint, sagemaker-inference-component, bedrock/],
    ['an endpoint without endpointName', valid({ endpointName: undefined }), /\[0\]\.endpointName: got undefined; backend sagemaker-endpoint needs it/],
    ['a component without inferenceComponentName', valid({ inferenceComponentName: '' }, 1), /\[1\]\.inferenceComponentName: got ""; backend sagemaker-inference-component needs it/],
    ['bedrock without modelArn', valid({ modelArn: undefined }, 2), /\[2\]\.modelArn: got undefined; backend bedrock needs it/],
    ['bedrock with an endpointName', valid({ endpointName: 'x' }, 2), /\[2\]\.endpointName: not allowed for backend bedrock \(it takes modelArn\)/],
    ['an endpoint with an inferenceComponentName', valid({ inferenceComponentName: 'x' }), /\[0\]\.inferenceComponentName: not allowed for backend sagemaker-endpoint/],
    ['versions not an array', valid({ versions: 'arn:x' }), /\[0\]\.versions: got "arn:x"; allowed: an array of non-empty strings/],
    ['an empty version', valid({ versions: [''] }), /\[0\]\.versions: got \[""\]/],
    ['a version longer than 2048 characters', valid({ versions: ['a'.repeat(2049)] }), /\[0\]\.versions: got .*; allowed: an array of non-empty strings of at most 2048 characters/],
    ['streaming not a boolean', valid({ streaming: 'yes' }), /\[0\]\.streaming: got "yes"; allowed: true or false/],
    ['an unknown field', valid({ endpoint: 'x' }), /\[0\]\.endpoint: unknown field; allowed: id, backend, endpointName, inferenceComponentName, modelArn, versions, streaming/],
    ['an id served twice', valid({ id: 'support-bot' }), /\[1\]\.id: 'support-bot' is served twice \(first at \[0\]\)/],
  ])('%s → an error naming the field', (_, text, message) => {
    expect(() => parseServedModels(text)).toThrow(message);
  });

  test('every problem of every entry is reported at once', () => {
    const text = JSON.stringify([{ id: '-x', backend: 'bedrock', versions: [], streaming: true }, { id: 'y', backend: 'nope', versions: [], streaming: 1 }]);
    expect(() => parseServedModels(text)).toThrow(/Invalid SERVED_MODELS:\n- \[0\]\.id: .*\n- \[0\]\.modelArn: .*\n- \[1\]\.backend: .*\n- \[1\]\.streaming: .*$/);
  });

  test('configFromEnvironment names every missing or malformed variable', () => {
    expect(() => configFromEnvironment({ SERVED_MODELS: '[{}]', MODEL_TIMEOUT_MS: '2.5' })).toThrow(
      /^The inference API's environment is invalid:\n- Invalid SERVED_MODELS:\n(  - \[0\].*\n)+- METRICS_NAMESPACE is not set; allowed: a CloudWatch namespace\n- MODEL_TIMEOUT_MS: got "2\.5"; allowed: a whole number of milliseconds > 0\n- AWS_REGION is not set$/,
    );
    expect(configFromEnvironment({ SERVED_MODELS: JSON.stringify(MODELS), METRICS_NAMESPACE: 'NS', MODEL_TIMEOUT_MS: '25000', AWS_REGION: 'eu-west-1' })).toEqual({
      models: MODELS,
      metricsNamespace: 'NS',
      modelTimeoutMs: 25000,
      region: 'eu-west-1',
    });
  });

  describe('the exported handlers read the environment once', () => {
    const saved = { ...process.env };
    afterEach(() => {
      process.env = { ...saved };
    });

    function loadHandlerModule(): typeof import('../../lib/api/handler') {
      let loaded: typeof import('../../lib/api/handler') | undefined;
      jest.isolateModules(() => {
        loaded = require('../../lib/api/handler');
      });
      return loaded!;
    }

    test('a malformed SERVED_MODELS fails every request with the same clear error', async () => {
      Object.assign(process.env, { SERVED_MODELS: '[{"id": "serving", "backend": "sagemaker-endpoint"}]', METRICS_NAMESPACE: 'NS', MODEL_TIMEOUT_MS: '1000', AWS_REGION: 'us-east-1' });
      const { handler } = loadHandlerModule();
      await expect(handler(listModels())).rejects.toThrow(/\[0\]\.endpointName: got undefined; backend sagemaker-endpoint needs it/);
      process.env.SERVED_MODELS = JSON.stringify(MODELS);
      // Read once: fixing the variable does not change a container that already read it.
      await expect(handler(listModels())).rejects.toThrow(/\[0\]\.endpointName/);
    });

    test('inside Lambda (AWS_LAMBDA_FUNCTION_NAME set) a malformed environment is reported at init, before any request', () => {
      Object.assign(process.env, { AWS_LAMBDA_FUNCTION_NAME: 'fmft-dev-api', SERVED_MODELS: 'nope', METRICS_NAMESPACE: 'NS', MODEL_TIMEOUT_MS: '1000', AWS_REGION: 'us-east-1' });
      const log = jest.spyOn(console, 'error').mockImplementation(() => undefined);
      try {
        loadHandlerModule();
        expect(log).toHaveBeenCalledTimes(1);
        expect(JSON.parse(String(log.mock.calls[0][0]))).toEqual({ level: 'ERROR', phase: 'init', message: expect.stringContaining('SERVED_MODELS is not JSON') });
      } finally {
        log.mockRestore();
      }
    });

    test('a valid environment serves GET /models through `handler` and `streamHandler`', async () => {
      Object.assign(process.env, { SERVED_MODELS: JSON.stringify(MODELS), METRICS_NAMESPACE: 'NS', MODEL_TIMEOUT_MS: '1000', AWS_REGION: 'us-east-1' });
      const { handler, streamHandler } = loadHandlerModule();
      const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
      try {
        const res = await handler(listModels());
        expect(res.statusCode).toBe(200);
        expect(JSON.parse(res.body).models.map((m: { id: string }) => m.id)).toEqual(MODELS.map((m) => m.id));
        const stream = new CollectingStream();
        await streamHandler(listModels(), stream);
        expect(JSON.parse(splitStreamed(stream.bytes()).body)).toEqual(JSON.parse(res.body));
      } finally {
        write.mockRestore();
      }
    });
  });

  describe('the runtime agrees with the contract files', () => {
    test('the ModelId pattern and length of served-models.ts are the schema\'s', () => {
      expect(MODEL_ID_PATTERN.source).toBe(openapi.components.schemas.ModelId.pattern);
      expect(MODEL_ID_MAX_LENGTH).toBe(openapi.components.schemas.ModelId.maxLength);
      expect(VERSION_MAX_LENGTH).toBe(openapi.components.schemas.ServedModel.properties.versions.items.maxLength);
      expect(VERSION_MAX_LENGTH).toBe(openapi.components.schemas.GenerateResponse.properties.version.maxLength);
      expect([...MODEL_BACKENDS]).toEqual(openapi.components.schemas.ServedModel.properties.backend.enum);
    });

    test('every operation of the document is routed, with its request schema', () => {
      expect([...ROUTES.values()].map((r) => [r.method, r.resource, r.operationId, r.requestSchema])).toEqual([
        ['GET', '/models', 'listModels', undefined],
        ['POST', '/models/{model}/generate', 'generate', 'GenerateRequest'],
        ['POST', '/models/{model}/generate-stream', 'generateStream', 'GenerateRequest'],
        ['POST', '/models/{model}/classify', 'classify', 'ClassifyRequest'],
        ['POST', '/models/{model}/summarize', 'summarize', 'SummarizeRequest'],
        ['POST', '/models/{model}/answer', 'answer', 'AnswerRequest'],
      ]);
      expect(new Set([...ROUTES.values()].map((r) => r.operationId))).toEqual(new Set(OPERATION_IDS));
    });

    test('every 429, 503 and 504 problem has retryAfterSeconds, so its responses carry Retry-After', () => {
      for (const [code, type] of Object.entries(problems.problems) as [string, { status: number; retryAfterSeconds?: number }][]) {
        if ([429, 503, 504].includes(type.status)) expect([code, Number.isInteger(type.retryAfterSeconds)]).toEqual([code, true]);
      }
    });
  });
});
