import { createHash } from 'crypto';
import { ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { CreateTableCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeEndpointCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { InvokeEndpointCommand, InvokeEndpointWithResponseStreamCommand } from '@aws-sdk/client-sagemaker-runtime';
import { cacheKey, ENDPOINT_VERSION_RETRY_MS, ENDPOINT_VERSION_TTL_MS, EndpointVersions, ResponseCache } from '../../lib/api/cache';
import { CACHE_ATTRIBUTES, DynamoDbResponseCache } from '../../lib/api/cache-dynamodb';
import { configFromEnvironment } from '../../lib/api/config';
import { endpointConfigLookup } from '../../lib/api/endpoint-config';
import { motoClientConfig, MotoServer, startMoto } from '../support/moto';
import {
  BEDROCK,
  blob,
  ENDPOINT_CONFIG,
  eventStream,
  INFERENCE_COMPONENT,
  invoke,
  invokeStream,
  memoryCache,
  NOT_STREAMING,
  payloadParts,
  post,
  SAGEMAKER_ENDPOINT,
  testApi,
  useSdkMocks,
} from './support';

const TGI_ANSWER = [{ generated_text: 'Paris', details: { finish_reason: 'eos_token', generated_tokens: 1 } }];

describe('inference API answer cache', () => {
  const sdk = useSdkMocks();
  const answer = () => sdk.sagemaker.on(InvokeEndpointCommand).resolves({ Body: blob(TGI_ANSWER), InvokedProductionVariant: 'current' });

  test('the key is the request with its defaults: an omitted default and the same value written out share an entry', () => {
    const m = SAGEMAKER_ENDPOINT;
    const a = cacheKey('generate', m, { prompt: 'p', maxNewTokens: 256, temperature: 0, topP: 1 });
    expect(cacheKey('generate', m, { topP: 1, temperature: 0, maxNewTokens: 256, prompt: 'p' })).toBe(a);
    expect(cacheKey('generate', m, { prompt: 'p', maxNewTokens: 256, temperature: 0, topP: 1, system: undefined })).toBe(a);
    expect(cacheKey('generate', m, { prompt: 'p', maxNewTokens: 255, temperature: 0, topP: 1 })).not.toBe(a);
    expect(cacheKey('summarize', m, { prompt: 'p', maxNewTokens: 256, temperature: 0, topP: 1 })).not.toBe(a);
    // A new model version is a new entry: answers of the old one are never served for it.
    expect(cacheKey('generate', { ...m, versions: [...m.versions, 'v5'] }, { prompt: 'p', maxNewTokens: 256, temperature: 0, topP: 1 })).not.toBe(a);
    expect(cacheKey('generate', { ...m, versions: [...m.versions].reverse() }, { prompt: 'p', maxNewTokens: 256, temperature: 0, topP: 1 })).toBe(a);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });

  test('a repeated greedy request is answered from the cache, marked cached, without calling the model', async () => {
    answer();
    const cache = memoryCache();
    const { api, metrics } = testApi({ cache });
    const first = await invoke(api, post('generate', 'serving', { prompt: 'Capital of France?' }));
    const second = await invoke(api, post('generate', 'serving', { prompt: 'Capital of France?', parameters: { maxNewTokens: 256, temperature: 0 } }));
    expect(first.json).toEqual({ model: 'serving', version: 'current', text: 'Paris', finishReason: 'stop', usage: { outputTokens: 1 }, cached: false });
    expect(second.json).toEqual({ ...first.json, cached: true });
    expect(sdk.sagemaker.commandCalls(InvokeEndpointCommand)).toHaveLength(1);
    expect(cache.puts).toHaveLength(1);
    expect(metrics.map((m) => [m.CacheHits, m.CacheMisses])).toEqual([
      [0, 1],
      [1, 0],
    ]);
    // Both are declared, so CloudWatch makes metrics of them (the dashboard's hit rate).
    for (const m of metrics) expect(m._aws.CloudWatchMetrics[0].Metrics.map((d: any) => d.Name)).toEqual(expect.arrayContaining(['CacheHits', 'CacheMisses']));
    expect(metrics[1].ModelLatency).toBeUndefined();
  });

  test('sampling, or cache: false, always asks the model and leaves the cache alone', async () => {
    answer();
    const cache = memoryCache();
    const { api, metrics } = testApi({ cache });
    await invoke(api, post('generate', 'serving', { prompt: 'p', parameters: { temperature: 0.7 } }));
    await invoke(api, post('generate', 'serving', { prompt: 'p', cache: false }));
    expect(cache.gets).toEqual([]);
    expect(cache.puts).toEqual([]);
    expect(sdk.sagemaker.commandCalls(InvokeEndpointCommand)).toHaveLength(2);
    for (const m of metrics) expect(m.CacheHits).toBeUndefined();
  });

  test('task routes are greedy, so they are cached too', async () => {
    sdk.sagemaker.on(InvokeEndpointCommand).resolves({ Body: blob([{ generated_text: 'Billing.' }]), InvokedProductionVariant: 'current' });
    const { api } = testApi({ cache: memoryCache() });
    const body = { text: 'I was charged twice', labels: ['billing', 'other'] };
    await invoke(api, post('classify', 'serving', body));
    const again = await invoke(api, post('classify', 'serving', body));
    expect(again.json).toMatchObject({ label: 'billing', cached: true });
    expect(sdk.sagemaker.commandCalls(InvokeEndpointCommand)).toHaveLength(1);
  });

  test('a failed answer is not stored', async () => {
    sdk.sagemaker.on(InvokeEndpointCommand).rejects(Object.assign(new Error('busy'), { name: 'ThrottlingException' }));
    const cache = memoryCache();
    const { api } = testApi({ cache });
    const res = await invoke(api, post('generate', 'serving', { prompt: 'p' }));
    expect(res.statusCode).toBe(429);
    expect(cache.gets).toHaveLength(1);
    expect(cache.puts).toEqual([]);
  });

  test('a cache that fails or hangs is a miss: the request is answered by the model, and the failure is logged and counted', async () => {
    answer();
    const failing: ResponseCache = { get: async () => Promise.reject(new Error('table gone')), put: async () => Promise.reject(new Error('table gone')) };
    const { api, metrics, errors } = testApi({ cache: failing });
    const res = await invoke(api, post('generate', 'serving', { prompt: 'p' }));
    expect(res.json).toMatchObject({ text: 'Paris', cached: false });
    expect(metrics[0]).toMatchObject({ CacheHits: 0, CacheMisses: 1, CacheError: true });
    expect(errors.map((e) => e.cache)).toEqual(['get', 'put']);

    const hanging: ResponseCache = { get: () => new Promise(() => undefined), put: async () => undefined };
    const slow = testApi({ cache: hanging });
    const started = Date.now();
    const late = await invoke(slow.api, post('generate', 'serving', { prompt: 'p' }));
    expect(late.json).toMatchObject({ text: 'Paris', cached: false });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  test('the environment names a cache table and its TTL together, or neither', () => {
    const base = { SERVED_MODELS: '[]', METRICS_NAMESPACE: 'n', MODEL_TIMEOUT_MS: '1000', AWS_REGION: 'us-east-1' };
    expect(configFromEnvironment({ ...base, CACHE_TABLE: 't', CACHE_TTL_SECONDS: '60' }).cache).toEqual({ tableName: 't', ttlSeconds: 60 });
    expect(configFromEnvironment(base).cache).toBeUndefined();
    expect(() => configFromEnvironment({ ...base, CACHE_TTL_SECONDS: '60' })).toThrow(/CACHE_TABLE is not set, but CACHE_TTL_SECONDS is/);
    expect(() => configFromEnvironment({ ...base, CACHE_TABLE: 't', CACHE_TTL_SECONDS: 'soon' })).toThrow(/CACHE_TTL_SECONDS: got "soon"; allowed: a whole number of seconds > 0/);
  });

  describe("the A/B endpoint's live endpoint config in the key", () => {
    const GREEDY = { prompt: 'Capital of France?' };
    const describeAnswers = (name: string) => sdk.sagemakerApi.on(DescribeEndpointCommand).resolves({ EndpointConfigName: name });
    const modelAnswers = (text: string) => sdk.sagemaker.on(InvokeEndpointCommand).resolves({ Body: blob([{ generated_text: text }]), InvokedProductionVariant: 'current' });
    const describeCalls = () => sdk.sagemakerApi.commandCalls(DescribeEndpointCommand).map((c) => c.args[0].input);

    test('the key: the live version makes a new entry; without one it is the key the cache had before live versions', () => {
      const m = SAGEMAKER_ENDPOINT;
      const request = { maxNewTokens: 256, prompt: 'p', temperature: 0, topP: 1 };
      const before = createHash('sha256').update(JSON.stringify(['generate', m.id, [...m.versions].sort(), request])).digest('hex');
      expect(cacheKey('generate', m, request)).toBe(before);
      expect(cacheKey('generate', m, request, 'config-1')).not.toBe(before);
      expect(cacheKey('generate', m, request, 'config-2')).not.toBe(cacheKey('generate', m, request, 'config-1'));
      expect(cacheKey('generate', m, request, 'config-1')).toBe(cacheKey('generate', m, { ...request }, 'config-1'));
    });

    test('a promotion, then a rollback: within a minute of a lookup the old answer is served; after it, the next identical request goes to the new model', async () => {
      let now = 5_000;
      const cache = memoryCache();
      const { api, metrics } = testApi({ cache, clock: () => now });
      const ask = async () => (await invoke(api, post('generate', 'serving', GREEDY))).json;

      describeAnswers('fmft-dev-llm-config-1');
      modelAnswers('Paris');
      expect(await ask()).toMatchObject({ text: 'Paris', cached: false });

      // The promotion deploys a new endpoint config (and a bad model); the looked-up name is kept for a minute.
      describeAnswers('fmft-dev-llm-config-2');
      modelAnswers('Lyon');
      now += ENDPOINT_VERSION_TTL_MS - 1;
      expect(await ask()).toMatchObject({ text: 'Paris', cached: true });
      now += 1;
      expect(await ask()).toMatchObject({ text: 'Lyon', cached: false });
      expect(await ask()).toMatchObject({ text: 'Lyon', cached: true });

      // The rollback deploys yet another config: the bad model's answers stop being served within the minute.
      describeAnswers('fmft-dev-llm-config-3');
      modelAnswers('Paris');
      now += ENDPOINT_VERSION_TTL_MS;
      expect(await ask()).toMatchObject({ text: 'Paris', cached: false });

      expect(describeCalls()).toEqual([{ EndpointName: 'fmft-dev-llm' }, { EndpointName: 'fmft-dev-llm' }, { EndpointName: 'fmft-dev-llm' }]);
      expect(sdk.sagemaker.commandCalls(InvokeEndpointCommand)).toHaveLength(3);
      expect(new Set(cache.puts).size).toBe(3);
      expect(metrics.map((m) => [m.CacheHits, m.CacheMisses, m.CacheError])).toEqual([
        [0, 1, undefined],
        [1, 0, undefined],
        [0, 1, undefined],
        [1, 0, undefined],
        [0, 1, undefined],
      ]);
    });

    test('a DescribeEndpoint that fails is a cache error: the model answers, nothing is read or stored, and a request 5 s later asks again', async () => {
      answer();
      sdk.sagemakerApi
        .on(DescribeEndpointCommand)
        .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }))
        .resolves({ EndpointConfigName: ENDPOINT_CONFIG });
      const cache = memoryCache();
      let now = 0;
      const { api, metrics, errors } = testApi({ cache, clock: () => now });
      const res = await invoke(api, post('generate', 'serving', GREEDY, { requestId: 'req-7' }));
      expect(res.json).toMatchObject({ text: 'Paris', cached: false });
      expect(metrics[0]).toMatchObject({ CacheHits: 0, CacheMisses: 1, CacheError: true });
      expect(errors).toEqual([
        { level: 'WARN', requestId: 'req-7', route: 'generate', model: 'serving', cache: 'version', error: { name: 'ThrottlingException', message: 'Rate exceeded' } },
      ]);
      expect([cache.gets, cache.puts]).toEqual([[], []]);

      // Within ENDPOINT_VERSION_RETRY_MS the failure answers without a call (no pile-up on a throttled API) ...
      now = ENDPOINT_VERSION_RETRY_MS - 1;
      await invoke(api, post('generate', 'serving', GREEDY));
      expect(metrics[1]).toMatchObject({ CacheHits: 0, CacheMisses: 1, CacheError: true });
      expect(describeCalls()).toHaveLength(1);
      // ... then the next request asks again.
      now = ENDPOINT_VERSION_RETRY_MS;
      await invoke(api, post('generate', 'serving', GREEDY));
      expect(metrics[2]).toMatchObject({ CacheHits: 0, CacheMisses: 1 });
      expect(metrics[2].CacheError).toBeUndefined();
      expect([cache.gets.length, cache.puts.length, describeCalls().length]).toEqual([1, 1, 2]);
      expect(sdk.sagemaker.commandCalls(InvokeEndpointCommand)).toHaveLength(3);
    });

    test('a DescribeEndpoint that hangs is a cache error after the cache lookup limit; later requests share the call instead of making more', async () => {
      answer();
      sdk.sagemakerApi.on(DescribeEndpointCommand).callsFake(() => new Promise(() => undefined));
      const cache = memoryCache();
      const { api, metrics, errors } = testApi({ cache });
      const started = Date.now();
      const res = await invoke(api, post('generate', 'serving', GREEDY));
      expect(Date.now() - started).toBeLessThan(2000);
      expect(res.json).toMatchObject({ text: 'Paris', cached: false });
      expect(metrics[0]).toMatchObject({ CacheMisses: 1, CacheError: true });
      expect(errors).toEqual([expect.objectContaining({ level: 'WARN', cache: 'version', error: { name: 'Error', message: 'endpoint config lookup took over 500 ms' } })]);
      expect([cache.gets, cache.puts]).toEqual([[], []]);
      await invoke(api, post('classify', 'serving', { text: 'x', labels: ['Paris', 'Rome'] }));
      expect(describeCalls()).toHaveLength(1);
      expect(errors).toHaveLength(2);
    });

    test('no DescribeEndpoint without a cache, for requests that are not cached, for streams, or for inference components and Bedrock models', async () => {
      answer();
      sdk.sagemaker.on(InvokeEndpointWithResponseStreamCommand).resolves({ Body: eventStream(payloadParts('data: {"token": {"text": "P"}}\n\n')) as never });
      sdk.bedrock.on(ConverseCommand).resolves({ output: { message: { role: 'assistant', content: [{ text: 'Paris' }] } }, stopReason: 'end_turn' });
      const uncached = testApi();
      await invoke(uncached.api, post('generate', 'serving', GREEDY));
      await invoke(uncached.api, post('classify', 'serving', { text: 'x', labels: ['Paris', 'Rome'] }));
      const cache = memoryCache();
      const { api, metrics } = testApi({ cache });
      await invoke(api, post('generate', 'serving', { ...GREEDY, parameters: { temperature: 0.7 } }));
      await invoke(api, post('generate', 'serving', { ...GREEDY, cache: false }));
      await invokeStream(api, post('generate-stream', 'serving', GREEDY));
      await invoke(api, post('generate', INFERENCE_COMPONENT.id, GREEDY));
      await invoke(api, post('generate', BEDROCK.id, GREEDY));
      expect(describeCalls()).toEqual([]);
      // The last two were cached, on their configured versions.
      expect(cache.gets).toEqual([
        cacheKey('generate', INFERENCE_COMPONENT, { prompt: GREEDY.prompt, maxNewTokens: 256, temperature: 0, topP: 1 }),
        cacheKey('generate', BEDROCK, { prompt: GREEDY.prompt, maxNewTokens: 256, temperature: 0, topP: 1 }),
      ]);
      expect(metrics.map((m) => m.CacheMisses)).toEqual([undefined, undefined, undefined, 1, 1]);
    });

    test('requests during a lookup share it; each endpoint has its own', async () => {
      answer();
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      sdk.sagemakerApi.on(DescribeEndpointCommand).callsFake(async (input: { EndpointName: string }) => {
        await gate;
        return { EndpointConfigName: `${input.EndpointName}-config-1` };
      });
      const cache = memoryCache();
      const { api, metrics } = testApi({ cache });
      const pending = Promise.all([
        invoke(api, post('generate', 'serving', GREEDY)),
        invoke(api, post('classify', 'serving', { text: 'x', labels: ['Paris', 'Rome'] })),
        invoke(api, post('summarize', 'serving', { document: 'd' })),
        invoke(api, post('generate', NOT_STREAMING.id, GREEDY)),
        invoke(api, post('generate', NOT_STREAMING.id, { prompt: 'other' })),
      ]);
      await new Promise((resolve) => setTimeout(resolve, 20));
      release();
      const answers = await pending;
      expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 200, 200, 200]);
      expect(describeCalls()).toEqual([{ EndpointName: 'fmft-dev-llm' }, { EndpointName: 'fmft-dev-batch' }]);
      expect(metrics.map((m) => m.CacheError)).toEqual([undefined, undefined, undefined, undefined, undefined]);
      expect(cache.gets).toHaveLength(5);
    });

    test('the lookup: the config name, and while an update is in progress the pending one with it', async () => {
      const client = new SageMakerClient({ region: 'us-east-1' });
      const lookup = endpointConfigLookup('us-east-1', client);
      expect(await lookup('fmft-dev-llm')).toBe(ENDPOINT_CONFIG);
      sdk.sagemakerApi.on(DescribeEndpointCommand).resolves({ EndpointConfigName: 'config-1', EndpointStatus: 'Updating', PendingDeploymentSummary: { EndpointConfigName: 'config-2' } });
      expect(await lookup('fmft-dev-llm')).toBe('config-1 -> config-2');
      sdk.sagemakerApi.on(DescribeEndpointCommand).resolves({});
      await expect(lookup('fmft-dev-llm')).rejects.toThrow('DescribeEndpoint of fmft-dev-llm answered no EndpointConfigName');
    });

    test('the memo: one lookup per endpoint per minute by its clock, a failure kept for 5 s', async () => {
      let now = 0;
      const asked: string[] = [];
      let fail = false;
      const versions = new EndpointVersions(async (name) => {
        asked.push(name);
        if (fail) throw new Error('no');
        return `${name}@${now}`;
      }, () => now);
      expect(await versions.get('a')).toBe('a@0');
      now = ENDPOINT_VERSION_TTL_MS - 1;
      expect(await versions.get('a')).toBe('a@0');
      expect(await versions.get('b')).toBe(`b@${now}`);
      now = ENDPOINT_VERSION_TTL_MS;
      fail = true;
      await expect(versions.get('a')).rejects.toThrow('no');
      fail = false;
      now += ENDPOINT_VERSION_RETRY_MS - 1;
      await expect(versions.get('a')).rejects.toThrow('no');
      expect(await versions.get('b')).toBe('b@' + (ENDPOINT_VERSION_TTL_MS - 1));
      now += 1;
      expect(await versions.get('a')).toBe(`a@${now}`);
      expect(asked).toEqual(['a', 'b', 'a', 'a']);
    });
  });
});

