import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './local-server';

/**
 * The committed src/openapi.ts is what openapi-typescript makes of api/openapi.json today: the test runs the
 * package's own `generate` script, into a temporary file, and fails on any difference.
 */

const PACKAGE_DIR = join(__dirname, '..');
const COMMITTED = join(PACKAGE_DIR, 'src', 'openapi.ts');
const GENERATE = 'openapi-typescript ../../api/openapi.json --default-non-nullable false -o src/openapi.ts';

test('the generate script is the command this test runs', () => {
  const pkg = JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  expect(pkg.scripts.generate).toBe(GENERATE);
});

test('src/openapi.ts is what the generator makes of api/openapi.json (else: npm run generate in clients/typescript)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'openapi-types-'));
  try {
    const out = join(dir, 'openapi.ts');
    const [bin, ...args] = GENERATE.split(' ');
    args[args.indexOf('-o') + 1] = out;
    execFileSync(join(REPO_ROOT, 'node_modules', '.bin', bin), args, { cwd: PACKAGE_DIR, stdio: 'pipe' });
    expect(readFileSync(COMMITTED, 'utf8')).toBe(readFileSync(out, 'utf8'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the generator is pinned exactly in the root package.json', () => {
  const root = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
  expect(root.devDependencies['openapi-typescript']).toMatch(/^\d+\.\d+\.\d+$/);
});
