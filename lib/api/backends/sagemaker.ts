import {
  InvokeEndpointCommand,
  InvokeEndpointWithResponseStreamCommand,
  SageMakerRuntimeClient,
} from '@aws-sdk/client-sagemaker-runtime';
import { ProblemCode } from '../contract';
import { ApiProblem } from '../problems';
import { ServedModel, ServingContainer } from '../served-models';
import { Backend, ClientSettings, ErrorTable, FinishReason, Generation, GenerationRequest, mapBackendError, StreamEvent, unreadableAnswer, Usage } from './backend';

/**
 * SageMaker real-time endpoints and inference components running the LMI (DJL Serving) or TGI container.
 * Both take the text generation request `{"inputs", "parameters", "stream"?}`; they answer
 * `[{"generated_text", "details"}]` (TGI, and LMI with tgi_compat) or `{"generated_text", "details"}` (LMI),
 * the shapes training/monitor/capture.py `response_answer` reads from captured traffic.
 */

const SERVICE = 'SageMaker';

/**
 * SageMaker runtime exceptions (names of @aws-sdk/client-sagemaker-runtime models/errors.d.ts) and the
 * problem each becomes:
 *
 * | exception                              | problem            | why                                                      |
 * |----------------------------------------|--------------------|----------------------------------------------------------|
 * | ModelError, OriginalStatusCode 408     | model-timeout      | the container timed the request out                      |
 * | ModelError, OriginalStatusCode 429     | model-throttled    | TGI answers 429 when its queue is full                   |
 * | ModelError, other 4xx (400, 413, 422, 424) | rejected-by-model | the container refused this input (LMI: 424 on payload validation) |
 * | ModelError, 5xx or no status           | model-error        | the container failed                                     |
 * | ModelNotReadyException                 | model-not-ready    | serverless capacity or the model is still loading        |
 * | ServiceUnavailable                     | model-not-ready    | SageMaker asks for a retry                               |
 * | ThrottlingException                    | model-throttled    | not modelled by the SDK, but what the service returns at its rate limit |
 * | ValidationError                        | internal           | the request passed the API's checks, so the API's own endpoint or component settings are wrong (logged) |
 * | InternalFailure, InternalDependencyException | model-error  | SageMaker failed to serve the call                       |
 * | ModelStreamError ModelInvocationTimeExceeded | model-timeout | the stream ran past SageMaker's limit                 |
 * | ModelStreamError (StreamBroken), InternalStreamFailure | model-error | the stream broke                            |
 * | anything else                          | internal           | logged with the request id                               |
 */
export const SAGEMAKER_ERRORS: ErrorTable = {
  ModelError: (e) => containerStatusProblem(e.OriginalStatusCode),
  ModelNotReadyException: 'model-not-ready',
  ServiceUnavailable: 'model-not-ready',
  ThrottlingException: 'model-throttled',
  ValidationError: 'internal',
  InternalFailure: 'model-error',
  InternalDependencyException: 'model-error',
  ModelStreamError: (e) => (e.ErrorCode === 'ModelInvocationTimeExceeded' ? 'model-timeout' : 'model-error'),
  InternalStreamFailure: 'model-error',
};

function containerStatusProblem(status: unknown): ProblemCode {
  if (status === 408) return 'model-timeout';
  if (status === 429) return 'model-throttled';
  if (typeof status === 'number' && status >= 400 && status < 500) return 'rejected-by-model';
  return 'model-error';
}

/** TGI and LMI finish reasons; LMI's `error` means generation failed and is a problem, not a reason. */
export function containerFinishReason(reason: unknown): FinishReason {
  if (reason === 'eos_token' || reason === 'stop_sequence') return 'stop';
  if (reason === 'length') return 'length';
  return 'unknown';
}

/**
 * The container request. Greedy requests carry `do_sample: false` and no temperature or top_p: TGI refuses
 * temperature 0 and top_p outside (0, 1), so top_p goes only with sampling and below 1 (1 is no nucleus
 * cut-off anyway). `details` makes both containers return the finish reason and the token count.
 */
