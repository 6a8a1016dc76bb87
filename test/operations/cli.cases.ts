import { CloudWatchClient, PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { CreateEndpointCommand, CreateEndpointConfigCommand, CreateModelCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { promisify } from 'util';
import { HelpRequested, parseCommand, runCli, UsageError } from '../../lib/operations/cli';
import { shellBlocks } from '../cli/readme-commands';
import { MotoServer, motoClientConfig, startMoto } from '../support/moto';

const ROOT = path.join(__dirname, '..', '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const run = promisify(execFile);

describe('endpoint CLI arguments (parseCommand)', () => {
  test('shift with repeated alarms', () => {
    expect(parseCommand(['shift', '--endpoint', 'fmft-prod-llm', '--from', 'current', '--to', 'candidate', '--steps', '5', '--interval', '300', '--alarm', 'a1', '--alarm', 'a2'])).toEqual({
      name: 'shift',
      endpoint: 'fmft-prod-llm',
      from: 'current',
      to: 'candidate',
      steps: 5,
      interval: 300,
      alarms: ['a1', 'a2'],
    });
  });

  test('rollback, ab with the default alpha, compare with the default folder, --name=value', () => {
    expect(parseCommand(['rollback', '--endpoint', 'e', '--variant', 'current'])).toEqual({ name: 'rollback', endpoint: 'e', variant: 'current' });
    expect(parseCommand(['ab', '--endpoint=e', '--a', 'current', '--b', 'candidate', '--minutes', '120'])).toEqual({ name: 'ab', endpoint: 'e', a: 'current', b: 'candidate', minutes: 120, alpha: 0.05 });
    expect(parseCommand(['compare', '--package', 'p1', '--package', 'p2'])).toEqual({ name: 'compare', packages: ['p1', 'p2'], outputDir: 'comparison' });
  });

  test('--help is no error', () => {
    expect(() => parseCommand(['ab', '--help'])).toThrow(HelpRequested);
  });

  test.each([
    [['deploy'], /^command: got "deploy"; allowed: status, shift, promote, rollback, ab, compare/],
    [['rollback', '--endpoint', 'e'], /^rollback: --variant is required$/],
    [['shift', '--endpoint', 'e'], /^shift: --from, --to, --steps, --interval are required$/],
    [['shift', '--endpoint', 'e', '--from', 'a', '--to', 'b', '--steps', 'ten', '--interval', '1'], /^--steps: got "ten"; allowed: a whole number from 1 to 100$/],
    [['shift', '--endpoint', 'e', '--from', 'a', '--to', 'a', '--steps', '1', '--interval', '1'], /^--to: got "a"; must differ from --from$/],
    [['promote', '--endpoint', 'e', '--winner', 'b'], /^promote: unknown option "--winner"; allowed: --endpoint, --variant, --help$/],
    [['compare', '--endpoint', 'x'], /^compare: unknown option "--endpoint"; allowed: --package, --output-dir, --help$/],
    [['ab', '--endpoint', 'e', '--a', 'x', '--b', 'y', '--minutes', '1'], /^--minutes: got "1"; allowed: a whole number of minutes from 2 to 20160$/],
    [['ab', '--endpoint', 'e', '--a', 'x', '--b', 'y', '--minutes', '5', '--alpha', '1.5'], /^--alpha: got "1.5"; allowed: a number between 0 and 1$/],
    [['status', '--endpoint'], /^status: --endpoint needs a value/],
    [['status', '--endpoint', '--from', 'x'], /^--endpoint needs a value \(got the option --from\)$/],
    [['status', '--endpoint', 'e', 'extra'], /^status: unexpected argument "extra"/],
    [['compare', '--package', 'p1'], /^compare: got 1 --package; give at least two model package versions$/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseCommand(argv)).toThrow(UsageError);
    expect(() => parseCommand(argv)).toThrow(message);
  });
});

/** `npx tsx scripts/endpoint.ts ...` as a subprocess (tsx from node_modules, as npx resolves it). */
async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(base)) if (key.startsWith('AWS_')) delete base[key];
  try {
    const { stdout, stderr } = await run(TSX, [path.join('scripts', 'endpoint.ts'), ...args], { cwd: ROOT, env: { ...base, ...env } });
    return { code: 0, stdout, stderr };
  } catch (e: any) {
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** The same CLI in this process (runCli, as scripts/endpoint.ts runs it), for argument checks that need no AWS. */
async function inProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) }, () => {
    throw new Error('argument checks must not create AWS clients');
  });
  return { code, stdout, stderr };
}

