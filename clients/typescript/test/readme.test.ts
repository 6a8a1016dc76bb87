import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LocalServer, REPO_ROOT, startLocalServer } from './local-server';

/** The README's example is examples/quickstart.ts, word for word, and it runs against the local server. */

const PACKAGE_DIR = join(__dirname, '..');
const EXAMPLE = join(PACKAGE_DIR, 'examples', 'quickstart.ts');
const MARKER = '<!-- quickstart: examples/quickstart.ts -->';
const { server: settings } = JSON.parse(readFileSync(join(REPO_ROOT, 'api', 'vectors', 'vectors.json'), 'utf8')) as {
  server: { apiKey: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } };
};

/** The environment without a session token of the caller's own, which the local server's credentials lack. */
function withoutSessionToken(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const rest = { ...env };
  delete rest.AWS_SESSION_TOKEN;
  return rest;
}

let server: LocalServer;
beforeAll(async () => {
  server = await startLocalServer();
});
afterAll(async () => {
  await server?.stop();
});

test('the README includes examples/quickstart.ts verbatim', () => {
  const readme = readFileSync(join(PACKAGE_DIR, 'README.md'), 'utf8');
  const block = new RegExp(`${MARKER}\\n\`\`\`ts\\n([\\s\\S]*?)\`\`\`\\n`).exec(readme);
  expect(block).not.toBeNull();
  expect(block![1]).toBe(readFileSync(EXAMPLE, 'utf8'));
});

test('the example runs: key and SigV4, generate, stream, a task and a problem', async () => {
  await server.script([
    { model: { text: 'A claim filed on May 3.', finishReason: 'stop' } },
    { model: { tokens: ['Hel', 'lo', '!'], finishReason: 'stop' } },
    { model: { text: 'Billing.', finishReason: 'stop' } },
  ]);
  const { stdout } = await promisify(execFile)(join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), ['--tsconfig', join(__dirname, 'tsconfig.json'), EXAMPLE], {
    cwd: REPO_ROOT,
    env: {
      ...withoutSessionToken(process.env),
      FMFT_API_URL: server.url,
      FMFT_API_KEY: settings.apiKey,
      AWS_ACCESS_KEY_ID: settings.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: settings.credentials.secretAccessKey,
      AWS_REGION: settings.region,
    },
  });
  expect(stdout.split('\n')).toEqual([
    'models: serving, support-assistant, claims-nova',
    'generate: A claim filed on May 3. (stop)',
    'stream: Hello! (stop)',
    'classify (SigV4): billing',
    'error: invalid-request 400 /prompt',
    '',
  ]);
  const requests = await server.requests();
  expect(requests.map((r) => `${r.method} ${r.path} ${r.headers.authorization ? 'sigv4' : 'key'}`)).toEqual([
    'GET /v1/models key',
    'POST /v1/models/serving/generate key',
    'POST /v1/models/serving/generate-stream key',
    'POST /v1/models/support-assistant/classify sigv4',
    'POST /v1/models/serving/generate key',
  ]);
});