export function sagemakerPayload(request: GenerationRequest, stream: boolean, container: ServingContainer = 'tgi'): Record<string, unknown> {
  const sampling = request.temperature > 0;
  const parameters: Record<string, unknown> = { max_new_tokens: request.maxNewTokens, do_sample: sampling };
  if (sampling) {
    parameters.temperature = request.temperature;
    if (request.topP < 1) parameters.top_p = request.topP;
  }
  // TGI's parameter is `stop`; LMI's is `stop_sequences` (its `stop` is a boolean on TensorRT-LLM).
  if (request.stop?.length) parameters[container === 'lmi' ? 'stop_sequences' : 'stop'] = [...request.stop];
  parameters.details = true;
  // The containers take no system turn apart; training/monitor/canary.py joins system text and prompt the same way.
  const inputs = request.system === undefined ? request.prompt : `${request.system}\n${request.prompt}`;
  return stream ? { inputs, parameters, stream: true } : { inputs, parameters };
}

interface ContainerAnswer {
  readonly generated_text?: unknown;
  readonly details?: { readonly finish_reason?: unknown; readonly generated_tokens?: unknown; readonly input_length?: unknown } | null;
}

function usageOf(details: ContainerAnswer['details']): Usage | undefined {
  if (!details) return undefined;
  const usage: { inputTokens?: number; outputTokens?: number } = {};
  if (Number.isInteger(details.input_length) && (details.input_length as number) >= 0) usage.inputTokens = details.input_length as number;
  if (Number.isInteger(details.generated_tokens) && (details.generated_tokens as number) >= 0) usage.outputTokens = details.generated_tokens as number;
  return usage.inputTokens === undefined && usage.outputTokens === undefined ? undefined : usage;
}

/** The text, finish reason and usage of a buffered container answer; throws model-error for any other shape. */
export function readContainerAnswer(body: string, model: ServedModel): Omit<Generation, 'version'> {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw unreadableAnswer(SERVICE, model, 'not JSON');
  }
  const answer = (Array.isArray(value) ? value[0] : value) as ContainerAnswer | undefined;
  if (!answer || typeof answer !== 'object' || typeof answer.generated_text !== 'string') {
    throw unreadableAnswer(SERVICE, model, 'no generated_text');
  }
  if (answer.details?.finish_reason === 'error') throw containerFailed(model);
  const usage = usageOf(answer.details);
  return { text: answer.generated_text, finishReason: containerFinishReason(answer.details?.finish_reason), ...(usage ? { usage } : {}) };
}

function containerFailed(model: ServedModel): ApiProblem {
  return new ApiProblem('model-error', `Model '${model.id}' on ${SERVICE} reported an error while generating.`);
}

/**
 * Splits a container's response stream into JSON objects, one per line, whatever the byte boundaries of the
 * payload parts. Both containers' stream formats are lines of JSON:
 * - TGI: server-sent events `data:{"token": {"text", "special"}, "generated_text", "details"}` (the last
 *   event holds generated_text and details), or `data:{"error": ...}` when generation fails.
 * - LMI with `"stream": true`: JSON lines `{"token": {"id", "text", "log_prob"}}`, the last one also holding
 *   `generated_text` and `details`; with `option.output_formatter=sse` or tgi_compat the same objects come
 *   as `data:` lines; a failure mid-stream is a last line whose details.finish_reason is `error`; dynamic
 *   batching streams `{"outputs": [text]}` lines. Source: DJL Serving "LMI handlers Inference API Schema"
 *   (https://docs.djl.ai/docs/serving/serving/docs/lmi/user_guides/lmi_input_output_schema.html, section
 *   "Response Schema" of Rolling Batch and of Dynamic Batch).
 */
export class ContainerStreamDecoder {
  private readonly decoder = new TextDecoder();
  private pending = '';

  /** The objects of every line completed by `bytes`. */
  push(bytes: Uint8Array): unknown[] {
    this.pending += this.decoder.decode(bytes, { stream: true });
    const lines = this.pending.split('\n');
    this.pending = lines.pop() ?? '';
    return lines.flatMap((line) => this.parse(line));
  }

  /** The object of a last line without a newline. */
  end(): unknown[] {
    const rest = this.pending + this.decoder.decode();
    this.pending = '';
    return this.parse(rest);
  }

  private parse(raw: string): unknown[] {
    let line = raw.trim();
    // SSE fields other than data (event:, id:, retry:) and comments (":") carry no generation.
    if (!line || line.startsWith(':') || /^(event|id|retry):/.test(line)) return [];
    if (line.startsWith('data:')) line = line.slice(5).trim();
    if (!line || line === '[DONE]') return [];
    try {
      return [JSON.parse(line)];
    } catch {
      return [{ unreadable: true }];
    }
  }
}

