import * as fs from 'fs';
import * as path from 'path';
import { BEDROCK_ERRORS } from '../../lib/api/backends/bedrock';
import { SAGEMAKER_ERRORS } from '../../lib/api/backends/sagemaker';
import { apiOperations, PROBLEM_TYPES } from '../../lib/constructs/api/openapi-document';

const DOC = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'api.md'), 'utf8');

describe('docs/api.md', () => {
  test('its problem table is api/problems.json: every code with its status, retryability, wait and causes', () => {
    const table = DOC.split('<!-- problem-types')[1].split('\n\n')[0];
    const rows = table
      .split('\n')
      .filter((l) => l.startsWith('| ') && !l.startsWith('| code') && !l.startsWith('|---'))
      .map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
    const expected = Object.entries(PROBLEM_TYPES).map(([code, p]) => [
      code,
      String(p.status),
      p.retryable ? 'yes' : 'no',
      p.retryAfterSeconds === undefined ? '' : String(p.retryAfterSeconds),
      p.causes,
    ]);
    expect(rows.sort()).toEqual(expected.sort());
  });

  test("its table of the models' errors is the handler's: every AWS error of both backends, with the problem it becomes", () => {
    const table = DOC.split('<!-- backend-errors')[1].split('\n\n')[0];
    const rows = table
      .split('\n')
      .filter((l) => /^\| (SageMaker|Bedrock) \|/.test(l))
      .map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
    const documented = rows.map(([backend, error, problem]) => ({ backend, error: error.replace(/`/g, ''), problem }));
    const expected = [
      ...Object.entries(SAGEMAKER_ERRORS).map(([error, code]) => ({ backend: 'SageMaker', error, code })),
      ...Object.entries(BEDROCK_ERRORS).map(([error, code]) => ({ backend: 'Bedrock', error, code })),
    ];
    expect(documented.map((d) => `${d.backend} ${d.error}`)).toEqual(expected.map((e) => `${e.backend} ${e.error}`));
    for (const e of expected) {
      const row = documented.find((d) => d.backend === e.backend && d.error === e.error)!;
      // A fixed code is the row's first code; a code decided by the error's fields is named among the row's.
      if (typeof e.code === 'string') expect({ error: e.error, code: row.problem.match(/`([a-z-]+)`/)![1] }).toEqual({ error: e.error, code: e.code });
      else expect(row.problem).toMatch(/`model-error`/);
      for (const code of row.problem.match(/`[a-z-]+`/g)!.map((c) => c.replace(/`/g, ''))) expect(Object.keys(PROBLEM_TYPES)).toContain(code);
    }
  });

  test('its route table names every operation of the document and no other', () => {
    const routes = [...DOC.matchAll(/^\| `(GET|POST) ([^`]+)` \|/gm)].map((m) => `${m[1]} /${m[2]}`);
    expect(routes.sort()).toEqual(apiOperations().map((o) => `${o.method} ${o.path}`).sort());
  });
});
