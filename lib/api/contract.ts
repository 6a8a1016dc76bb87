import openapiDocument from '../../api/openapi.json';
import problemsDocument from '../../api/problems.json';
import taskPromptsDocument from '../../training/contracts/task-prompts.json';

/**
 * The three files the inference API obeys, imported (and so bundled) whole: api/openapi.json (routes and
 * schemas), api/problems.json (every error) and training/contracts/task-prompts.json (how a task request
 * becomes the user turn the model was fine-tuned on). The runtime reads routes, defaults and templates from
 * them instead of restating them, so a change to the contract changes the handler or fails its tests.
 */

export const OPENAPI = openapiDocument;
export const SCHEMAS = openapiDocument.components.schemas;
export type SchemaName = keyof typeof SCHEMAS;

/** The operations the handler implements; `ROUTES` refuses a document with any other (drift is an error). */
export const OPERATION_IDS = ['listModels', 'generate', 'generateStream', 'classify', 'summarize', 'answer'] as const;
export type OperationId = (typeof OPERATION_IDS)[number];
export type TaskOperationId = 'classify' | 'summarize' | 'answer';

/** One route as API Gateway's proxy event names it (`httpMethod`, `resource`), with its request body schema. */
export interface Route {
  readonly operationId: OperationId;
  readonly method: string;
  /** The path without the stage, as in the event's `resource`: `/models/{model}/generate`. */
  readonly resource: string;
  /** The components.schemas name of the JSON request body; absent for routes without one. */
  readonly requestSchema?: SchemaName;
}

const REF_PREFIX = '#/components/schemas/';

interface OperationObject {
  readonly operationId?: string;
  readonly requestBody?: { readonly content?: Record<string, { readonly schema?: { readonly $ref?: string } }> };
}

function readRoutes(): Map<string, Route> {
  const routes = new Map<string, Route>();
  for (const [resource, item] of Object.entries(openapiDocument.paths)) {
    for (const [method, value] of Object.entries(item as Record<string, unknown>)) {
      if (method === 'parameters') continue;
      const operation = value as OperationObject;
      const operationId = operation.operationId as OperationId;
      if (!OPERATION_IDS.includes(operationId)) {
        throw new Error(`api/openapi.json: ${method.toUpperCase()} ${resource} has operationId '${operation.operationId}', which lib/api does not implement (implemented: ${OPERATION_IDS.join(', ')})`);
      }
      const ref = operation.requestBody?.content?.['application/json']?.schema?.$ref;
      const requestSchema = ref?.startsWith(REF_PREFIX) ? (ref.slice(REF_PREFIX.length) as SchemaName) : undefined;
      routes.set(routeKey(method, resource), { operationId, method: method.toUpperCase(), resource, requestSchema });
    }
  }
  return routes;
}

export function routeKey(method: string, resource: string): string {
  return `${method.toUpperCase()} ${resource}`;
}

/** Every route of the document, by `routeKey(httpMethod, resource)`. */
export const ROUTES: ReadonlyMap<string, Route> = readRoutes();

/** Request defaults, from the schemas' `default` (the document promises them to callers). */
const parameters = SCHEMAS.GenerationParameters.properties;
export const DEFAULTS = {
  maxNewTokens: parameters.maxNewTokens.default,
  temperature: parameters.temperature.default,
  topP: parameters.topP.default,
  summarizeMaxNewTokens: SCHEMAS.SummarizeRequest.properties.maxNewTokens.default,
  answerMaxNewTokens: SCHEMAS.AnswerRequest.properties.maxNewTokens.default,
} as const;

/** One problem type of api/problems.json. */
export interface ProblemType {
  readonly status: number;
  readonly title: string;
  readonly retryable: boolean;
  readonly retryAfterSeconds?: number;
  readonly causes: string;
}
export type ProblemCode = keyof typeof problemsDocument.problems;
export const PROBLEM_TYPES: Readonly<Record<ProblemCode, ProblemType>> = problemsDocument.problems;
export const PROBLEM_TYPE_PREFIX = 'urn:fmft:problem:';

/** The user-turn template of each task route, e.g. `{context}\n\nQuestion: {question}` for `answer`. */
export const TASK_TEMPLATES: Readonly<Record<TaskOperationId, string>> = (() => {
  const templates: Partial<Record<TaskOperationId, string>> = {};
  for (const task of Object.values(taskPromptsDocument.tasks)) templates[task.route as TaskOperationId] = task.template;
  for (const route of ['classify', 'summarize', 'answer'] as const) {
    if (templates[route] === undefined) throw new Error(`training/contracts/task-prompts.json: no task has route '${route}'`);
  }
  return templates as Record<TaskOperationId, string>;
})();
