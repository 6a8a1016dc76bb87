/**
 * @fmft/inference-client: the TypeScript/JavaScript client of the inference API (api/openapi.json).
 * README.md shows its use; api/vectors/README.md is the behaviour it shares with the Python and Java clients.
 */
export { InferenceClient, TokenStream, VERSION } from './client';
export type { InferenceClientOptions, StreamResult } from './client';
export { ApiError, PROBLEM_TYPE_PREFIX, StreamError, TransportError } from './errors';
export { DEFAULT_RETRY, parseRetryAfter, retryWait } from './retry';
export type { RetryOptions, RetryPolicy } from './retry';
export type { AwsCredentials } from './sigv4';
export type * from './types';
export type { components, operations, paths } from './openapi';
