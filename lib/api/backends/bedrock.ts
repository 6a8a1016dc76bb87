import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseCommandInput,
  ConverseStreamCommand,
  ConverseStreamOutput,
} from '@aws-sdk/client-bedrock-runtime';
import { ServedModel } from '../served-models';
import { Backend, ClientSettings, ErrorTable, FinishReason, Generation, GenerationRequest, mapBackendError, StreamEvent, unreadableAnswer, Usage } from './backend';

/**
 * Bedrock custom models (provisioned throughput or on-demand custom model deployment) through Converse and
 * ConverseStream, whose message format is the same for every model family, so no per-family body is kept here.
 */

const SERVICE = 'Bedrock';

/**
 * Bedrock runtime exceptions (names of @aws-sdk/client-bedrock-runtime models/errors.d.ts) and the problem
 * each becomes:
 *
 * | exception                       | problem           | why                                                              |
 * |---------------------------------|-------------------|------------------------------------------------------------------|
 * | ThrottlingException             | model-throttled   | the provisioned throughput or on-demand rate is at its limit     |
 * | ServiceQuotaExceededException   | model-throttled   | the account's tokens or requests per minute are used up; retry later |
 * | ModelNotReadyException          | model-not-ready   | the model is loading or its throughput is not in service yet     |
 * | ServiceUnavailableException     | model-not-ready   | Bedrock asks for a retry                                         |
 * | ModelTimeoutException           | model-timeout     | the model took longer than Bedrock waits                         |
 * | ValidationException             | rejected-by-model | the input was refused, e.g. more tokens than the context holds   |
 * | ModelErrorException, ModelStreamErrorException | model-error | the model failed on this input                           |
 * | InternalServerException         | model-error       | Bedrock failed to serve the call                                 |
 * | ResourceNotFoundException       | internal          | the configured modelArn does not exist: the API's settings are wrong (logged) |
 * | AccessDeniedException           | internal          | the API's role may not invoke the model; not the caller's fault (logged) |
 * | anything else                   | internal          | logged with the request id                                       |
 */
export const BEDROCK_ERRORS: ErrorTable = {
  ThrottlingException: 'model-throttled',
  ServiceQuotaExceededException: 'model-throttled',
  ModelNotReadyException: 'model-not-ready',
  ServiceUnavailableException: 'model-not-ready',
  ModelTimeoutException: 'model-timeout',
  ValidationException: 'rejected-by-model',
  ModelErrorException: 'model-error',
  ModelStreamErrorException: 'model-error',
  InternalServerException: 'model-error',
  ResourceNotFoundException: 'internal',
  AccessDeniedException: 'internal',
};

/** Converse stop reasons (StopReason of the SDK) as the API's finish reasons. */
export function converseFinishReason(reason: string | undefined): FinishReason {
  switch (reason) {
    case 'end_turn':
    case 'stop_sequence':
      return 'stop';
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'content_filtered':
    case 'guardrail_intervened':
      return 'content-filter';
    default:
      return 'unknown';
  }
}

/** The Converse request: the prompt as the one user message, the system prompt apart, topP only when sampling. */
export function converseInput(model: ServedModel, request: GenerationRequest): ConverseCommandInput {
  return {
    modelId: model.modelArn,
    messages: [{ role: 'user', content: [{ text: request.prompt }] }],
    ...(request.system === undefined ? {} : { system: [{ text: request.system }] }),
    inferenceConfig: {
      maxTokens: request.maxNewTokens,
      temperature: request.temperature,
      ...(request.temperature > 0 ? { topP: request.topP } : {}),
      ...(request.stop?.length ? { stopSequences: [...request.stop] } : {}),
    },
  };
}

function usageOf(usage: { inputTokens?: number; outputTokens?: number } | undefined): Usage | undefined {
  if (!usage) return undefined;
  const out: { inputTokens?: number; outputTokens?: number } = {};
  if (Number.isInteger(usage.inputTokens)) out.inputTokens = usage.inputTokens;
  if (Number.isInteger(usage.outputTokens)) out.outputTokens = usage.outputTokens;
  return out.inputTokens === undefined && out.outputTokens === undefined ? undefined : out;
}

/** Bedrock serves the one configured model; its version is the configured ARN. */
function versionOf(model: ServedModel): { version?: string } {
  return model.versions[0] ? { version: model.versions[0] } : {};
}

/** Exception members of a ConverseStream event (the SDK throws them, but a modelled member may also arrive). */
const STREAM_EXCEPTIONS = ['internalServerException', 'modelStreamErrorException', 'validationException', 'throttlingException', 'serviceUnavailableException'] as const;

export class BedrockBackend implements Backend {
  constructor(private readonly client: BedrockRuntimeClient) {}

  async generate(model: ServedModel, request: GenerationRequest, signal: AbortSignal): Promise<Generation> {
    let output;
    try {
      output = await this.client.send(new ConverseCommand(converseInput(model, request)), { abortSignal: signal });
    } catch (error) {
      throw mapBackendError(error, BEDROCK_ERRORS, SERVICE, model);
    }
    const content = output.output?.message?.content;
    if (!Array.isArray(content)) throw unreadableAnswer(SERVICE, model, 'no output.message.content');
    const text = content.map((block) => block.text ?? '').join('');
    const usage = usageOf(output.usage);
    return { text, finishReason: converseFinishReason(output.stopReason), ...(usage ? { usage } : {}), ...versionOf(model) };
  }

  async *stream(model: ServedModel, request: GenerationRequest, signal: AbortSignal): AsyncIterable<StreamEvent> {
    let stopReason: string | undefined;
    let usage: Usage | undefined;
    try {
      const output = await this.client.send(new ConverseStreamCommand(converseInput(model, request)), { abortSignal: signal });
      for await (const event of (output.stream ?? []) as AsyncIterable<ConverseStreamOutput>) {
        const text = event.contentBlockDelta?.delta?.text;
        if (text) yield { kind: 'token', text };
        if (event.messageStop) stopReason = event.messageStop.stopReason;
        if (event.metadata) usage = usageOf(event.metadata.usage);
        for (const member of STREAM_EXCEPTIONS) {
          const exception = (event as unknown as Record<string, unknown>)[member];
          if (exception) throw Object.assign(new Error('stream exception'), { name: member[0].toUpperCase() + member.slice(1) });
        }
      }
    } catch (error) {
      throw mapBackendError(error, BEDROCK_ERRORS, SERVICE, model);
    }
    yield { kind: 'done', finishReason: converseFinishReason(stopReason), ...(usage ? { usage } : {}), ...versionOf(model) };
  }
}

/** The Bedrock backend on `client`, or on a new client with `settings` (one per container). */
export function bedrockBackend(settings: ClientSettings, client?: BedrockRuntimeClient): Backend {
  return new BedrockBackend(client ?? new BedrockRuntimeClient(settings));
}
