import Ajv2020, { ErrorObject, ValidateFunction } from 'ajv/dist/2020';
import { SCHEMAS, SchemaName } from './contract';
import { ApiProblem, FieldError, truncate } from './problems';

/**
 * Request checks against the OpenAPI component schemas themselves (OpenAPI 3.1 schemas are JSON Schema
 * 2020-12, hence ajv's 2020 build), so the handler accepts exactly what the document promises. Every failing
 * field is reported at once (allErrors) with a message that says what is allowed, and nothing reaches a model
 * until the request passes.
 */

/**
 * The largest request body the handler reads (UTF-8 bytes after any base64 decoding). It bounds the parse
 * and validation cost per request; the schemas' own limits (100,000-character texts) fit within it.
 */
export const MAX_BODY_BYTES = 256 * 1024;

/** Most field errors one response lists; 200 bad labels need not produce 200 entries. */
export const MAX_FIELD_ERRORS = 50;

// The schemas are registered once under a wrapper document so that their `#/components/schemas/X` references
// resolve unchanged; `components` is declared as an annotation keyword so that strict mode accepts it.
const DOCUMENT_ID = 'urn:fmft:openapi';
const ajv = new Ajv2020({ allErrors: true, strict: true, verbose: true });
ajv.addKeyword({ keyword: 'components' });
ajv.addSchema({ $id: DOCUMENT_ID, components: { schemas: SCHEMAS } });

const compiled = new Map<SchemaName, ValidateFunction>();

/** The compiled validator of one component schema; compiled on first use and kept for the container's life. */
export function schemaValidator(name: SchemaName): ValidateFunction {
  let validate = compiled.get(name);
  if (!validate) {
    validate = ajv.getSchema(`${DOCUMENT_ID}#/components/schemas/${name}`);
    if (!validate) throw new Error(`api/openapi.json has no schema components.schemas.${name}`);
    compiled.set(name, validate);
  }
  return validate;
}

/** Field errors of `value` against schema `name`, empty when it is valid. `root` prefixes every pointer. */
export function schemaErrors(name: SchemaName, value: unknown, root = ''): FieldError[] {
  const validate = schemaValidator(name);
  if (validate(value)) return [];
  return fieldErrors(validate.errors ?? [], root);
}

/** Reads a request body: its size, JSON syntax and schema; throws the problem that names what is wrong. */
export function parseBody(body: string | null | undefined, isBase64Encoded: boolean | undefined, schema: SchemaName): unknown {
  if (body === null || body === undefined || body === '') {
    throw new ApiProblem('invalid-request', 'The request has no body; send a JSON object (Content-Type: application/json).', [
      { field: '', message: `is required: a JSON object of schema ${schema}` },
    ]);
  }
  const text = isBase64Encoded ? Buffer.from(body, 'base64').toString('utf8') : body;
  // A UTF-16 unit is at most 3 UTF-8 bytes, so a text of up to a third of the limit needs no byte count.
  const bytes = text.length * 3 <= MAX_BODY_BYTES ? text.length : Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_BODY_BYTES) {
    throw new ApiProblem('payload-too-large', `The request body has ${bytes} bytes; at most ${MAX_BODY_BYTES} (256 KiB) are accepted.`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof SyntaxError ? error.message : 'not JSON';
    throw new ApiProblem('invalid-request', `The request body is not JSON (${truncate(reason, 120)}); send a JSON object of schema ${schema}.`, [
      { field: '', message: 'must be a JSON object' },
    ]);
  }
  const errors = schemaErrors(schema, value);
  if (errors.length) throw invalidRequest(errors);
  return value;
}

/** The invalid-request problem listing `errors` (at most MAX_FIELD_ERRORS of them). */
export function invalidRequest(errors: readonly FieldError[]): ApiProblem {
  const listed = errors.slice(0, MAX_FIELD_ERRORS);
  const fields = [...new Set(listed.map((e) => e.field || '(body)'))].join(', ');
  const more = errors.length > listed.length ? ` (the first ${listed.length} of ${errors.length} listed)` : '';
  return new ApiProblem('invalid-request', `The request does not match the API: ${truncate(fields, 300)}${more}.`, listed);
}

/** RFC 6901 escaping of one reference token. */
function pointerToken(name: string): string {
  return name.replace(/~/g, '~0').replace(/\//g, '~1');
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `the string ${JSON.stringify(truncate(value, 40))}`;
  return `${typeof value} ${String(value)}`;
}

const ARTICLES: Record<string, string> = { integer: 'an integer', object: 'an object', array: 'an array', string: 'a string', number: 'a number', boolean: 'a boolean (true or false)' };

function range(low: unknown, high: unknown, unit = ''): string {
  if (low !== undefined && high !== undefined) return `from ${low} to ${high}${unit}`;
  if (low !== undefined) return `at least ${low}${unit}`;
  return `at most ${high}${unit}`;
}

/** ajv's errors as the API's FieldErrors: JSON Pointers to the field, messages that say what is allowed. */
export function fieldErrors(errors: readonly ErrorObject[], root = ''): FieldError[] {
  const out: FieldError[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    const { field, message } = describe(error);
    const key = `${root}${field}\n${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ field: root + field, message });
  }
  return out;
}

function describe(error: ErrorObject): FieldError {
  const at = error.instancePath;
  const parent = (error.parentSchema ?? {}) as Record<string, unknown>;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return { field: `${at}/${pointerToken(String(params.missingProperty))}`, message: 'is required' };
    case 'additionalProperties': {
      const allowed = Object.keys((parent.properties as object | undefined) ?? {}).join(', ');
      return { field: `${at}/${pointerToken(String(params.additionalProperty))}`, message: `is not a field here; allowed: ${allowed}` };
    }
    case 'type':
      return { field: at, message: `must be ${ARTICLES[String(params.type)] ?? params.type}, got ${describeValue(error.data)}` };
    case 'minimum':
    case 'maximum':
      return { field: at, message: `must be ${range(parent.minimum, parent.maximum)}, got ${error.data}` };
    case 'minLength':
    case 'maxLength':
      return { field: at, message: `must be ${range(parent.minLength, parent.maxLength, ' characters')} long, got ${[...String(error.data)].length}` };
    case 'minItems':
    case 'maxItems':
      return { field: at, message: `must have ${range(parent.minItems, parent.maxItems, ' items')}, got ${(error.data as unknown[]).length}` };
    case 'uniqueItems':
      return { field: at, message: `must not list an item twice; items ${Math.min(Number(params.i), Number(params.j))} and ${Math.max(Number(params.i), Number(params.j))} are equal` };
    case 'pattern':
      return { field: at, message: `must match ${params.pattern}, got ${describeValue(error.data)}` };
    case 'enum':
      return { field: at, message: `must be one of: ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}; got ${describeValue(error.data)}` };
    default:
      return { field: at, message: error.message ?? `fails ${error.keyword}` };
  }
}