interface StreamLine extends ContainerAnswer {
  readonly token?: { readonly text?: unknown; readonly special?: unknown; readonly special_token?: unknown };
  readonly outputs?: unknown;
  readonly error?: unknown;
  readonly unreadable?: boolean;
}

/**
 * The events of one decoded stream line, and its details when it is the last. Special tokens (TGI's `</s>`
 * at the end) are not text of the answer and are dropped.
 */
export function streamLineEvents(value: unknown, model: ServedModel): { tokens: string[]; details?: ContainerAnswer['details'] } {
  const line = (value ?? {}) as StreamLine;
  if (line.unreadable) throw unreadableAnswer(SERVICE, model, 'a stream line that is not JSON');
  if (line.error !== undefined && line.error !== null) throw containerFailed(model);
  if (line.details?.finish_reason === 'error') throw containerFailed(model);
  const tokens: string[] = [];
  if (line.token && typeof line.token.text === 'string' && line.token.text && line.token.special !== true && line.token.special_token !== true) {
    tokens.push(line.token.text);
  } else if (Array.isArray(line.outputs) && typeof line.outputs[0] === 'string' && line.outputs[0]) {
    tokens.push(line.outputs[0]);
  }
  return line.details ? { tokens, details: line.details } : { tokens };
}

export class SageMakerBackend implements Backend {
  constructor(private readonly client: SageMakerRuntimeClient) {}

  async generate(model: ServedModel, request: GenerationRequest, signal: AbortSignal): Promise<Generation> {
    let output;
    try {
      output = await this.client.send(
        new InvokeEndpointCommand({
          EndpointName: model.endpointName,
          ...(model.inferenceComponentName ? { InferenceComponentName: model.inferenceComponentName } : {}),
          ContentType: 'application/json',
          Accept: 'application/json',
          Body: JSON.stringify(sagemakerPayload(request, false, model.container)),
        }),
        { abortSignal: signal },
      );
    } catch (error) {
      throw mapBackendError(error, SAGEMAKER_ERRORS, SERVICE, model);
    }
    const body = output.Body ? new TextDecoder().decode(output.Body) : '';
    return { ...readContainerAnswer(body, model), ...versionOf(model, output.InvokedProductionVariant) };
  }

  async *stream(model: ServedModel, request: GenerationRequest, signal: AbortSignal): AsyncIterable<StreamEvent> {
    const decoder = new ContainerStreamDecoder();
    let details: ContainerAnswer['details'];
    let version: { version?: string } = {};
    try {
      const output = await this.client.send(
        new InvokeEndpointWithResponseStreamCommand({
          EndpointName: model.endpointName,
          ...(model.inferenceComponentName ? { InferenceComponentName: model.inferenceComponentName } : {}),
          ContentType: 'application/json',
          Body: JSON.stringify(sagemakerPayload(request, true, model.container)),
        }),
        { abortSignal: signal },
      );
      version = versionOf(model, output.InvokedProductionVariant);
      for await (const part of output.Body ?? []) {
        if (!part.PayloadPart?.Bytes) continue;
        for (const value of decoder.push(part.PayloadPart.Bytes)) {
          const events = streamLineEvents(value, model);
          for (const text of events.tokens) yield { kind: 'token', text };
          if (events.details) details = events.details;
        }
      }
      for (const value of decoder.end()) {
        const events = streamLineEvents(value, model);
        for (const text of events.tokens) yield { kind: 'token', text };
        if (events.details) details = events.details;
      }
    } catch (error) {
      throw mapBackendError(error, SAGEMAKER_ERRORS, SERVICE, model);
    }
    const usage = usageOf(details);
    yield { kind: 'done', finishReason: containerFinishReason(details?.finish_reason), ...(usage ? { usage } : {}), ...version };
  }
}

/**
 * The version that answered: the A/B endpoint's variant (SageMaker's InvokedProductionVariant) for an
 * endpoint, the configured version for an inference component, which serves exactly one.
 */
function versionOf(model: ServedModel, variant: string | undefined): { version?: string } {
  const version = model.backend === 'sagemaker-endpoint' && variant ? variant : model.versions[0];
  return version ? { version } : {};
}

/** The SageMaker backend on `client`, or on a new client with `settings` (one per container). */
export function sagemakerBackend(settings: ClientSettings, client?: SageMakerRuntimeClient): Backend {
  return new SageMakerBackend(client ?? new SageMakerRuntimeClient(settings));
}
