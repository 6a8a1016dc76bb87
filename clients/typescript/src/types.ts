import type { components, operations } from './openapi';

/**
 * The request and response types of each operation, taken from the types generated from api/openapi.json
 * (src/openapi.ts), so a change of the document changes these or fails the drift test.
 */

type Schemas = components['schemas'];

/** The operations this client calls, by their OpenAPI operationId. */
export type OperationId = keyof operations;

/** The JSON request body of `op`. */
export type RequestBody<Op extends OperationId> = operations[Op] extends { requestBody: { content: { 'application/json': infer B } } } ? B : never;

/** The JSON body of `op`'s 200 response. */
export type ResponseBody<Op extends OperationId> = operations[Op]['responses'] extends { 200: { content: { 'application/json': infer R } } } ? R : never;

export type ModelId = Schemas['ModelId'];
export type ModelList = ResponseBody<'listModels'>;
export type ServedModel = Schemas['ServedModel'];
export type GenerateRequest = RequestBody<'generate'>;
export type GenerationParameters = Schemas['GenerationParameters'];
export type GenerateResponse = ResponseBody<'generate'>;
export type ClassifyRequest = RequestBody<'classify'>;
export type ClassifyResponse = ResponseBody<'classify'>;
export type SummarizeRequest = RequestBody<'summarize'>;
export type SummarizeResponse = ResponseBody<'summarize'>;
export type AnswerRequest = RequestBody<'answer'>;
export type AnswerResponse = ResponseBody<'answer'>;
export type Usage = Schemas['Usage'];
/** The data of a `token` event of generate-stream. */
export type StreamToken = Schemas['StreamToken'];
/** The data of the `done` event that ends a generate-stream. */
export type StreamDone = Schemas['StreamDone'];
/** An RFC 9457 problem document, as every error of the API is. */
export type Problem = Schemas['Problem'];
export type FieldError = Schemas['FieldError'];
