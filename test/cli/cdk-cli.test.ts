/**
 * The CDK CLI commands the README shows, through the real CLI (node_modules/.bin/cdk): `cdk ls` with the real
 * app (which skips bundling), every stack selector of the README against what `cdk ls` lists, and
 * `bootstrap`, `diff` and `destroy` against a moto server on loopback, as far as they go without an account.
 *
 * Assemblies: scripts/test.sh synthesizes every environment once with `cdk synth` and passes the folder in
 * FMFT_SYNTH_DIR (subfolders dev, prod, prod-serving); run alone, this file synthesizes what it needs.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { ENVIRONMENTS, loadEnvironmentConfig } from '../../lib/config/environments';
import { operationEventProblems } from '../../lib/operations/handlers';
import { startMoto, MotoServer } from '../support/moto';
import { CdkCommand, cdkCommands, hereDocument, isPlaceholder, selectorMatches } from './readme-commands';

const ROOT = path.join(__dirname, '..', '..');
const README = path.join(ROOT, 'README.md');
const CDK = path.join(ROOT, 'node_modules', '.bin', 'cdk');
const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'serving.json');
const run = promisify(execFile);

/** The CLI with no AWS settings of the machine it runs on, and none of its update notices. */
function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CDK_DISABLE_VERSION_CHECK: '1', AWS_EC2_METADATA_DISABLED: 'true' };
  for (const key of Object.keys(env)) if (key.startsWith('AWS_') && key !== 'AWS_EC2_METADATA_DISABLED') delete env[key];
  return { ...env, ...extra };
}

async function cdk(args: string[], extraEnv: Record<string, string> = {}): Promise<{ stdout: string; stderr: string; all: string }> {
  try {
    const { stdout, stderr } = await run(CDK, args, { cwd: ROOT, env: cliEnv(extraEnv), maxBuffer: 64 * 1024 * 1024 });
    // The CLI prints its messages to stderr, but to stdout when CI=true (as on the CI machine): read both.
    return { stdout, stderr, all: `${stdout}\n${stderr}` };
  } catch (e: any) {
    throw new Error(`cdk ${args.join(' ')} failed (exit ${e.code}):\n${e.stdout}\n${e.stderr}`);
  }
}

const lines = (text: string) => text.split('\n').map((l) => l.trim()).filter(Boolean);

/** A synthesized assembly per configuration: dev, prod, and prod serving the fixture. */
const CONFIGS: Record<string, string[]> = {
  dev: ['-c', 'env=dev'],
  prod: ['-c', 'env=prod'],
  'prod-serving': ['-c', 'env=prod', '-c', `serving=${FIXTURE}`],
  // The failover deployment: the same stacks in drRegion, on the replicas.
  'prod-failover': ['-c', 'env=prod', '-c', 'failover=true'],
};
const assemblies = new Map<string, Promise<string>>();
function assembly(config: string): Promise<string> {
  if (!assemblies.has(config)) {
    const given = process.env.FMFT_SYNTH_DIR && path.join(process.env.FMFT_SYNTH_DIR, config);
    assemblies.set(
      config,
      given && fs.existsSync(path.join(given, 'manifest.json'))
        ? Promise.resolve(given)
        : (async () => {
            const out = fs.mkdtempSync(path.join(os.tmpdir(), `cdk-cli-${config}-`));
            await cdk(['synth', '--quiet', ...CONFIGS[config], '-o', out]);
            return out;
          })(),
    );
  }
  return assemblies.get(config)!;
}

/** `cdk ls` of a synthesized assembly (once per configuration). */
const listings = new Map<string, Promise<string[]>>();
function listed(config: string): Promise<string[]> {
  if (!listings.has(config)) listings.set(config, assembly(config).then(async (dir) => lines((await cdk(['ls', '--app', dir])).stdout)));
  return listings.get(config)!;
}

const STACKS = ['network', 'dr', 'storage', 'security', 'training', 'pipelines', 'bedrock', 'registry', 'monitoring', 'api'];

// The CLI calls are independent: start the listings together rather than one test after another.
beforeAll(() => Promise.all(Object.keys(CONFIGS).map(listed)));

