import { CreateTableCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { InvokeEndpointCommand } from '@aws-sdk/client-sagemaker-runtime';
import { cacheKey, ResponseCache } from '../../lib/api/cache';
import { CACHE_ATTRIBUTES, DynamoDbResponseCache } from '../../lib/api/cache-dynamodb';
import { configFromEnvironment } from '../../lib/api/config';
import { motoClientConfig, MotoServer, startMoto } from '../support/moto';
import { blob, invoke, post, SAGEMAKER_ENDPOINT, testApi, useSdkMocks } from './support';

const TGI_ANSWER = [{ generated_text: 'Paris', details: { finish_reason: 'eos_token', generated_tokens: 1 } }];

/** An in-memory cache that records what it is asked. */
function memoryCache(): ResponseCache & { gets: string[]; puts: string[]; store: Map<string, string> } {
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
