import { BedrockRuntimeServiceException, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { InvokeEndpointWithResponseStreamCommand, ModelError, ModelStreamError } from '@aws-sdk/client-sagemaker-runtime';
import { ContainerStreamDecoder } from '../../lib/api/backends/sagemaker';
import { HTTP_INTEGRATION_CONTENT_TYPE, streamifyResponse } from '../../lib/api/stream';
import { BEDROCK, CollectingStream, eventStream, INFERENCE_COMPONENT, invoke, invokeStream, listModels, parseEvents, payloadParts, post, sentBody, splitStreamed, testApi, useSdkMocks } from './support';

// generate-stream over Lambda response streaming in API Gateway's format (JSON prelude, 8 NUL bytes, body),
// on both backends: token events, then done; errors before the first token are problem responses with their
// status, errors after it an `error` event. `invokeStream` checks the prelude's status and every event's data
// against api/openapi.json.

const SSE = { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache' };

// TGI's server-sent events: one token per event, the end-of-sequence token special, details on the last.
const TGI_STREAM = [
  'data:{"index":1,"token":{"id":3681,"text":" Paris","logprob":-0.1,"special":false},"generated_text":null,"details":null}',
  'data:{"index":2,"token":{"id":338,"text":" is","logprob":-0.2,"special":false},"generated_text":null,"details":null}',
  'data:{"index":3,"token":{"id":29871,"text":" ünique","logprob":-0.3,"special":false},"generated_text":null,"details":null}',
  'data:{"index":4,"token":{"id":2,"text":"</s>","logprob":-0.01,"special":true},"generated_text":" Paris is ünique","details":{"finish_reason":"eos_token","generated_tokens":4,"seed":null,"input_length":7}}',
]
  .map((line) => `${line}\n\n`)
  .join('');

// LMI's JSON lines (rolling batch, "stream": true): the last line holds generated_text and details.
const LMI_STREAM = [
  '{"token": {"id": 304, "text": "Deep ", "log_prob": -0.05}}',
  '{"token": {"id": 11157, "text": "Learning", "log_prob": -1.28}}',
  '{"token": {"id": 5972, "text": " rocks.", "log_prob": -0.69}, "generated_text": "Deep Learning rocks.", "details": {"finish_reason": "length", "generated_tokens": 3, "inputs": "x"}}',
]
  .map((line) => `${line}\n`)
  .join('');

const converseEvents = (texts: string[], stopReason = 'end_turn') => [
  { messageStart: { role: 'assistant' as const } },
  { contentBlockStart: { contentBlockIndex: 0, start: undefined as never } },
  ...texts.map((text) => ({ contentBlockDelta: { contentBlockIndex: 0, delta: { text } } })),
  { contentBlockStop: { contentBlockIndex: 0 } },
  { messageStop: { stopReason: stopReason as never } },
  { metadata: { usage: { inputTokens: 9, outputTokens: 2, totalTokens: 11 }, metrics: { latencyMs: 30 } } },
];

describe('inference API streaming', () => {
  const sdk = useSdkMocks();

  test('SageMaker endpoint (TGI): prelude, 8 NUL bytes, token events, done with variant, finish reason and usage', async () => {
    // Payload parts cut inside an event and inside the two bytes of "ü".
    const cut = Buffer.from(TGI_STREAM).indexOf(Buffer.from('ü')) + 1;
    sdk.sagemaker.on(InvokeEndpointWithResponseStreamCommand).resolves({ Body: eventStream(payloadParts(TGI_STREAM, [40, 130, cut])), InvokedProductionVariant: 'variant-b' });
    const res = await invokeStream(testApi().api, post('generate-stream', 'serving', { prompt: 'Capital?', system: 'Be brief.', parameters: { maxNewTokens: 20 } }));

    expect(res.stream.contentType).toBe(HTTP_INTEGRATION_CONTENT_TYPE);
    const bytes = res.stream.bytes();
    const parts = splitStreamed(bytes);
    expect(JSON.parse(parts.prelude)).toEqual({ statusCode: 200, headers: SSE });
    expect(bytes.subarray(parts.delimiterAt, parts.delimiterAt + 8)).toEqual(Buffer.alloc(8));
    expect(bytes.subarray(parts.delimiterAt + 8, parts.delimiterAt + 14).toString()).toBe('event:');
    expect(res.events).toEqual([
      { event: 'token', data: { text: ' Paris' } },
      { event: 'token', data: { text: ' is' } },
      { event: 'token', data: { text: ' ünique' } },
      { event: 'done', data: { model: 'serving', version: 'variant-b', finishReason: 'stop', usage: { inputTokens: 7, outputTokens: 4 } } },
    ]);
    expect(res.body).toBe(
      'event: token\ndata: {"text":" Paris"}\n\nevent: token\ndata: {"text":" is"}\n\nevent: token\ndata: {"text":" ünique"}\n\n' +
        'event: done\ndata: {"model":"serving","version":"variant-b","finishReason":"stop","usage":{"inputTokens":7,"outputTokens":4}}\n\n',
    );
    expect(res.stream.ended).toBe(true);
    const calls = sdk.sagemaker.commandCalls(InvokeEndpointWithResponseStreamCommand);
    expect(calls[0].args[0].input).toEqual({ EndpointName: 'fmft-dev-llm', ContentType: 'application/json', Body: expect.any(String) });
    expect(sentBody(calls[0])).toEqual({ inputs: 'Be brief.\nCapital?', parameters: { max_new_tokens: 20, do_sample: false, details: true }, stream: true });
  });

  test('inference component (LMI JSON lines): tokens, done with the configured version and LMI finish reason', async () => {
    sdk.sagemaker.on(InvokeEndpointWithResponseStreamCommand).resolves({ Body: eventStream(payloadParts(LMI_STREAM, [10])) });
    const res = await invokeStream(testApi().api, post('generate-stream', 'support-bot', { prompt: 'x' }));
    expect(res.prelude.statusCode).toBe(200);
    expect(res.events).toEqual([
      { event: 'token', data: { text: 'Deep ' } },
      { event: 'token', data: { text: 'Learning' } },
      { event: 'token', data: { text: ' rocks.' } },
      { event: 'done', data: { model: 'support-bot', version: INFERENCE_COMPONENT.versions[0], finishReason: 'length', usage: { outputTokens: 3 } } },
    ]);
    expect(sdk.sagemaker.commandCalls(InvokeEndpointWithResponseStreamCommand)[0].args[0].input).toEqual(expect.objectContaining({ InferenceComponentName: 'fmft-dev-support-bot' }));
  });

  test('LMI SSE output (data: prefix) and a last line without a newline are read too', () => {
    const decoder = new ContainerStreamDecoder();
    const bytes = new TextEncoder().encode('data:{"token": {"text": "a"}}\n: comment\nevent: message\ndata: {"token": {"text": "b"}}');
    expect(decoder.push(bytes)).toEqual([{ token: { text: 'a' } }]);
    expect(decoder.end()).toEqual([{ token: { text: 'b' } }]);
  });

  test('Bedrock: ConverseStream deltas as tokens, messageStop and metadata in done', async () => {
    sdk.bedrock.on(ConverseStreamCommand).resolves({ stream: eventStream(converseEvents(['Claim ', 'approved.'], 'max_tokens')) as never });
    const res = await invokeStream(testApi().api, post('generate-stream', 'claims-nova', { prompt: 'Assess', system: 'You assess claims.', parameters: { temperature: 0.3, topP: 0.5 } }));
    expect(res.prelude).toEqual({ statusCode: 200, headers: SSE });
    expect(res.events).toEqual([
      { event: 'token', data: { text: 'Claim ' } },
      { event: 'token', data: { text: 'approved.' } },
      { event: 'done', data: { model: 'claims-nova', version: BEDROCK.versions[0], finishReason: 'length', usage: { inputTokens: 9, outputTokens: 2 } } },
    ]);
    expect(sdk.bedrock.commandCalls(ConverseStreamCommand)[0].args[0].input).toEqual({
      modelId: BEDROCK.modelArn,
      messages: [{ role: 'user', content: [{ text: 'Assess' }] }],
      system: [{ text: 'You assess claims.' }],
      inferenceConfig: { maxTokens: 256, temperature: 0.3, topP: 0.5 },
    });
  });

  test('a generation with no token: status 200 and done only', async () => {
    sdk.bedrock.on(ConverseStreamCommand).resolves({ stream: eventStream(converseEvents([], 'content_filtered')) as never });
    const res = await invokeStream(testApi().api, post('generate-stream', 'claims-nova', { prompt: 'x' }));
    expect(res.events).toEqual([{ event: 'done', data: expect.objectContaining({ finishReason: 'content-filter' }) }]);
  });

  describe('an error before the first token is a problem response with its status', () => {
    test('SageMaker ModelError 422 → prelude 422, the problem as the body', async () => {
      sdk.sagemaker.on(InvokeEndpointWithResponseStreamCommand).rejects(new ModelError({ $metadata: {}, message: 'too long', OriginalStatusCode: 422 }));
      const res = await invokeStream(testApi().api, post('generate-stream', 'serving', { prompt: 'x' }));
      expect(res.prelude).toEqual({ statusCode: 422, headers: { 'Content-Type': 'application/problem+json' } });
      expect(JSON.parse(res.body)).toEqual(expect.objectContaining({ type: 'urn:fmft:problem:rejected-by-model', status: 422, instance: 'req-0001' }));
    });

    test('Bedrock throttling → prelude 429 with Retry-After', async () => {
      sdk.bedrock.on(ConverseStreamCommand).rejects(new BedrockRuntimeServiceException({ name: 'ThrottlingException', $fault: 'client', $metadata: {}, message: 'slow down' }));
      const res = await invokeStream(testApi().api, post('generate-stream', 'claims-nova', { prompt: 'x' }));
      expect(res.prelude).toEqual({ statusCode: 429, headers: { 'Content-Type': 'application/problem+json', 'Retry-After': '2' } });
      expect(JSON.parse(res.body)).toEqual(expect.objectContaining({ type: 'urn:fmft:problem:model-throttled', retryAfterSeconds: 2 }));
    });

    test('a stream that fails before its first token (TGI error event) → prelude 502', async () => {
      sdk.sagemaker.on(InvokeEndpointWithResponseStreamCommand).resolves({ Body: eventStream(payloadParts('data:{"error":"Input validation error","error_type":"validation"}\n\n')) });
      const res = await invokeStream(testApi().api, post('generate-stream', 'serving', { prompt: 'x' }));
      expect(res.prelude.statusCode).toBe(502);
      expect(JSON.parse(res.body).type).toBe('urn:fmft:problem:model-error');
    });

    test('no first token within MODEL_TIMEOUT_MS → prelude 504', async () => {
      sdk.sagemaker.on(InvokeEndpointWithResponseStreamCommand).callsFake(() => new Promise(() => undefined));
      const res = await invokeStream(testApi({ modelTimeoutMs: 25 }).api, post('generate-stream', 'serving', { prompt: 'x' }));
      expect(res.prelude).toEqual({ statusCode: 504, headers: { 'Content-Type': 'application/problem+json', 'Retry-After': '1' } });
    });
  });

  describe('an error after the first token is an error event; the status stays 200', () => {
    test('SageMaker ModelStreamError (ModelInvocationTimeExceeded) → event error model-timeout', async () => {
      const broken = new ModelStreamError({ $metadata: {}, message: 'took too long', ErrorCode: 'ModelInvocationTimeExceeded' });
      sdk.sagemaker.on(InvokeEndpointWithResponseStreamCommand).resolves({ Body: eventStream(payloadParts(TGI_STREAM.split('\n\n')[0] + '\n\n'), broken) });
      const { api, metrics } = testApi();
      const res = await invokeStream(api, post('generate-stream', 'serving', { prompt: 'x' }));
      expect(res.prelude.statusCode).toBe(200);
      expect(res.events).toEqual([
        { event: 'token', data: { text: ' Paris' } },
        { event: 'error', data: expect.objectContaining({ type: 'urn:fmft:problem:model-timeout', status: 504, retryable: true, retryAfterSeconds: 1, instance: 'req-0001' }) },
      ]);
      // The metrics count the request as the error it became.
      expect(metrics[0]).toEqual(expect.objectContaining({ StatusCode: 504, Errors5xx: 1, Problem: 'model-timeout' }));
    });

    test('a stream that stalls after its first token past MODEL_TIMEOUT_MS → event error model-timeout, and the call is aborted', async () => {
      async function* stalled() {
        yield payloadParts(TGI_STREAM.split('\n\n')[0] + '\n\n')[0];
        await new Promise(() => undefined);
      }
      sdk.sagemaker.on(InvokeEndpointWithResponseStreamCommand).resolves({ Body: stalled() });
      const started = Date.now();
      const res = await invokeStream(testApi({ modelTimeoutMs: 40 }).api, post('generate-stream', 'serving', { prompt: 'x' }));
      expect(Date.now() - started).toBeLessThan(1000);
      expect(res.prelude.statusCode).toBe(200);
      expect(res.events).toEqual([
        { event: 'token', data: { text: ' Paris' } },
        { event: 'error', data: expect.objectContaining({ type: 'urn:fmft:problem:model-timeout', detail: "Model 'serving' did not finish within 40 ms; a smaller maxNewTokens may help." }) },
      ]);
      const options = (sdk.sagemaker.commandCalls(InvokeEndpointWithResponseStreamCommand)[0].args as unknown[])[1] as { abortSignal: AbortSignal };
      expect(options.abortSignal.aborted).toBe(true);
    });

    test("LMI's failure line (finish_reason error) after tokens → event error model-error", async () => {
      const failed = '{"token": {"id": 1, "text": "Hel"}}\n{"token": {"id": -1, "text": "", "log_prob": -1, "special_token": true}, "generated_text": "", "details": {"finish_reason": "error", "generated_tokens": null, "inputs": null}}\n';
      sdk.sagemaker.on(InvokeEndpointWithResponseStreamCommand).resolves({ Body: eventStream(payloadParts(failed)) });
      const res = await invokeStream(testApi().api, post('generate-stream', 'support-bot', { prompt: 'x' }));
      expect(res.events.map((e) => e.event)).toEqual(['token', 'error']);
      expect(res.events[1].data.type).toBe('urn:fmft:problem:model-error');
    });

    test('Bedrock throttlingException mid-stream → event error model-throttled', async () => {
      const throttled = new BedrockRuntimeServiceException({ name: 'ThrottlingException', $fault: 'client', $metadata: {}, message: 'slow down' });
      sdk.bedrock.on(ConverseStreamCommand).resolves({ stream: eventStream(converseEvents(['One ']).slice(0, 3), throttled) as never });
      const res = await invokeStream(testApi().api, post('generate-stream', 'claims-nova', { prompt: 'x' }));
      expect(res.prelude.statusCode).toBe(200);
      expect(res.events).toEqual([
        { event: 'token', data: { text: 'One ' } },
        { event: 'error', data: expect.objectContaining({ type: 'urn:fmft:problem:model-throttled', retryAfterSeconds: 2 }) },
      ]);
    });

    test('a modelled exception member in the ConverseStream events is an error too', async () => {
      sdk.bedrock.on(ConverseStreamCommand).resolves({ stream: eventStream([...converseEvents(['One ']).slice(0, 3), { modelStreamErrorException: { message: 'boom' } }]) as never });
      const res = await invokeStream(testApi().api, post('generate-stream', 'claims-nova', { prompt: 'x' }));
      expect(res.events[1]).toEqual({ event: 'error', data: expect.objectContaining({ type: 'urn:fmft:problem:model-error' }) });
    });
  });

  test('the buffered handler answers generate-stream with the same events in one body', async () => {
    sdk.sagemaker.on(InvokeEndpointWithResponseStreamCommand).resolves({ Body: eventStream(payloadParts(LMI_STREAM)) });
    const res = await invoke(testApi().api, post('generate-stream', 'support-bot', { prompt: 'x' }));
    expect(res.statusCode).toBe(200);
    expect(res.headers).toEqual(SSE);
    expect(parseEvents(res.body).map((e) => e.event)).toEqual(['token', 'token', 'token', 'done']);
  });

  test('the streaming handler answers a buffered route: its prelude, then its JSON body', async () => {
    const res = await invokeStream(testApi().api, listModels());
    expect(res.prelude).toEqual({ statusCode: 200, headers: { 'Content-Type': 'application/json' } });
    expect(JSON.parse(res.body).models).toHaveLength(4);
  });

  test('streamifyResponse wraps with the runtime global where it exists (the SDK may create an empty `awslambda`)', () => {
    const handler = async () => undefined;
    const global = globalThis as { awslambda?: unknown };
    const saved = global.awslambda;
    try {
      global.awslambda = {};
      expect(streamifyResponse(handler)).toBe(handler);
      const wrapped = async () => undefined;
      global.awslambda = { streamifyResponse: (h: unknown) => (h === handler ? wrapped : undefined) };
      expect(streamifyResponse(handler)).toBe(wrapped);
    } finally {
      global.awslambda = saved;
    }
  });

  test('the stream is ended even when the client left (a destroyed stream does not hang the handler)', async () => {
    sdk.bedrock.on(ConverseStreamCommand).resolves({ stream: eventStream(converseEvents(['a'])) as never });
    const stream = new CollectingStream();
    stream.destroy();
    await expect(testApi().api.handleStream(post('generate-stream', 'claims-nova', { prompt: 'x' }), stream)).resolves.toBeUndefined();
  }, 5000);
});
