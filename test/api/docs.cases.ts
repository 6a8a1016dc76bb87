import * as fs from 'fs';
import * as path from 'path';
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

  test('its route table names every operation of the document and no other', () => {
    const routes = [...DOC.matchAll(/^\| `(GET|POST) ([^`]+)` \|/gm)].map((m) => `${m[1]} /${m[2]}`);
    expect(routes.sort()).toEqual(apiOperations().map((o) => `${o.method} ${o.path}`).sort());
  });
});