describe('inference API answer cache on DynamoDB (moto server)', () => {
  let moto: MotoServer;
  let client: DynamoDBClient;
  beforeAll(async () => {
    moto = await startMoto();
    client = new DynamoDBClient(motoClientConfig(moto.endpoint));
    await client.send(
      new CreateTableCommand({
        TableName: 'answers',
        AttributeDefinitions: [{ AttributeName: CACHE_ATTRIBUTES.key, AttributeType: 'S' }],
        KeySchema: [{ AttributeName: CACHE_ATTRIBUTES.key, KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  });
  afterAll(() => moto.stop());

  test('stores the body with its expiry, reads it back, and treats an expired item as a miss', async () => {
    let now = 1_000_000;
    const cache = new DynamoDbResponseCache(client, 'answers', 3600, () => now);
    const signal = new AbortController().signal;
    expect(await cache.get('k', signal)).toBeUndefined();
    await cache.put('k', '{"text":"Paris"}');
    const item = (await client.send(new GetItemCommand({ TableName: 'answers', Key: { key: { S: 'k' } } }))).Item!;
    expect(item).toEqual({ key: { S: 'k' }, body: { S: '{"text":"Paris"}' }, expiresAt: { N: String(1_000_000 + 3600) } });
    expect(await cache.get('k', signal)).toBe('{"text":"Paris"}');
    // DynamoDB deletes expired items within days, not at once: the cache does not wait for it.
    now += 3600;
    expect(await cache.get('k', signal)).toBeUndefined();
  });
});
