import { finished } from 'stream';

/**
 * Lambda response streaming behind API Gateway REST's streaming Lambda proxy integration.
 *
 * API Gateway reads the streamed output as a JSON metadata prelude (`statusCode`, `headers`), a delimiter of
 * 8 NUL bytes, then the raw payload, and starts sending the payload once it has the prelude and delimiter
 * ("Lambda proxy integration format for response streaming",
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/response-transfer-mode-lambda.html). This is
 * what the Node runtime's `awslambda.HttpResponseStream.from` writes (content type
 * `application/vnd.awslambda.http-integration-response`, JSON prelude, 8 zero bytes; aws-lambda-nodejs-
 * runtime-interface-client src/HttpResponseStream.js); writing it here instead keeps the handler runnable and
 * testable on any Writable, outside the runtime.
 */

/** The runtime's response stream: a Writable; `setContentType` exists only inside Lambda. */
export interface ResponseStream extends NodeJS.WritableStream {
  setContentType?(contentType: string): void;
}

export type StreamingHandler<E> = (event: E, responseStream: ResponseStream, context?: unknown) => Promise<void>;

/** The part of the Node runtime's `awslambda` global used here. */
interface AwsLambdaRuntime {
  streamifyResponse<E>(handler: StreamingHandler<E>): StreamingHandler<E>;
}

/**
 * `awslambda.streamifyResponse(handler)` inside the Lambda Node runtime, which marks the handler as streaming;
 * elsewhere (tests, the benchmark) the handler itself, called with any Writable.
 */
export function streamifyResponse<E>(handler: StreamingHandler<E>): StreamingHandler<E> {
  // Checked by the method, not the global: the SDK's @aws/lambda-invoke-store creates an empty `awslambda` object.
  const runtime = (globalThis as { awslambda?: Partial<AwsLambdaRuntime> }).awslambda;
  return typeof runtime?.streamifyResponse === 'function' ? runtime.streamifyResponse(handler) : handler;
}

export const HTTP_INTEGRATION_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
export const PRELUDE_DELIMITER_BYTES = 8;

/** The prelude and delimiter; everything written after them is the HTTP response body. */
export function writePrelude(stream: ResponseStream, statusCode: number, headers: Readonly<Record<string, string>>): void {
  stream.setContentType?.(HTTP_INTEGRATION_CONTENT_TYPE);
  stream.write(JSON.stringify({ statusCode, headers }));
  stream.write(Buffer.alloc(PRELUDE_DELIMITER_BYTES));
}

export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache',
};

/** One server-sent event; JSON.stringify escapes newlines, so `data` is always a single line. */
export function sseEvent(name: 'token' | 'done' | 'error', data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * Ends the stream and resolves once it is flushed, failed or closed: a client that left destroys the stream,
 * whose `end` callback then never runs, and the handler must still return.
 */
export function endStream(stream: ResponseStream): Promise<void> {
  return new Promise((resolve) => {
    finished(stream, () => resolve());
    stream.end();
  });
}
