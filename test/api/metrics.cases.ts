import { InvokeEndpointCommand } from '@aws-sdk/client-sagemaker-runtime';
import { InferenceApi } from '../../lib/api/handler';
import { blob, invoke, listModels, MODELS, post, requestEvent, testApi, useSdkMocks } from './support';

// One CloudWatch Embedded Metric Format line per request: namespace, dimensions [Route, Model], the five
// metrics with their units, every declared metric present, the problem code as a property.

const ALL_METRICS = [
  { Name: 'Requests', Unit: 'Count' },
  { Name: 'ModelLatency', Unit: 'Milliseconds' },
  { Name: 'HandlerOverhead', Unit: 'Milliseconds' },
  { Name: 'Errors4xx', Unit: 'Count' },
  { Name: 'Errors5xx', Unit: 'Count' },
];
const WITHOUT_MODEL = ALL_METRICS.filter((m) => m.Name !== 'ModelLatency');

/** Every metric and dimension an EMF line declares is a member of the line (CloudWatch's requirement). */
function expectWellFormed(line: Record<string, any>): void {
  const [directive] = line._aws.CloudWatchMetrics;
  for (const metric of directive.Metrics) expect(typeof line[metric.Name]).toBe('number');
  for (const name of directive.Dimensions.flat()) expect(typeof line[name]).toBe('string');
  expect(Number.isInteger(line._aws.Timestamp)).toBe(true);
}

/** A clock that answers the given times in order. */
const clock = (...times: number[]) => () => times.shift() ?? 0;

describe('inference API metrics (EMF)', () => {
  const sdk = useSdkMocks();

  test('a model call: one line with ModelLatency and HandlerOverhead = total minus model time', async () => {
    sdk.sagemaker.on(InvokeEndpointCommand).resolves({ Body: blob([{ generated_text: 'x', details: { finish_reason: 'eos_token' } }]) });
    // Request starts at 1000, the model call runs from 1004 to 1104.5, the response is ready at 1107.25.
    const { api, metrics } = testApi({ now: clock(1000, 1004, 1104.5, 1107.25) });
    await invoke(api, post('generate', 'serving', { prompt: 'x' }, { requestId: 'req-42' }));
    expect(metrics).toHaveLength(1);
    expect(metrics[0]).toEqual({
      _aws: { Timestamp: expect.any(Number), CloudWatchMetrics: [{ Namespace: 'FMFT/InferenceApi', Dimensions: [['Route', 'Model']], Metrics: ALL_METRICS }] },
      Route: 'generate',
      Model: 'serving',
      Requests: 1,
      ModelLatency: 100.5,
      HandlerOverhead: 6.75,
      Errors4xx: 0,
      Errors5xx: 0,
      StatusCode: 200,
      RequestId: 'req-42',
      ApiKeyId: 'key-abc',
    });
    expectWellFormed(metrics[0]);
  });

  test('a refused request: no ModelLatency declared or written, Errors4xx 1, the problem code as a property', async () => {
    const { api, metrics } = testApi();
    await invoke(api, post('classify', 'serving', { text: 'x' }));
    expect(metrics[0]).toEqual(expect.objectContaining({ Route: 'classify', Model: 'serving', Errors4xx: 1, Errors5xx: 0, StatusCode: 400, Problem: 'invalid-request' }));
    expect(metrics[0]._aws.CloudWatchMetrics[0].Metrics).toEqual(WITHOUT_MODEL);
    expect(metrics[0]).not.toHaveProperty('ModelLatency');
    expectWellFormed(metrics[0]);
  });

  test('a failed model call: Errors5xx 1 and the model time still measured', async () => {
    sdk.sagemaker.on(InvokeEndpointCommand).rejects(Object.assign(new Error('x'), { name: 'InternalFailure' }));
    const { api, metrics } = testApi();
    await invoke(api, post('summarize', 'support-bot', { document: 'd' }));
    expect(metrics[0]).toEqual(expect.objectContaining({ Route: 'summarize', Model: 'support-bot', Errors4xx: 0, Errors5xx: 1, StatusCode: 502, Problem: 'model-error', ModelLatency: expect.any(Number) }));
    expectWellFormed(metrics[0]);
  });

  test('dimensions stay bounded: an unserved model id and an unknown route are recorded as none', async () => {
    const { api, metrics } = testApi();
    await invoke(api, post('generate', 'some-random-id-1234', { prompt: 'x' }));
    await invoke(api, requestEvent('PUT', '/anything'));
    await invoke(api, listModels());
    expect(metrics.map((m) => [m.Route, m.Model, m.Problem])).toEqual([
      ['generate', 'none', 'unknown-model'],
      ['none', 'none', 'not-found'],
      ['listModels', 'none', undefined],
    ]);
  });

  test('by default the line is one write to stdout, ending in a newline', async () => {
    const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const api = new InferenceApi({ config: { models: MODELS, metricsNamespace: 'NS', modelTimeoutMs: 1000, region: 'us-east-1' } });
      await api.handle(listModels());
      expect(write).toHaveBeenCalledTimes(1);
      const text = String(write.mock.calls[0][0]);
      expect(text.endsWith('}\n')).toBe(true);
      expect(text.indexOf('\n')).toBe(text.length - 1);
      expect(JSON.parse(text)._aws.CloudWatchMetrics[0].Namespace).toBe('NS');
    } finally {
      write.mockRestore();
    }
  });
});
