import { CreateEndpointCommand, CreateEndpointConfigCommand, CreateModelCommand, DeleteEndpointCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { ENDPOINT_VERSION_TTL_MS } from '../../lib/api/cache';
import { MotoServer, motoClientConfig, startMoto } from '../support/moto';
import { invoke, memoryCache, post, testApi } from './support';

// The real handler and the real SDK client over HTTP against moto's SageMaker runtime on loopback. moto answers
// InvokeEndpoint with results queued through /moto-api/static/sagemaker/endpoint-results (body, content type,
// invoked variant), one per distinct request. moto has neither InvokeEndpointWithResponseStream nor Bedrock
// Converse, so streaming and Bedrock are covered by the SDK mocks only. The answer cache's DescribeEndpoint goes
// to moto's SageMaker control plane, where the test creates the endpoint.

describe('inference API against moto (SageMaker runtime over HTTP)', () => {
  let moto: MotoServer;
  let client: SageMakerRuntimeClient;
  let control: SageMakerClient;

  beforeAll(async () => {
    moto = await startMoto();
    client = new SageMakerRuntimeClient(motoClientConfig(moto.endpoint));
    control = new SageMakerClient(motoClientConfig(moto.endpoint));
  }, 60_000);

  afterAll(async () => {
    client?.destroy();
    control?.destroy();
    await moto?.stop();
  });

  async function queueResults(results: { Body: string; ContentType: string; InvokedProductionVariant: string }[]): Promise<void> {
    const response = await fetch(`${moto.endpoint}/moto-api/static/sagemaker/endpoint-results`, { method: 'POST', body: JSON.stringify({ region: 'us-east-1', results }) });
    expect(response.status).toBe(201);
  }

  test('generate and classify: the answer moto holds flows back through the SDK, the handler and the contract', async () => {
    await queueResults([
      { Body: JSON.stringify([{ generated_text: ' Paris.', details: { finish_reason: 'eos_token', generated_tokens: 2 } }]), ContentType: 'application/json', InvokedProductionVariant: 'variant-b' },
      { Body: JSON.stringify({ generated_text: 'Negative', details: { finish_reason: 'eos_token' } }), ContentType: 'application/json', InvokedProductionVariant: 'variant-a' },
    ]);
    const { api, metrics } = testApi({ clients: { sagemaker: client } });

    const generated = await invoke(api, post('generate', 'serving', { prompt: 'Capital of France?' }));
    expect(generated.statusCode).toBe(200);
    expect(generated.json).toEqual({ model: 'serving', version: 'variant-b', text: ' Paris.', finishReason: 'stop', usage: { outputTokens: 2 }, cached: false });

    const classified = await invoke(api, post('classify', 'serving', { text: 'It broke on day one.', labels: ['positive', 'negative'] }));
    expect(classified.json).toEqual({ model: 'serving', version: 'variant-a', label: 'negative', text: 'Negative', cached: false });

    // moto keeps each answer for its request: the same request again gets the same answer over HTTP.
    const again = await invoke(api, post('generate', 'serving', { prompt: 'Capital of France?' }));
    expect(again.json.text).toBe(' Paris.');
    expect(metrics.map((m) => [m.Route, m.StatusCode, typeof m.ModelLatency])).toEqual([
      ['generate', 200, 'number'],
      ['classify', 200, 'number'],
      ['generate', 200, 'number'],
    ]);
  });

  test("with a cache: the endpoint's config comes from DescribeEndpoint over HTTP, and a new config is a new entry once a minute has passed", async () => {
    await control.send(
      new CreateModelCommand({
        ModelName: 'fmft-dev-llm-model',
        ExecutionRoleArn: 'arn:aws:iam::123456789012:role/fmft-dev-endpoint',
        PrimaryContainer: { Image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/tgi:latest' },
      }),
    );
    for (const name of ['fmft-dev-llm-config-1', 'fmft-dev-llm-config-2']) {
      await control.send(
        new CreateEndpointConfigCommand({
          EndpointConfigName: name,
          ProductionVariants: [{ VariantName: 'current', ModelName: 'fmft-dev-llm-model', InitialInstanceCount: 1, InstanceType: 'ml.m5.large' }],
        }),
      );
    }
    await control.send(new CreateEndpointCommand({ EndpointName: 'fmft-dev-llm', EndpointConfigName: 'fmft-dev-llm-config-1' }));
    await queueResults([{ Body: JSON.stringify([{ generated_text: ' Rome.' }]), ContentType: 'application/json', InvokedProductionVariant: 'current' }]);
    let now = 0;
    const cache = memoryCache();
    const { api, metrics, errors } = testApi({ clients: { sagemaker: client, sagemakerApi: control }, cache, clock: () => now });
    const ask = async () => (await invoke(api, post('generate', 'serving', { prompt: 'Capital of Italy?' }))).json;

    expect(await ask()).toMatchObject({ text: ' Rome.', cached: false });
    expect(await ask()).toMatchObject({ text: ' Rome.', cached: true });
    // moto has no UpdateEndpoint: the endpoint is made again on the promotion's config.
    await control.send(new DeleteEndpointCommand({ EndpointName: 'fmft-dev-llm' }));
    await control.send(new CreateEndpointCommand({ EndpointName: 'fmft-dev-llm', EndpointConfigName: 'fmft-dev-llm-config-2' }));
    now += ENDPOINT_VERSION_TTL_MS;
    expect(await ask()).toMatchObject({ text: ' Rome.', cached: false });
    expect(await ask()).toMatchObject({ text: ' Rome.', cached: true });

    expect(errors).toEqual([]);
    expect(metrics.map((m) => [m.CacheHits, typeof m.ModelLatency])).toEqual([
      [0, 'number'],
      [1, 'undefined'],
      [0, 'number'],
      [1, 'undefined'],
    ]);
    expect(new Set(cache.puts).size).toBe(2);
  });
});
