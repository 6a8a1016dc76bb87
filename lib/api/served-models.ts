/**
 * The models an environment serves: the contract between the CDK construct, which writes SERVED_MODELS, and
 * the handler, which routes each model id to its backend. Parsing is strict (unknown keys, wrong types and
 * missing backend settings are errors naming the field) because a typo here would otherwise surface as a
 * failed model call on a live request.
 */

export type ModelBackend = 'sagemaker-endpoint' | 'sagemaker-inference-component' | 'bedrock';

export interface ServedModel {
  /** ModelId of the OpenAPI document ('serving' for the A/B endpoint). */
  readonly id: string;
  readonly backend: ModelBackend;
  /** The endpoint of the SageMaker backends. */
  readonly endpointName?: string;
  /** The inference component of backend sagemaker-inference-component. */
  readonly inferenceComponentName?: string;
  /** Bedrock: the provisioned model ARN or custom model deployment ARN (Converse's modelId). */
  readonly modelArn?: string;
  /** Model package ARNs or the Bedrock model ARN, as configured; the first answers `version` where the backend does not say. */
  readonly versions: readonly string[];
  /** Whether generate-stream serves this model. */
  readonly streaming: boolean;
  /** The serving container of a SageMaker backend, whose request parameters differ (`stop` vs `stop_sequences`). @default 'tgi' */
  readonly container?: ServingContainer;
}

/** Serving containers of the SageMaker backends (lib/config: serving.container). */
export type ServingContainer = 'lmi' | 'tgi';
export const SERVING_CONTAINERS: readonly ServingContainer[] = ['lmi', 'tgi'];

export const MODEL_BACKENDS: readonly ModelBackend[] = ['sagemaker-endpoint', 'sagemaker-inference-component', 'bedrock'];

// Kept equal to components.schemas.ModelId of api/openapi.json (test/api checks it).
export const MODEL_ID_PATTERN = /^[a-zA-Z0-9](-*[a-zA-Z0-9])*$/;
export const MODEL_ID_MAX_LENGTH = 63;
/** maxLength of ServedModel.versions items and of every response's `version`. */
export const VERSION_MAX_LENGTH = 2048;

const FIELDS = ['id', 'backend', 'endpointName', 'inferenceComponentName', 'modelArn', 'versions', 'streaming', 'container'] as const;
/** The settings each backend needs; the other settings are refused, so a model cannot look served by two. */
const BACKEND_SETTINGS: Record<ModelBackend, readonly (typeof FIELDS)[number][]> = {
  'sagemaker-endpoint': ['endpointName'],
  'sagemaker-inference-component': ['endpointName', 'inferenceComponentName'],
  bedrock: ['modelArn'],
};
const SETTINGS = ['endpointName', 'inferenceComponentName', 'modelArn'] as const;

const show = (value: unknown): string => {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
};

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.trim().length > 0;
}

/** Every problem of one entry, each prefixed with its path (`[2].backend`). */
function entryProblems(entry: unknown, at: string): string[] {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return [`${at}: got ${show(entry)}; allowed: an object with ${FIELDS.join(', ')}`];
  const e = entry as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(e)) {
    if (!(FIELDS as readonly string[]).includes(key)) problems.push(`${at}.${key}: unknown field; allowed: ${FIELDS.join(', ')}`);
  }
  if (typeof e.id !== 'string' || !MODEL_ID_PATTERN.test(e.id) || e.id.length > MODEL_ID_MAX_LENGTH) {
    problems.push(`${at}.id: got ${show(e.id)}; allowed: 1-${MODEL_ID_MAX_LENGTH} letters, digits and inner hyphens (${MODEL_ID_PATTERN.source})`);
  }
  const backend = e.backend as ModelBackend;
  if (!MODEL_BACKENDS.includes(backend)) {
    problems.push(`${at}.backend: got ${show(e.backend)}; allowed: ${MODEL_BACKENDS.join(', ')}`);
  } else {
    for (const setting of SETTINGS) {
      const needed = BACKEND_SETTINGS[backend].includes(setting);
      if (needed && !isNonEmptyString(e[setting])) problems.push(`${at}.${setting}: got ${show(e[setting])}; backend ${backend} needs it (a non-empty string)`);
      if (!needed && e[setting] !== undefined) problems.push(`${at}.${setting}: not allowed for backend ${backend} (it takes ${BACKEND_SETTINGS[backend].join(', ')})`);
    }
  }
  if (!Array.isArray(e.versions) || !e.versions.every((v) => isNonEmptyString(v) && v.length <= VERSION_MAX_LENGTH)) {
    problems.push(`${at}.versions: got ${show(e.versions)}; allowed: an array of non-empty strings of at most ${VERSION_MAX_LENGTH} characters (model package or Bedrock model ARNs)`);
  }
  if (typeof e.streaming !== 'boolean') problems.push(`${at}.streaming: got ${show(e.streaming)}; allowed: true or false`);
  if (e.container !== undefined) {
    if (backend === 'bedrock') problems.push(`${at}.container: not allowed for backend bedrock (it names a SageMaker serving container)`);
    else if (!SERVING_CONTAINERS.includes(e.container as ServingContainer)) problems.push(`${at}.container: got ${show(e.container)}; allowed: ${SERVING_CONTAINERS.join(', ')}`);
  }
  return problems;
}

/** The served models in `text` (SERVED_MODELS); throws one error listing every problem, each with its path. */
export function parseServedModels(text: string): ServedModel[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`SERVED_MODELS is not JSON (${(error as Error).message}); allowed: a JSON array of served models`);
  }
  if (!Array.isArray(value)) throw new Error(`SERVED_MODELS: got ${show(value)}; allowed: a JSON array of served models`);
  const problems = value.flatMap((entry, i) => entryProblems(entry, `[${i}]`));
  const ids = value.map((entry) => (entry as { id?: unknown } | null)?.id);
  ids.forEach((id, i) => {
    if (typeof id === 'string' && ids.indexOf(id) !== i) problems.push(`[${i}].id: '${id}' is served twice (first at [${ids.indexOf(id)}])`);
  });
  if (problems.length) throw new Error(`Invalid SERVED_MODELS:\n- ${problems.join('\n- ')}`);
  return (value as ServedModel[]).map((m) => Object.freeze({ ...m, versions: Object.freeze([...m.versions]) }));
}
