import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { MotoServer, motoClientConfig, startMoto } from '../support/moto';
import { invoke, post, testApi } from './support';

// The real handler and the real SDK client over HTTP against moto's SageMaker runtime on loopback. moto answers
// InvokeEndpoint with results queued through /moto-api/static/sagemaker/endpoint-results (body, content type,
// invoked variant), one per distinct request. moto has neither InvokeEndpointWithResponseStream nor Bedrock
// Converse, so streaming and Bedrock are covered by the SDK mocks only.

describe('inference API against moto (SageMaker runtime over HTTP)', () => {
  let moto: MotoServer;
  let client: SageMakerRuntimeClient;

  beforeAll(async () => {
    moto = await startMoto();
    client = new SageMakerRuntimeClient(motoClientConfig(moto.endpoint));
  }, 60_000);

  afterAll(async () => {
    client?.destroy();
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
});