describe('cdk ls', () => {
  test('runs the real app with bundling skipped and lists the stacks by their CloudFormation names, in deployment order', async () => {
    const { stdout } = await cdk(['ls', '-c', 'env=dev']);
    expect(lines(stdout)).toEqual(STACKS.map((s) => `fmft-dev-${s}`));
  });

  test.each([
    ['dev', STACKS.map((s) => `fmft-dev-${s}`)],
    ['prod', STACKS.map((s) => `fmft-prod-${s}`)],
    ['prod-serving', [...STACKS.slice(0, -2), 'endpoints', 'monitoring', 'api'].map((s) => `fmft-prod-${s}`)],
    ['prod-failover', STACKS.map((s) => `fmft-prod-${s}`)],
  ])('lists every stack of %s', async (config, expected) => {
    expect(await listed(config)).toEqual(expected);
  });

  test('every configured environment has its assembly checked here', () => {
    expect(Object.keys(ENVIRONMENTS).every((env) => env in CONFIGS)).toBe(true);
  });

  test('stacks are top-level artifacts, so `--all` selects them all (a Stage would hide them from it)', async () => {
    for (const config of Object.keys(CONFIGS)) {
      const manifest = JSON.parse(fs.readFileSync(path.join(await assembly(config), 'manifest.json'), 'utf8'));
      const types = Object.values(manifest.artifacts).map((a: any) => a.type);
      expect(types).not.toContain('cdk:cloud-assembly');
      expect(types.filter((t) => t === 'aws:cloudformation:stack')).toHaveLength((await listed(config)).length);
    }
  });
});

describe('the CDK commands of the README and docs/', () => {
  // The README and every page of docs/: a command anywhere in the documentation is checked.
  const docs = [README, ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => path.join(ROOT, 'docs', f))];
  const commands = docs.flatMap((file) => cdkCommands(file));
  const servingFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'readme-serving-')), 'serving.json');

  beforeAll(() => {
    const text = hereDocument(README, 'serving.json');
    expect(text).toBeDefined();
    fs.writeFileSync(servingFile, text!);
  });

  /** The assembly a README command runs against. */
  function configOf(c: CdkCommand): string {
    const env = c.context.env ?? 'dev';
    // A failover keeps every stack name (test/environments/failover.cases.ts): with a serving file, the
    // serving assembly lists the same stacks.
    if (c.context.serving) return `${env}-serving`;
    return c.context.failover === 'true' ? `${env}-failover` : env;
  }

  test('are found, in code blocks and inline: every subcommand a user needs', () => {
    expect(new Set(commands.map((c) => c.subcommand))).toEqual(new Set(['bootstrap', 'synth', 'ls', 'diff', 'deploy', 'destroy']));
    expect(commands.filter((c) => c.subcommand === 'deploy').length).toBeGreaterThanOrEqual(4);
  });

  test('use known subcommands, environments and options', () => {
    const problems: string[] = [];
    for (const c of commands) {
      if (!['ls', 'list', 'synth', 'diff', 'deploy', 'destroy', 'bootstrap'].includes(c.subcommand)) problems.push(`${c.where}: subcommand '${c.subcommand}'`);
      if (c.context.env && !isPlaceholder(c.context.env) && !(c.context.env in ENVIRONMENTS)) problems.push(`${c.where}: environment '${c.context.env}'`);
      for (const key of Object.keys(c.context)) if (!['env', 'serving', 'failover'].includes(key)) problems.push(`${c.where}: context key '${key}'`);
      if (c.context.failover !== undefined && !['true', 'false'].includes(c.context.failover)) problems.push(`${c.where}: failover=${c.context.failover}`);
    }
    expect(problems).toEqual([]);
  });

  test("the README's serving.json is a valid serving file for prod", () => {
    const config = loadEnvironmentConfig('prod', servingFile);
    expect(config.serving.variants.map((v) => v.name)).toEqual(['current', 'candidate']);
  });

  test('every stack selector matches a stack the CLI lists for that environment; --all deploys them all', async () => {
    const problems: string[] = [];
    const withStacks = commands.filter((x) => ['deploy', 'diff', 'destroy', 'synth', 'ls'].includes(x.subcommand));
    for (const c of withStacks.filter((x) => !isPlaceholder(x.context.env ?? 'dev'))) {
      const stacks = await listed(configOf(c));
      if (c.subcommand === 'deploy' && c.positional.length === 0 && !c.flags.includes('--all')) {
        problems.push(`${c.where}: '${c.text}' names no stack and no --all (the CLI refuses several stacks without a selector)`);
      }
      for (const selector of c.positional) {
        if (!stacks.some((s) => selectorMatches(selector, s))) problems.push(`${c.where}: '${selector}' matches none of ${stacks.join(', ')}`);
      }
    }
    expect(problems).toEqual([]);
  });

  test.each([['fmft-dev-p*'], ['fmft-dev-network'], ['dev/*']])(
    "the selector matcher agrees with the CLI: '%s' (the CLI adds the stacks a match depends on)",
    async (selector) => {
      const dir = await assembly('dev');
      const viaCli = lines((await cdk(['ls', '--app', dir, selector])).stdout);
      const ours = (await listed('dev')).filter((s) => selectorMatches(selector, s));
      expect(viaCli.length > 0).toBe(ours.length > 0);
      expect(viaCli).toEqual(expect.arrayContaining(ours));
    },
  );
});

