import * as fs from 'fs';
import * as path from 'path';
import { PROBLEM_TYPE_PREFIX, PROBLEM_TYPES as RUNTIME_PROBLEM_TYPES, ProblemType } from '../../api/contract';

/**
 * The inference API's OpenAPI 3.1 document (api/openapi.json), the single source of truth of its routes and
 * schemas, and its problem types (api/problems.json), read at synth.
 */
export const API_DIRECTORY = path.join(__dirname, '..', '..', '..', 'api');

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
/** A JSON Schema object of the document. */
export type SchemaObject = { [key: string]: Json };

export interface OpenApiDocument {
  readonly openapi: string;
  readonly info: { readonly title: string; readonly version: string };
  readonly paths: Record<string, Record<string, unknown>>;
  readonly components: { readonly schemas: Record<string, SchemaObject> };
}

function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(path.join(API_DIRECTORY, file), 'utf8')) as T;
}

export const OPENAPI_DOCUMENT: OpenApiDocument = readJson('openapi.json');
/** The problem types of api/problems.json, as the handler reads them (one reading for the runtime and the stack). */
export const PROBLEM_TYPES: Readonly<Record<string, ProblemType>> = RUNTIME_PROBLEM_TYPES;
export type { ProblemType };

/** The URI of a problem type (RFC 9457 `type`). */
export function problemTypeUri(code: string): string {
  if (!(code in PROBLEM_TYPES)) throw new Error(`problem: got '${code}'; allowed: ${Object.keys(PROBLEM_TYPES).join(', ')} (api/problems.json)`);
  return `${PROBLEM_TYPE_PREFIX}${code}`;
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch'] as const;

/** One operation of the document, as API Gateway needs it. */
export interface ApiOperation {
  /** The resource path, e.g. `/models/{model}/generate` (the stage name `v1` comes before it). */
  readonly path: string;
  /** Upper case, e.g. `POST`. */
  readonly method: string;
  readonly operationId: string;
  /** The component schema of the JSON request body, if any. */
  readonly requestSchema?: string;
  /** Whether the success response is `text/event-stream` (served by the streaming function). */
  readonly streaming: boolean;
  /** Path parameters (all required in OpenAPI). */
  readonly pathParameters: readonly string[];
}

const SCHEMA_REF = /^#\/components\/schemas\/([A-Za-z0-9]+)$/;

function refName(ref: unknown, where: string): string {
  const match = typeof ref === 'string' ? SCHEMA_REF.exec(ref) : null;
  if (!match) throw new Error(`${where}: $ref ${JSON.stringify(ref)} is not #/components/schemas/<Name>`);
  return match[1];
}

/** Every operation of `doc`, in document order. */
export function apiOperations(doc: OpenApiDocument = OPENAPI_DOCUMENT): ApiOperation[] {
  const params = (doc.components as unknown as { parameters?: Record<string, { name: string; in: string }> }).parameters ?? {};
  const operations: ApiOperation[] = [];
  for (const [route, item] of Object.entries(doc.paths)) {
    const shared = (item.parameters ?? []) as { $ref?: string; name?: string; in?: string }[];
    const pathParameters = shared
      .map((p) => (p.$ref ? params[p.$ref.split('/').pop()!] : p))
      .filter((p): p is { name: string; in: string } => p !== undefined && p.in === 'path')
      .map((p) => p.name);
    for (const method of HTTP_METHODS) {
      const op = item[method] as
        | { operationId: string; requestBody?: { content: Record<string, { schema?: { $ref?: string } }> }; responses: Record<string, { content?: Record<string, unknown> }> }
        | undefined;
      if (!op) continue;
      const body = op.requestBody?.content['application/json']?.schema;
      operations.push({
        path: route,
        method: method.toUpperCase(),
        operationId: op.operationId,
        requestSchema: body ? refName(body.$ref, `${method.toUpperCase()} ${route} requestBody`) : undefined,
        streaming: Object.keys(op.responses['200']?.content ?? {}).includes('text/event-stream'),
        pathParameters,
      });
    }
  }
  return operations;
}

/**
 * JSON Schema keywords whose meaning is the same in draft 4 (API Gateway models) and in 2020-12 (OpenAPI 3.1),
 * so that one schema means the same to API Gateway, to the handler's validator and to the clients. Draft 4's
 * boolean `exclusiveMinimum`, 2020-12's numeric one, `const`, `type` lists and `nullable` are left out on purpose.
 */
export const PORTABLE_SCHEMA_KEYWORDS = new Set([
  '$ref',
  'type',
  'description',
  'default',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minLength',
  'maxLength',
  'pattern',
  'minimum',
  'maximum',
  'enum',
]);

/** Every keyword of `schema` (and of the schemas inside it) that is not portable, as `<path>: <keyword>`. */
export function nonPortableKeywords(schema: Json, at: string): string[] {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return [];
  const found: string[] = [];
  for (const [key, value] of Object.entries(schema)) {
    if (!PORTABLE_SCHEMA_KEYWORDS.has(key)) found.push(`${at}: ${key}`);
    if (key === 'type' && typeof value !== 'string') found.push(`${at}: type ${JSON.stringify(value)} (one type name only)`);
    if (key === 'additionalProperties' && typeof value !== 'boolean') found.push(`${at}: additionalProperties must be true or false`);
    if (key === 'properties' && value && typeof value === 'object' && !Array.isArray(value)) {
      for (const [name, child] of Object.entries(value)) found.push(...nonPortableKeywords(child, `${at}/properties/${name}`));
    }
    if (key === 'items') found.push(...nonPortableKeywords(value, `${at}/items`));
  }
  return found;
}

/**
 * The API Gateway model (JSON Schema draft 4) of a component schema: the same keywords, `$schema` and `title`
 * added, and each `#/components/schemas/X` reference turned into the URL of model X of the REST API, which is
 * how API Gateway models refer to each other.
 */
export function apiGatewayModelSchema(name: string, modelUrl: (model: string) => string, doc: OpenApiDocument = OPENAPI_DOCUMENT): SchemaObject {
  const schema = doc.components.schemas[name];
  if (!schema) throw new Error(`schema: got '${name}'; allowed: ${Object.keys(doc.components.schemas).join(', ')}`);
  const rewrite = (value: Json, where: string): Json => {
    if (Array.isArray(value)) return value.map((v, i) => rewrite(v, `${where}/${i}`));
    if (value === null || typeof value !== 'object') return value;
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => (k === '$ref' ? [k, modelUrl(refName(v, where))] : [k, rewrite(v, `${where}/${k}`)])),
    );
  };
  return { $schema: 'http://json-schema.org/draft-04/schema#', title: name, ...(rewrite(schema, `#/components/schemas/${name}`) as SchemaObject) };
}

/** The component schemas `name` refers to, directly or through others, `name` included. */
export function schemaClosure(name: string, doc: OpenApiDocument = OPENAPI_DOCUMENT): string[] {
  const seen = new Set<string>();
  const visit = (schemaName: string) => {
    if (seen.has(schemaName)) return;
    seen.add(schemaName);
    const walk = (value: Json) => {
      if (Array.isArray(value)) value.forEach(walk);
      else if (value && typeof value === 'object') {
        for (const [k, v] of Object.entries(value)) (k === '$ref' ? visit(refName(v, schemaName)) : walk(v));
      }
    };
    walk(doc.components.schemas[schemaName]);
  };
  visit(name);
  return [...seen];
}
