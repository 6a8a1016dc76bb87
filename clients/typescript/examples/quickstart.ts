import { ApiError, InferenceClient, StreamError } from '@fmft/inference-client';

// The stage URL (stack output ApiUrl) and an API key of a usage plan.
const baseUrl = process.env.FMFT_API_URL ?? 'https://abcdef1234.execute-api.us-east-1.amazonaws.com/v1/';
const client = new InferenceClient({ baseUrl, apiKey: process.env.FMFT_API_KEY });

async function main(): Promise<void> {
  // What this environment serves.
  const { models } = await client.listModels();
  console.log('models:', models.map((m) => m.id).join(', '));

  // Generate. Throttling, a model that is not ready yet and broken connections are retried for you.
  const generated = await client.generate('serving', { prompt: 'Summarize: the claim was filed on May 3.', parameters: { maxNewTokens: 64 } });
  console.log('generate:', generated.text, `(${generated.finishReason})`);

  // Stream: the tokens as they come, then the done event. An error after the first token is a StreamError.
  const stream = await client.generateStream('serving', { prompt: 'Say hello' });
  try {
    let text = '';
    for await (const token of stream) text += token;
    const done = await stream.done;
    console.log('stream:', text, `(${done.finishReason})`);
  } catch (error) {
    if (!(error instanceof StreamError)) throw error;
    console.log(`stream failed after ${error.tokens.length} tokens: ${error.code}`);
  }

  // SigV4 instead of (or with) a key: AWS credentials, or a provider such as fromNodeProviderChain().
  const signed = new InferenceClient({
    baseUrl,
    region: process.env.AWS_REGION ?? 'us-east-1',
    credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? '', secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? '', sessionToken: process.env.AWS_SESSION_TOKEN },
  });
  const classified = await signed.classify('support-assistant', { text: 'I was charged twice.', labels: ['billing', 'technical', 'other'] });
  console.log('classify (SigV4):', classified.label);

  // Every error is a problem document: its code, status and detail, and for a bad request each field.
  try {
    await client.generate('serving', { prompt: '' });
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    console.log('error:', error.code, error.status, error.errors.map((e) => e.field).join(', '));
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