describe('against a local AWS emulator (moto)', () => {
  let moto: MotoServer;
  let awsEnv: Record<string, string>;
  beforeAll(async () => {
    moto = await startMoto();
    awsEnv = { AWS_ENDPOINT_URL: moto.endpoint, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: 'us-east-1' };
  });
  afterAll(() => moto?.stop());

  test("the README's bootstrap, then diff and destroy of a stack, reach AWS and succeed", async () => {
    const bootstrap = cdkCommands(README).find((c) => c.subcommand === 'bootstrap')!;
    const target = bootstrap.positional[0].replace('<account-id>', '123456789012');
    expect(target).toMatch(/^aws:\/\/\d{12}\/[a-z]{2}-[a-z]+-\d$/);
    const dir = await assembly('dev');
    const booted = await cdk(['bootstrap', '--app', dir, target], awsEnv);
    expect(booted.all).toMatch(/Environment aws:\/\/123456789012\/us-east-1 bootstrapped/);

    // Nothing is deployed yet: the diff is the whole stack, and destroying it is a no-op that succeeds.
    const diff = await cdk(['diff', '--app', dir, 'fmft-dev-network'], { ...awsEnv, CDK_DEFAULT_ACCOUNT: '123456789012' });
    expect(diff.all).toMatch(/\[\+\] AWS::EC2::VPC/);
    const destroyed = await cdk(['destroy', '--app', dir, '--force', 'fmft-dev-storage'], awsEnv);
    expect(destroyed.all).toMatch(/fmft-dev-storage: destroyed/);
  });
});

describe('the post-deploy runbook (docs/runbook.md)', () => {
  const runbook = fs.readFileSync(path.join(ROOT, 'docs', 'runbook.md'), 'utf8');

  test('every stack output it reads exists on that stack', async () => {
    const reads = [...runbook.matchAll(/\$\(out (\w+) (\w+)\)/g)].map((m) => ({ stack: m[1], key: m[2] }));
    expect(reads.length).toBeGreaterThanOrEqual(6);
    const dir = await assembly('dev');
    const missing = reads.filter(({ stack, key }) => {
      const template = JSON.parse(fs.readFileSync(path.join(dir, `fmft-dev-${stack}.template.json`), 'utf8'));
      return !(key in (template.Outputs ?? {}));
    });
    expect(missing).toEqual([]);
  });

  test("every payload it sends to the operations function is one the function accepts", () => {
    const payloads = [...runbook.matchAll(/--payload '([^']+)'/g)].map((m) => JSON.parse(m[1]));
    expect(payloads.length).toBeGreaterThanOrEqual(2);
    expect(payloads.flatMap((p) => operationEventProblems(p))).toEqual([]);
  });
});
