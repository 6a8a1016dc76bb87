import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import table from '../../lib/config/container-images.json';

// scripts/dlc-login.sh through bash, with stand-ins for the AWS CLI and Docker that record their arguments.

const ROOT = path.join(__dirname, '..', '..');
const run = promisify(execFile);
const REGIONS = Object.keys(table.registries).join(', ');

const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'dlc-login-'));
const calls = path.join(bin, 'calls.log');
fs.writeFileSync(
  path.join(bin, 'aws'),
  `#!/usr/bin/env bash\necho "aws $*" >> "${calls}"\nif [[ "$1" == configure ]]; then [[ -n "\${FAKE_CONFIGURED_REGION:-}" ]] && echo "$FAKE_CONFIGURED_REGION"; exit 0; fi\necho token\n`,
  { mode: 0o755 },
);
fs.writeFileSync(path.join(bin, 'docker'), `#!/usr/bin/env bash\necho "docker $* password=$(cat)" >> "${calls}"\n`, { mode: 0o755 });

async function dlcLogin(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string; calls: string[] }> {
  fs.rmSync(calls, { force: true });
  const base: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
  delete base.AWS_REGION;
  let result: { code: number; stdout: string; stderr: string };
  try {
    const { stdout, stderr } = await run('bash', [path.join('scripts', 'dlc-login.sh'), ...args], { cwd: ROOT, env: { ...base, ...env } });
    result = { code: 0, stdout, stderr };
  } catch (e: any) {
    result = { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
  const made = fs.existsSync(calls) ? fs.readFileSync(calls, 'utf8').trim().split('\n') : [];
  return { ...result, calls: made };
}

describe('scripts/dlc-login.sh', () => {
  test.each(['--help', '-h'])('%s prints the usage with the regions of container-images.json and exits 0', async (flag) => {
    const { code, stdout, stderr, calls: made } = await dlcLogin([flag]);
    expect({ code, stderr, made }).toEqual({ code: 0, stderr: '', made: [] });
    expect(stdout).toMatch(/^usage: scripts\/dlc-login.sh \[region\]$/m);
    expect(stdout).toContain(`Regions (lib/config/container-images.json): ${REGIONS}`);
  });

  test('an unknown region is an error naming the allowed regions, before any AWS or Docker call', async () => {
    const { code, stdout, stderr, calls: made } = await dlcLogin(['xx-nowhere-1']);
    expect({ code, stdout, stderr, made }).toEqual({ code: 2, stdout: '', stderr: `region: got "xx-nowhere-1"; allowed: ${REGIONS}\n`, made: [] });
  });

  test('an unknown option is an error, not a region', async () => {
    const { code, stderr, calls: made } = await dlcLogin(['--region', 'us-east-1']);
    expect({ code, stderr, made }).toEqual({ code: 2, stderr: 'unknown option "--region"; allowed: -h, --help (the region is given without an option)\n', made: [] });
  });

  test('no region anywhere is an error', async () => {
    const { code, stderr } = await dlcLogin([]);
    expect({ code, stderr }).toEqual({ code: 2, stderr: 'region: not given; pass it as the first argument or set AWS_REGION\n' });
  });

  test("a known region logs Docker in to that region's DLC registry", async () => {
    const { code, calls: made } = await dlcLogin(['eu-south-1']);
    expect(code).toBe(0);
    expect(made).toEqual(['aws ecr get-login-password --region eu-south-1', 'docker login --username AWS --password-stdin 692866216735.dkr.ecr.eu-south-1.amazonaws.com password=token']);
  });

  test('the region defaults to AWS_REGION, then to the CLI configuration', async () => {
    expect((await dlcLogin([], { AWS_REGION: 'us-west-2' })).calls).toContain('aws ecr get-login-password --region us-west-2');
    expect((await dlcLogin([], { FAKE_CONFIGURED_REGION: 'us-east-2' })).calls).toContain('aws ecr get-login-password --region us-east-2');
  });
});