const COMMAND_OPTIONS: Record<string, string[]> = {
  status: ['--endpoint <name>'],
  shift: ['--endpoint <name>', '--from <variant>', '--to <variant>', '--steps <n>', '--interval <seconds>', '--alarm <name>'],
  promote: ['--endpoint <name>', '--variant <winner>'],
  rollback: ['--endpoint <name>', '--variant <previous>'],
  ab: ['--endpoint <name>', '--a <variant>', '--b <variant>', '--minutes <n>', '--alpha <p>'],
  compare: ['--package <arn>', '--output-dir <dir>'],
};

describe('scripts/endpoint.ts through the real CLI', () => {
  test('--help lists every command and exits 0', async () => {
    const { code, stdout, stderr } = await cli(['--help']);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    for (const name of Object.keys(COMMAND_OPTIONS)) expect(stdout).toMatch(new RegExp(`^  ${name} \\[options\\] `, 'm'));
    expect(stdout).toMatch(/Exit status: 0 done, 1 the operation failed, 2 bad arguments/);
  });

  // The argument checks below run in-process through runCli, what scripts/endpoint.ts calls: the tests
  // above and the ones against moto prove the script's wiring and exit codes through a real subprocess.
  test.each(Object.keys(COMMAND_OPTIONS))('%s --help lists its options and exits 0', async (name) => {
    const { code, stdout, stderr } = await inProcess([name, '--help']);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(new RegExp(`^Usage: npx tsx scripts/endpoint.ts ${name} \\[options\\]`));
    for (const flags of COMMAND_OPTIONS[name]) expect(stdout).toContain(`  ${flags}`);
  });

  test('an unknown option names only itself and the options of its command, exit 2', async () => {
    const { code, stdout, stderr } = await inProcess(['compare', '--endpoint', 'x', '--package', 'a', '--package', 'b']);
    expect({ code, stdout, stderr }).toEqual({ code: 2, stdout: '', stderr: 'compare: unknown option "--endpoint"; allowed: --package, --output-dir, --help\n' });
  });

  test('a bad value names the option as typed, exit 2', async () => {
    const { code, stderr } = await inProcess(['shift', '--endpoint', 'e', '--from', 'a', '--to', 'b', '--steps', '0', '--interval', '60']);
    expect({ code, stderr }).toEqual({ code: 2, stderr: '--steps: got "0"; allowed: a whole number from 1 to 100\n' });
  });

  test('missing options are named, all of them, exit 2', async () => {
    const { code, stderr } = await inProcess(['ab', '--endpoint', 'e', '--b', 'candidate']);
    expect({ code, stderr }).toEqual({ code: 2, stderr: 'ab: --a, --minutes are required\n' });
  });

  test('an unknown command lists the commands, exit 2', async () => {
    const { code, stderr } = await cli(['deploy']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^command: got "deploy"; allowed: status, shift, promote, rollback, ab, compare/);
  });

  describe('against an endpoint (moto on loopback)', () => {
    let moto: MotoServer;
    let env: Record<string, string>;
    const endpointName = 'fmft-test-llm';
    const quietAlarm = `${endpointName}-quiet`;
    const firingAlarm = `${endpointName}-firing`;

    beforeAll(async () => {
      moto = await startMoto();
      env = {
        AWS_ENDPOINT_URL: moto.endpoint,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'testing',
        AWS_SECRET_ACCESS_KEY: 'testing',
        AWS_MAX_ATTEMPTS: '1',
        // The SDK's notice that its 2027 releases need Node 22 would precede every message on stderr.
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      };
      const sm = new SageMakerClient(motoClientConfig(moto.endpoint));
      const cw = new CloudWatchClient(motoClientConfig(moto.endpoint));
      const role = 'arn:aws:iam::123456789012:role/endpoint';
      for (const variant of ['current', 'candidate']) {
        await sm.send(new CreateModelCommand({ ModelName: `${endpointName}-${variant}`, ExecutionRoleArn: role, PrimaryContainer: { Image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/lmi:1' } }));
      }
      await sm.send(
        new CreateEndpointConfigCommand({
          EndpointConfigName: `${endpointName}-config`,
          ProductionVariants: ['current', 'candidate'].map((v, i) => ({ VariantName: v, ModelName: `${endpointName}-${v}`, InstanceType: 'ml.g4dn.xlarge', InitialInstanceCount: 1, InitialVariantWeight: i === 0 ? 90 : 10 })),
        }),
      );
      await sm.send(new CreateEndpointCommand({ EndpointName: endpointName, EndpointConfigName: `${endpointName}-config` }));
      for (const [name, state] of [[quietAlarm, 'OK'], [firingAlarm, 'ALARM']] as const) {
        await cw.send(
          new PutMetricAlarmCommand({ AlarmName: name, Namespace: 'AWS/SageMaker', MetricName: 'Invocation5XXErrors', Statistic: 'Sum', Period: 60, EvaluationPeriods: 1, Threshold: 1, ComparisonOperator: 'GreaterThanThreshold' }),
        );
        await cw.send(new SetAlarmStateCommand({ AlarmName: name, StateValue: state, StateReason: 'test' }));
      }
      sm.destroy();
      cw.destroy();
    }, 60_000);

    afterAll(() => moto?.stop());

    test('status prints the variants, exit 0', async () => {
      const { code, stdout } = await cli(['status', '--endpoint', endpointName], env);
      expect(code).toBe(0);
      expect(JSON.parse(stdout).map((v: { name: string }) => v.name)).toEqual(['current', 'candidate']);
    });

    test('a variant the endpoint does not have names the option as typed, exit 2', async () => {
      const { code, stdout, stderr } = await cli(['promote', '--endpoint', endpointName, '--variant', 'nosuch'], env);
      expect({ code, stdout, stderr }).toEqual({ code: 2, stdout: '', stderr: `--variant: got "nosuch"; allowed: a variant of endpoint ${endpointName}: current, candidate\n` });
    });

    test('a failing operation is an error, exit 1', async () => {
      const { code, stderr } = await cli(['status', '--endpoint', 'no-such-endpoint'], env);
      expect(code).toBe(1);
      expect(stderr).toMatch(/^error: /);
    });

    test('a shift stopped by an alarm restores the weights, exit 3', async () => {
      const { code, stdout } = await cli(['shift', '--endpoint', endpointName, '--from', 'current', '--to', 'candidate', '--steps', '1', '--interval', '0', '--alarm', firingAlarm], env);
      expect(code).toBe(3);
      expect(JSON.parse(stdout)).toEqual(expect.objectContaining({ outcome: 'reverted', firing: [firingAlarm] }));
    });

    test('rollback and a quiet shift change the weights, exit 0', async () => {
      const { code, stdout } = await cli(['rollback', '--endpoint', endpointName, '--variant', 'current'], env);
      expect(code).toBe(0);
      expect(JSON.parse(stdout)).toEqual({ weights: { current: 1, candidate: 0 } });
      const quiet = await cli(['shift', '--endpoint', endpointName, '--from', 'current', '--to', 'candidate', '--steps', '1', '--interval', '0', '--alarm', quietAlarm], env);
      expect(quiet.code).toBe(0);
      expect(JSON.parse(quiet.stdout).outcome).toBe('completed');
    });
  });
});

describe("the README's scripts/endpoint.ts commands", () => {
  const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
  const commands = shellBlocks(readme)
    .flatMap((b) => b.lines.join('\n').replace(/\\\n\s*/g, ' ').split('\n'))
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line.startsWith('npx tsx scripts/endpoint.ts '))
    .map((line) => line.split(/\s+/).slice(3));

  test('are found: every command of the CLI', () => {
    expect(new Set(commands.map((c) => c[0]))).toEqual(new Set(Object.keys(COMMAND_OPTIONS)));
  });

  test.each(commands.map((c) => [c.join(' ')]))('%s parses', (line) => {
    // <version-3-arn> and the like are the reader's to fill in: any text parses as a value.
    expect(() => parseCommand(line.split(' '))).not.toThrow();
  });
});
