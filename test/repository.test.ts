/** Properties of the repository itself: a clone stands alone, and no test module is left out of a run. */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { CASES_SUFFIX } from './support/cases';

const ROOT = path.join(__dirname, '..');
const tracked = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' })
  .split('\n')
  .filter((f) => f && fs.existsSync(path.join(ROOT, f)));

test('nothing the app, the tests or the scripts read lives outside the repository', () => {
  const code = tracked.filter((f) => /\.(ts|js|py|sh|json|ya?ml)$/.test(f) || f.startsWith('.ci/'));
  const outside = code.filter((f) => /(\.\.\/)+shared\//.test(fs.readFileSync(path.join(ROOT, f), 'utf8')));
  expect(outside).toEqual([]);
});

test('every folder of *.cases.ts modules has a test file that runs them all', () => {
  const folders = [...new Set(tracked.filter((f) => f.endsWith(CASES_SUFFIX)).map((f) => path.dirname(f)))];
  expect(folders.length).toBeGreaterThan(0);
  for (const folder of folders) {
    const runners = fs
      .readdirSync(path.join(ROOT, folder))
      .filter((f) => f.endsWith('.test.ts') && /requireCases\(__dirname\)/.test(fs.readFileSync(path.join(ROOT, folder, f), 'utf8')));
    expect({ folder, runners: runners.length }).toEqual({ folder, runners: 1 });
  }
});
