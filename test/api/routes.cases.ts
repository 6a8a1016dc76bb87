import { ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { InvokeEndpointCommand } from '@aws-sdk/client-sagemaker-runtime';
import { BEDROCK, blob, INFERENCE_COMPONENT, invoke, listModels, MODELS, post, SAGEMAKER_ENDPOINT, sentBody, testApi, useSdkMocks } from './support';

// Every route's happy path on every backend, with the exact request each backend receives. `invoke` checks
// every response against api/openapi.json.

const TGI_ANSWER = [{ generated_text: ' Paris is the capital.', details: { finish_reason: 'eos_token', generated_tokens: 6 } }];
const converseAnswer = (text: string, stopReason = 'end_turn') => ({
  output: { message: { role: 'assistant' as const, content: [{ text }] } },
  stopReason: stopReason as never,
  usage: { inputTokens: 12, outputTokens: 5, totalTokens: 17 },
  metrics: { latencyMs: 40 },
});

describe('inference API routes', () => {
  const sdk = useSdkMocks();

  test('GET /models lists each served model without its endpoint, component or ARN settings', async () => {
    const { api } = testApi();
    const res = await invoke(api, listModels());
    expect(res.statusCode).toBe(200);
    expect(res.json).toEqual({
      models: MODELS.map((m) => ({ id: m.id, backend: m.backend, versions: m.versions, streaming: m.streaming })),
    });
    expect(res.body).not.toContain('fmft-dev-llm');
    expect(sdk.sagemaker.calls()).toHaveLength(0);
  });

  describe('generate', () => {
    test('SageMaker endpoint: greedy defaults, the TGI answer, the A/B variant as version', async () => {
      sdk.sagemaker.on(InvokeEndpointCommand).resolves({ Body: blob(TGI_ANSWER), InvokedProductionVariant: 'variant-b', ContentType: 'application/json' });
      const { api } = testApi();
      const res = await invoke(api, post('generate', 'serving', { prompt: 'Capital of France?' }));
      expect(res.statusCode).toBe(200);
      expect(res.json).toEqual({ model: 'serving', version: 'variant-b', text: ' Paris is the capital.', finishReason: 'stop', usage: { outputTokens: 6 }, cached: false });
      const calls = sdk.sagemaker.commandCalls(InvokeEndpointCommand);
      expect(calls).toHaveLength(1);
      expect(calls[0].args[0].input).toEqual({ EndpointName: 'fmft-dev-llm', ContentType: 'application/json', Accept: 'application/json', Body: expect.any(String) });
      // Defaults of GenerationParameters: 256 tokens, temperature 0 (greedy: no temperature, no top_p).
      expect(sentBody(calls[0])).toEqual({ inputs: 'Capital of France?', parameters: { max_new_tokens: 256, do_sample: false, details: true } });
    });

    test('SageMaker endpoint: sampling parameters, stop sequences and the system prompt prepended with a newline', async () => {
      sdk.sagemaker.on(InvokeEndpointCommand).resolves({ Body: blob(TGI_ANSWER), InvokedProductionVariant: 'variant-a' });
      const { api } = testApi();
      const res = await invoke(
        api,
        post('generate', 'serving', { prompt: 'Capital of France?', system: 'Answer in one sentence.', parameters: { maxNewTokens: 40, temperature: 0.7, topP: 0.9, stop: ['\n\n', 'User:'] } }),
      );
      expect(res.statusCode).toBe(200);
      expect(sentBody(sdk.sagemaker.commandCalls(InvokeEndpointCommand)[0])).toEqual({
        inputs: 'Answer in one sentence.\nCapital of France?',
        parameters: { max_new_tokens: 40, do_sample: true, temperature: 0.7, top_p: 0.9, stop: ['\n\n', 'User:'], details: true },
      });
    });

    test('SageMaker: top_p 1 is not sent when sampling (TGI refuses top_p outside (0, 1))', async () => {
      sdk.sagemaker.on(InvokeEndpointCommand).resolves({ Body: blob(TGI_ANSWER) });
      const { api } = testApi();
      await invoke(api, post('generate', 'serving', { prompt: 'Hi', parameters: { temperature: 1, topP: 1 } }));
      expect(sentBody(sdk.sagemaker.commandCalls(InvokeEndpointCommand)[0]).parameters).toEqual({ max_new_tokens: 256, do_sample: true, temperature: 1, details: true });
    });

    test('inference component: InferenceComponentName sent, the LMI object answer read, the configured version returned', async () => {
      sdk.sagemaker.on(InvokeEndpointCommand).resolves({ Body: blob({ generated_text: 'Reset it from Settings.', details: { finish_reason: 'length', generated_tokens: 64 } }) });
      const { api } = testApi();
      const res = await invoke(api, post('generate', 'support-bot', { prompt: 'How do I reset my password?', parameters: { maxNewTokens: 64 } }));
      expect(res.json).toEqual({ model: 'support-bot', version: INFERENCE_COMPONENT.versions[0], text: 'Reset it from Settings.', finishReason: 'length', usage: { outputTokens: 64 }, cached: false });
      const input = sdk.sagemaker.commandCalls(InvokeEndpointCommand)[0].args[0].input;
      expect(input).toEqual(expect.objectContaining({ EndpointName: 'fmft-dev-shared', InferenceComponentName: 'fmft-dev-support-bot' }));
    });

    test.each([
      ['eos_token', 'stop'],
      ['stop_sequence', 'stop'],
      ['length', 'length'],
      ['something_new', 'unknown'],
      [undefined, 'unknown'],
    ])('SageMaker finish reason %s is %s', async (reason, finishReason) => {
      sdk.sagemaker.on(InvokeEndpointCommand).resolves({ Body: blob([{ generated_text: 'x', details: reason === undefined ? undefined : { finish_reason: reason } }]) });
      const res = await invoke(testApi().api, post('generate', 'serving', { prompt: 'Hi' }));
      expect(res.json.finishReason).toBe(finishReason);
    });

    test('Bedrock: Converse with the system prompt apart, inferenceConfig, usage and the configured version', async () => {
      sdk.bedrock.on(ConverseCommand).resolves(converseAnswer('Claim approved.'));
      const { api } = testApi();
      const res = await invoke(api, post('generate', 'claims-nova', { prompt: 'Assess claim 42.', system: 'You assess claims.', parameters: { maxNewTokens: 100, temperature: 0.5, topP: 0.8, stop: ['END'] } }));
      expect(res.json).toEqual({ model: 'claims-nova', version: BEDROCK.versions[0], text: 'Claim approved.', finishReason: 'stop', usage: { inputTokens: 12, outputTokens: 5 }, cached: false });
      expect(sdk.bedrock.commandCalls(ConverseCommand)[0].args[0].input).toEqual({
        modelId: BEDROCK.modelArn,
        messages: [{ role: 'user', content: [{ text: 'Assess claim 42.' }] }],
        system: [{ text: 'You assess claims.' }],
        inferenceConfig: { maxTokens: 100, temperature: 0.5, topP: 0.8, stopSequences: ['END'] },
      });
    });

    test('Bedrock greedy: temperature 0, no topP, no system, several content blocks joined', async () => {
      sdk.bedrock.on(ConverseCommand).resolves({ ...converseAnswer(''), output: { message: { role: 'assistant', content: [{ text: 'Part one, ' }, { text: 'part two.' }] } } });
      const res = await invoke(testApi().api, post('generate', 'claims-nova', { prompt: 'Go' }));
      expect(res.json.text).toBe('Part one, part two.');
      expect(sdk.bedrock.commandCalls(ConverseCommand)[0].args[0].input).toEqual({
        modelId: BEDROCK.modelArn,
        messages: [{ role: 'user', content: [{ text: 'Go' }] }],
        inferenceConfig: { maxTokens: 256, temperature: 0 },
      });
    });

    test.each([
      ['end_turn', 'stop'],
      ['stop_sequence', 'stop'],
      ['max_tokens', 'length'],
      ['content_filtered', 'content-filter'],
      ['guardrail_intervened', 'content-filter'],
      ['tool_use', 'unknown'],
    ])('Bedrock stopReason %s is %s', async (stopReason, finishReason) => {
      sdk.bedrock.on(ConverseCommand).resolves(converseAnswer('x', stopReason));
      const res = await invoke(testApi().api, post('generate', 'claims-nova', { prompt: 'Hi' }));
      expect(res.json.finishReason).toBe(finishReason);
    });

    test('a base64-encoded body (binary media types) is decoded', async () => {
      sdk.sagemaker.on(InvokeEndpointCommand).resolves({ Body: blob(TGI_ANSWER) });
      const res = await invoke(testApi().api, post('generate', 'serving', { prompt: 'Grüße' }, { base64: true }));
      expect(res.statusCode).toBe(200);
      expect(sentBody(sdk.sagemaker.commandCalls(InvokeEndpointCommand)[0]).inputs).toBe('Grüße');
    });
  });

  describe('task routes send the training prompt with greedy decoding', () => {
    test.each([
      ['SageMaker endpoint', 'serving'],
      ['inference component', 'support-bot'],
    ])('classify on %s', async (_, model) => {
      sdk.sagemaker.on(InvokeEndpointCommand).resolves({ Body: blob([{ generated_text: ' Negative.', details: { finish_reason: 'eos_token' } }]), InvokedProductionVariant: 'variant-a' });
      const res = await invoke(testApi().api, post('classify', model, { text: 'The parcel never came.', labels: ['positive', 'negative', 'neutral'] }));
      expect(res.statusCode).toBe(200);
      expect(res.json).toEqual(expect.objectContaining({ model, label: 'negative', text: ' Negative.', cached: false }));
      // classification's template is {text}; the longest label has 8 characters: ceil(8 / 2) + 8 = 12 tokens.
      expect(sentBody(sdk.sagemaker.commandCalls(InvokeEndpointCommand)[0])).toEqual({ inputs: 'The parcel never came.', parameters: { max_new_tokens: 12, do_sample: false, details: true } });
    });

    test('classify on Bedrock', async () => {
      sdk.bedrock.on(ConverseCommand).resolves(converseAnswer('positive'));
      const res = await invoke(testApi().api, post('classify', 'claims-nova', { text: 'Great service!', labels: ['positive', 'negative'] }));
      expect(res.json).toEqual({ model: 'claims-nova', version: BEDROCK.versions[0], label: 'positive', text: 'positive', cached: false });
      expect(sdk.bedrock.commandCalls(ConverseCommand)[0].args[0].input).toEqual({
        modelId: BEDROCK.modelArn,
        messages: [{ role: 'user', content: [{ text: 'Great service!' }] }],
        inferenceConfig: { maxTokens: 12, temperature: 0 },
      });
    });

    test.each([
      ['SageMaker endpoint', 'serving', { version: 'variant-b' }],
      ['inference component', 'support-bot', { version: INFERENCE_COMPONENT.versions[0] }],
    ])('summarize on %s: the document is the prompt, the default 256 tokens, the summary trimmed', async (_, model, version) => {
      sdk.sagemaker.on(InvokeEndpointCommand).resolves({ Body: blob([{ generated_text: '  Rates rose.\n', details: { finish_reason: 'eos_token' } }]), InvokedProductionVariant: 'variant-b' });
      const res = await invoke(testApi().api, post('summarize', model, { document: 'The central bank raised rates by 0.25 points on Tuesday.' }));
      expect(res.json).toEqual({ model, ...version, summary: 'Rates rose.', finishReason: 'stop', cached: false });
      expect(sentBody(sdk.sagemaker.commandCalls(InvokeEndpointCommand)[0])).toEqual({
        inputs: 'The central bank raised rates by 0.25 points on Tuesday.',
        parameters: { max_new_tokens: 256, do_sample: false, details: true },
      });
    });

    test('summarize on Bedrock with its own maxNewTokens', async () => {
      sdk.bedrock.on(ConverseCommand).resolves(converseAnswer('Rates rose.', 'max_tokens'));
      const res = await invoke(testApi().api, post('summarize', 'claims-nova', { document: 'Long text', maxNewTokens: 30 }));
      expect(res.json).toEqual({ model: 'claims-nova', version: BEDROCK.versions[0], summary: 'Rates rose.', finishReason: 'length', cached: false });
      expect(sdk.bedrock.commandCalls(ConverseCommand)[0].args[0].input.inferenceConfig).toEqual({ maxTokens: 30, temperature: 0 });
    });

    test.each([
      ['SageMaker endpoint', 'serving', { version: 'variant-a' }],
      ['inference component', 'support-bot', { version: INFERENCE_COMPONENT.versions[0] }],
    ])('answer on %s: context, blank line, "Question: " and the question; default 64 tokens', async (_, model, version) => {
      sdk.sagemaker.on(InvokeEndpointCommand).resolves({ Body: blob([{ generated_text: ' 1912 ', details: { finish_reason: 'eos_token' } }]), InvokedProductionVariant: 'variant-a' });
      const res = await invoke(testApi().api, post('answer', model, { context: 'The Titanic sank in 1912.', question: 'When did it sink?' }));
      expect(res.json).toEqual({ model, ...version, answer: '1912', cached: false });
      expect(sentBody(sdk.sagemaker.commandCalls(InvokeEndpointCommand)[0])).toEqual({
        inputs: 'The Titanic sank in 1912.\n\nQuestion: When did it sink?',
        parameters: { max_new_tokens: 64, do_sample: false, details: true },
      });
    });

    test('answer on Bedrock', async () => {
      sdk.bedrock.on(ConverseCommand).resolves(converseAnswer('In 1912.'));
      const res = await invoke(testApi().api, post('answer', 'claims-nova', { context: 'C {question} D', question: 'Q?', maxNewTokens: 10 }));
      expect(res.json).toEqual({ model: 'claims-nova', version: BEDROCK.versions[0], answer: 'In 1912.', cached: false });
      // Braces in the request are text, not placeholders: the template is filled in one pass.
      expect(sdk.bedrock.commandCalls(ConverseCommand)[0].args[0].input.messages).toEqual([{ role: 'user', content: [{ text: 'C {question} D\n\nQuestion: Q?' }] }]);
    });
  });

  test('a SageMaker endpoint answer without a variant falls back to the configured version', async () => {
    sdk.sagemaker.on(InvokeEndpointCommand).resolves({ Body: blob(TGI_ANSWER) });
    const res = await invoke(testApi().api, post('generate', 'serving', { prompt: 'x' }));
    expect(res.json.version).toBe(SAGEMAKER_ENDPOINT.versions[0]);
  });
});
