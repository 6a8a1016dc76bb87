import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { S3Client } from '@aws-sdk/client-s3';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { CliIo, CommandSpec, helpText, numberIn, OptionSpec, parseArguments, ProgramSpec, reportUsage, UsageError, wholeNumber } from './cli-kit';
import { downloadEvaluationReports, VersionReport } from './compare-versions';
import { abResult, describeVariants, promote, rollback, shiftTraffic } from './endpoint-operations';

/**
 * The operations CLI (`scripts/endpoint.ts`, and `fmft endpoint`: fmft-cli.ts): arguments parsed by commander,
 * then the same library the Lambda handlers use. Every command answers `--help`; an unknown option names itself
 * and the options of its command; a bad value names the option as typed; missing options are named all at once.
 *
 * Exit status: 0 done, 1 the operation failed (AWS error, no data), 2 bad arguments (also a variant the
 * endpoint does not have), 3 a shift was reverted because an alarm fired.
 */

export type Command =
  | { readonly name: 'status'; readonly endpoint: string }
  | { readonly name: 'shift'; readonly endpoint: string; readonly from: string; readonly to: string; readonly steps: number; readonly interval: number; readonly alarms: string[] }
  | { readonly name: 'promote' | 'rollback'; readonly endpoint: string; readonly variant: string }
  | { readonly name: 'ab'; readonly endpoint: string; readonly a: string; readonly b: string; readonly minutes: number; readonly alpha: number }
  | { readonly name: 'compare'; readonly packages: string[]; readonly outputDir: string };

export type { CliIo } from './cli-kit';
export { HelpRequested, UsageError } from './cli-kit';

const ENDPOINT: OptionSpec = { flags: '--endpoint <name>', description: 'the endpoint, e.g. fmft-prod-llm', required: true };

const COMMANDS: Record<Command['name'], CommandSpec<Command>> = {
  status: {
    summary: 'variants, weights and instance counts of an endpoint',
    options: [ENDPOINT],
    example: 'status --endpoint fmft-prod-llm',
    build: (o) => ({ name: 'status', endpoint: o.endpoint }),
  },
  shift: {
    summary: 'move traffic from one variant to another step by step; an alarm in ALARM restores the old weights (exit status 3)',
    options: [
      ENDPOINT,
      { flags: '--from <variant>', description: 'the variant that gives up its traffic', required: true },
      { flags: '--to <variant>', description: 'the variant that receives it', required: true },
      { flags: '--steps <n>', description: 'equal steps, 1 to 100 (1 moves everything at once)', required: true, parse: wholeNumber(1, 100, 'a whole number from 1 to 100') },
      { flags: '--interval <seconds>', description: 'seconds to watch the alarms after each step, 0 to 3600', required: true, parse: numberIn((n) => n >= 0 && n <= 3600, 'seconds from 0 to 3600') },
      { flags: '--alarm <name>', description: 'an alarm that stops the shift; repeat for more', repeatable: true },
    ],
    example: 'shift --endpoint fmft-prod-llm --from current --to candidate --steps 5 --interval 600 --alarm fmft-prod-llm-candidate-error-rate',
    build: (o) => {
      if (o.from === o.to) throw new UsageError(`--to: got ${JSON.stringify(o.to)}; must differ from --from`);
      return { name: 'shift', endpoint: o.endpoint, from: o.from, to: o.to, steps: o.steps, interval: o.interval, alarms: o.alarm ?? [] };
    },
  },
  promote: {
    summary: 'all traffic to the winner of an A/B test, in one call',
    options: [ENDPOINT, { flags: '--variant <winner>', description: 'the variant that gets all traffic', required: true }],
    example: 'promote --endpoint fmft-prod-llm --variant candidate',
    build: (o) => ({ name: 'promote', endpoint: o.endpoint, variant: o.variant }),
  },
  rollback: {
    summary: 'all traffic back to a variant, in one call',
    options: [ENDPOINT, { flags: '--variant <previous>', description: 'the variant that gets all traffic back', required: true }],
    example: 'rollback --endpoint fmft-prod-llm --variant current',
    build: (o) => ({ name: 'rollback', endpoint: o.endpoint, variant: o.variant }),
  },
  ab: {
    summary: "A/B result of two variants: error rate (two-proportion z-test) and latency (Welch's t-test)",
    options: [
      ENDPOINT,
      { flags: '--a <variant>', description: 'the first variant', required: true },
      { flags: '--b <variant>', description: 'the second variant', required: true },
      { flags: '--minutes <n>', description: 'the window up to now, 2 to 20160 minutes', required: true, parse: wholeNumber(2, 60 * 24 * 14, 'a whole number of minutes from 2 to 20160') },
      { flags: '--alpha <p>', description: 'significance level, between 0 and 1', parse: numberIn((n) => n > 0 && n < 1, 'a number between 0 and 1'), defaultValue: 0.05 },
    ],
    example: 'ab --endpoint fmft-prod-llm --a current --b candidate --minutes 1440',
    build: (o) => {
      if (o.a === o.b) throw new UsageError(`--b: got ${JSON.stringify(o.b)}; must differ from --a`);
      return { name: 'ab', endpoint: o.endpoint, a: o.a, b: o.b, minutes: o.minutes, alpha: o.alpha };
    },
  },
  compare: {
    summary: "the versions' evaluation reports side by side, deltas against the first (python -m training.evaluate compare)",
    options: [
      { flags: '--package <arn>', description: 'a model package version; give two or more', required: true, repeatable: true },
      { flags: '--output-dir <dir>', description: 'where the reports and the comparison go', defaultValue: 'comparison' },
    ],
    example: 'compare --package <version-3-arn> --package <version-4-arn> --output-dir comparison',
    build: (o) => {
      const packages: string[] = o.package ?? [];
      if (packages.length < 2) throw new UsageError(`compare: got ${packages.length} --package; give at least two model package versions`);
      return { name: 'compare', packages, outputDir: o.outputDir };
    },
  },
};

