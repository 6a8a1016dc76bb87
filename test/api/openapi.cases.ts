import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import Ajv2020 from 'ajv/dist/2020';
import { gatewayProblemTemplate } from '../../lib/constructs/api/inference-api';
import {
  API_DIRECTORY,
  apiOperations,
  nonPortableKeywords,
  OPENAPI_DOCUMENT,
  PROBLEM_TYPES,
  problemTypeUri,
  schemaClosure,
} from '../../lib/constructs/api/openapi-document';

const ROOT = path.join(__dirname, '..', '..');
const REDOCLY = path.join(ROOT, 'node_modules', '.bin', 'redocly');

/** Redocly's linter on `file` with the project's rules; its exit status and output. */
function lint(file: string): { status: number; output: string } {
  try {
    const output = execFileSync(REDOCLY, ['lint', '--config', path.join(API_DIRECTORY, 'redocly.yaml'), '--format', 'stylish', file], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
    });
    return { status: 0, output };
  } catch (e) {
    const err = e as { status: number; stdout: string; stderr: string };
    return { status: err.status, output: `${err.stdout}${err.stderr}` };
  }
}

/** A copy of the document, changed, in a temporary file. */
function brokenCopy(change: (doc: any) => void): string {
  const doc = JSON.parse(fs.readFileSync(path.join(API_DIRECTORY, 'openapi.json'), 'utf8'));
  change(doc);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'openapi-')), 'openapi.json');
  fs.writeFileSync(file, JSON.stringify(doc));
  return file;
}

/** A validator of the document's component schemas (JSON Schema 2020-12, as OpenAPI 3.1 reads them). */
function schemaValidator() {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  ajv.addSchema({ $id: 'https://fmft/openapi.json', components: OPENAPI_DOCUMENT.components });
  return (name: string, value: unknown) => {
    const validate = ajv.getSchema(`https://fmft/openapi.json#/components/schemas/${name}`)!;
    return validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
  };
}

describe('the OpenAPI document', () => {
  test("passes Redocly's recommended-strict lint", () => {
    const { status, output } = lint(path.join(API_DIRECTORY, 'openapi.json'));
    expect({ status, output: status === 0 ? '' : output }).toEqual({ status: 0, output: '' });
  });

  test('the lint fails a document with an operation without operationId or a response without description', () => {
    const noId = lint(brokenCopy((d) => delete d.paths['/models'].get.operationId));
    expect(noId.status).not.toBe(0);
    expect(noId.output).toMatch(/operation-operationId/);
    const noDescription = lint(brokenCopy((d) => delete d.paths['/models/{model}/generate'].post.responses['200'].description));
    expect(noDescription.status).not.toBe(0);
  });

  test('every schema uses only keywords that mean the same to API Gateway (draft 4) and OpenAPI 3.1 (2020-12)', () => {
    const found = Object.entries(OPENAPI_DOCUMENT.components.schemas).flatMap(([name, schema]) => nonPortableKeywords(schema, name));
    expect(found).toEqual([]);
  });

  test('the portability check finds what draft 4 reads differently', () => {
    expect(nonPortableKeywords({ type: 'number', exclusiveMinimum: 0 }, 'X')).toEqual(['X: exclusiveMinimum']);
    expect(nonPortableKeywords({ type: ['string', 'null'] }, 'X')).toEqual(['X: type ["string","null"] (one type name only)']);
    expect(nonPortableKeywords({ type: 'object', properties: { a: { const: 1 } } }, 'X')).toEqual(['X/properties/a: const']);
  });

  test('operations: every route has an operationId, JSON bodies are component schemas, only generate-stream streams', () => {
    const ops = apiOperations();
    expect(ops.map((o) => `${o.method} ${o.path} ${o.operationId}`)).toEqual([
      'GET /models listModels',
      'POST /models/{model}/generate generate',
      'POST /models/{model}/generate-stream generateStream',
      'POST /models/{model}/classify classify',
      'POST /models/{model}/summarize summarize',
      'POST /models/{model}/answer answer',
    ]);
    expect(ops.filter((o) => o.streaming).map((o) => o.operationId)).toEqual(['generateStream']);
    for (const op of ops.filter((o) => o.path.includes('{model}'))) expect(op.pathParameters).toEqual(['model']);
    expect(schemaClosure('GenerateRequest').sort()).toEqual(['GenerateRequest', 'GenerationParameters']);
  });

  test('every error status the document names has a problem type with that status, and every 429/503 one a Retry-After', () => {
    const statuses = new Set(
      Object.values(OPENAPI_DOCUMENT.paths).flatMap((item) =>
        Object.values(item).flatMap((op: any) => Object.keys(op?.responses ?? {}).filter((s) => Number(s) >= 400).map(Number)),
      ),
    );
    const problemStatuses = new Set(Object.values(PROBLEM_TYPES).map((p) => p.status));
    expect([...statuses].filter((s) => !problemStatuses.has(s))).toEqual([]);
    for (const [code, p] of Object.entries(PROBLEM_TYPES)) {
      expect({ code, ok: p.status >= 400 && p.status <= 599 }).toEqual({ code, ok: true });
      if (p.status === 429 || p.status === 503) expect({ code, retryAfter: typeof p.retryAfterSeconds }).toEqual({ code, retryAfter: 'number' });
      if (p.retryAfterSeconds !== undefined) expect({ code, retryable: p.retryable }).toEqual({ code, retryable: true });
      expect(problemTypeUri(code)).toMatch(new RegExp((OPENAPI_DOCUMENT.components.schemas.Problem as any).properties.type.pattern));
    }
    expect(() => problemTypeUri('teapot')).toThrow(/problem: got 'teapot'; allowed: invalid-request/);
  });

  test("every API Gateway response renders a problem document the document's Problem schema accepts", () => {
    const check = schemaValidator();
    for (const code of Object.keys(PROBLEM_TYPES)) {
      // What API Gateway substitutes: messageString is the quoted message, requestId a plain id.
      const body = gatewayProblemTemplate(code)
        .replace('$context.error.messageString', JSON.stringify('Too Many "Requests"'))
        .replace('$context.requestId', 'c0ffee-1234');
      const problem = JSON.parse(body);
      expect({ code, errors: check('Problem', problem) }).toEqual({ code, errors: [] });
      expect(problem).toMatchObject({ type: `urn:fmft:problem:${code}`, status: PROBLEM_TYPES[code].status, instance: 'c0ffee-1234' });
    }
  });

  test('the Problem schema refuses a problem without retryable', () => {
    const check = schemaValidator();
    expect(check('Problem', { type: 'urn:fmft:problem:internal', title: 'x', status: 500 })).toEqual([" must have required property 'retryable'"]);
  });
});