const EXIT_STATUS_HELP = `
Exit status: 0 done, 1 the operation failed, 2 bad arguments (or a variant the endpoint does not have),
3 a shift was reverted because an alarm fired.
Uses the AWS credentials and region of the environment (AWS_PROFILE, AWS_REGION).`;

/** The program: its commands, also mounted as `fmft endpoint` (fmft-cli.ts). */
export const PROGRAM: ProgramSpec<Command> = {
  script: 'npx tsx scripts/endpoint.ts',
  description: "Operate a live endpoint's production variants: status, gradual shift, promote, rollback, A/B result, and compare registered versions.",
  commands: COMMANDS,
  exitStatusHelp: EXIT_STATUS_HELP,
  optionHint: 'status --endpoint <name>',
};

/**
 * The command in `argv` (without node and script); throws `UsageError` for bad arguments, `HelpRequested` for --help.
 * `script` is how the CLI was run, for its help: `npx tsx scripts/fmft.ts endpoint` when mounted in fmft.
 */
export function parseCommand(argv: readonly string[], script = PROGRAM.script): Command {
  return parseArguments({ ...PROGRAM, script }, argv);
}

/** The program's help text (what `--help` prints). */
export function usage(): string {
  return helpText(PROGRAM);
}

/**
 * The endpoint's variants must include `names` (option -> variant as typed), so a bad value names the
 * option the user typed rather than a field of the library.
 */
async function requireVariants(sm: SageMakerClient, endpoint: string, names: Record<string, string>): Promise<void> {
  const known = (await describeVariants(sm, endpoint)).map((v) => v.name);
  const problems = Object.entries(names)
    .filter(([, name]) => !known.includes(name))
    .map(([flag, name]) => `${flag}: got ${JSON.stringify(name)}; allowed: a variant of endpoint ${endpoint}: ${known.join(', ')}`);
  if (problems.length) throw new UsageError(problems.join('\n'));
}

/** Runs a parsed command with the given clients; returns what to print (JSON). */
export async function runCommand(cmd: Command, sm: SageMakerClient, cw: CloudWatchClient, s3: S3Client, now = new Date()): Promise<unknown> {
  switch (cmd.name) {
    case 'compare': {
      const reports = await downloadEvaluationReports(sm, s3, cmd.packages, path.join(cmd.outputDir, 'reports'));
      return { reports, comparison: compareReports(reports, cmd.outputDir) };
    }
    case 'status':
      return describeVariants(sm, cmd.endpoint);
    case 'shift':
      await requireVariants(sm, cmd.endpoint, { '--from': cmd.from, '--to': cmd.to });
      return shiftTraffic(sm, cw, { endpointName: cmd.endpoint, from: cmd.from, to: cmd.to, steps: cmd.steps, intervalSeconds: cmd.interval, alarmNames: cmd.alarms });
    case 'promote':
      await requireVariants(sm, cmd.endpoint, { '--variant': cmd.variant });
      return { weights: await promote(sm, cmd.endpoint, cmd.variant) };
    case 'rollback':
      await requireVariants(sm, cmd.endpoint, { '--variant': cmd.variant });
      return { weights: await rollback(sm, cmd.endpoint, cmd.variant) };
    case 'ab':
      await requireVariants(sm, cmd.endpoint, { '--a': cmd.a, '--b': cmd.b });
      return abResult(cw, { endpointName: cmd.endpoint, variantA: cmd.a, variantB: cmd.b, start: new Date(now.getTime() - cmd.minutes * 60_000), end: now, alpha: cmd.alpha });
  }
}

/** The evaluation toolkit's comparison (deltas against the first version), run with the project's .venv. */
export function compareReports(reports: readonly VersionReport[], outputDir: string, python = path.join(__dirname, '..', '..', '.venv', 'bin', 'python')): unknown {
  if (!fs.existsSync(python)) throw new Error(`${python} not found: run scripts/bootstrap.sh first`);
  execFileSync(
    python,
    ['-m', 'training.evaluate', 'compare', '--reports', ...reports.map((r) => r.file), '--names', ...reports.map((r) => r.label), '--output-dir', outputDir],
    { cwd: path.join(__dirname, '..', '..'), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return JSON.parse(fs.readFileSync(path.join(outputDir, 'comparison.json'), 'utf8'));
}

/**
 * The whole CLI: parse, run, print; returns the exit status (see the top of this file). `clients` is called
 * only once the arguments are valid, so `--help` and usage errors need no AWS settings. `script`: as for
 * `parseCommand`.
 */
export async function runCli(
  argv: readonly string[],
  io: CliIo,
  clients: () => { sm: SageMakerClient; cw: CloudWatchClient; s3: S3Client } = () => ({ sm: new SageMakerClient({}), cw: new CloudWatchClient({}), s3: new S3Client({}) }),
  script = PROGRAM.script,
): Promise<number> {
  let cmd: Command;
  try {
    cmd = parseCommand(argv, script);
  } catch (e) {
    const status = reportUsage(e, io);
    if (status === undefined) throw e;
    return status;
  }
  const { sm, cw, s3 } = clients();
  try {
    const result = await runCommand(cmd, sm, cw, s3);
    io.stdout(`${JSON.stringify(result, null, 2)}\n`);
    return (result as { outcome?: string }).outcome === 'reverted' ? 3 : 0;
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`${e.message}\n`);
      return e.exitCode;
    }
    io.stderr(`error: ${(e as Error).message}\n`);
    return 1;
  } finally {
    sm.destroy();
    cw.destroy();
    s3.destroy();
  }
}
