import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { S3Client } from '@aws-sdk/client-s3';
import { downloadEvaluationReports, VersionReport } from './compare-versions';
import { abResult, describeVariants, promote, rollback, shiftTraffic } from './endpoint-operations';

export const USAGE = `usage: npx tsx scripts/endpoint.ts <command> --endpoint <name> [options]
  status                                           variants, weights, instance counts
  shift    --from <variant> --to <variant> --steps <n> --interval <seconds> [--alarm <name>]...
                                                   move traffic step by step; an alarm in ALARM restores the old weights
  promote  --variant <winner>                      all traffic to the winner, one call
  rollback --variant <previous>                    all traffic back to a variant, one call
  ab       --a <variant> --b <variant> --minutes <n> [--alpha 0.05]
                                                   error rate (two-proportion z-test) and latency (Welch's t-test)
  compare  --package <arn> --package <arn> [--output-dir <dir>]   (no --endpoint)
                                                   the versions' evaluation reports side by side (training.evaluate compare)`;

export type Command =
  | { readonly name: 'status'; readonly endpoint: string }
  | { readonly name: 'shift'; readonly endpoint: string; readonly from: string; readonly to: string; readonly steps: number; readonly interval: number; readonly alarms: string[] }
  | { readonly name: 'promote' | 'rollback'; readonly endpoint: string; readonly variant: string }
  | { readonly name: 'ab'; readonly endpoint: string; readonly a: string; readonly b: string; readonly minutes: number; readonly alpha: number }
  | { readonly name: 'compare'; readonly packages: string[]; readonly outputDir: string };

const OPTIONS: Record<Command['name'], readonly string[]> = {
  status: [],
  shift: ['from', 'to', 'steps', 'interval', 'alarm'],
  promote: ['variant'],
  rollback: ['variant'],
  ab: ['a', 'b', 'minutes', 'alpha'],
  compare: ['package', 'output-dir'],
};

/** The command in `argv` (without node and script), or an error naming the bad argument and what is allowed. */
export function parseCommand(argv: readonly string[]): Command {
  const [name, ...rest] = argv;
  if (!name || !(name in OPTIONS)) throw new Error(`command: got ${JSON.stringify(name ?? '')}; allowed: ${Object.keys(OPTIONS).join(', ')}\n${USAGE}`);
  const cmd = name as Command['name'];
  const values: Record<string, string[]> = {};
  for (let i = 0; i < rest.length; i += 2) {
    const flag = rest[i];
    const key = flag.replace(/^--/, '');
    if (!flag.startsWith('--') || !((key === 'endpoint' && cmd !== 'compare') || OPTIONS[cmd].includes(key))) {
      throw new Error(`${cmd}: unknown option ${JSON.stringify(flag)}; allowed: --endpoint${OPTIONS[cmd].map((o) => `, --${o}`).join('')}`);
    }
    if (rest[i + 1] === undefined || rest[i + 1].startsWith('--')) throw new Error(`${flag}: missing value`);
    (values[key] ??= []).push(rest[i + 1]);
  }
  const one = (key: string): string => {
    const v = values[key];
    if (!v) throw new Error(`${cmd}: --${key} is required`);
    return v[v.length - 1];
  };
  const num = (key: string, ok: (n: number) => boolean, allowed: string, fallback?: number): number => {
    if (!values[key] && fallback !== undefined) return fallback;
    const n = Number(one(key));
    if (!ok(n)) throw new Error(`--${key}: got ${JSON.stringify(one(key))}; allowed: ${allowed}`);
    return n;
  };
  if (cmd === 'compare') {
    const packages = values.package ?? [];
    if (packages.length < 2) throw new Error(`compare: got ${packages.length} --package; give at least two model package versions`);
    return { name: cmd, packages, outputDir: values['output-dir']?.[0] ?? 'comparison' };
  }
  const endpoint = one('endpoint');
  switch (cmd) {
    case 'status':
      return { name: cmd, endpoint };
    case 'shift':
      return {
        name: cmd,
        endpoint,
        from: one('from'),
        to: one('to'),
        steps: num('steps', (n) => Number.isInteger(n) && n >= 1 && n <= 100, 'a whole number from 1 to 100'),
        interval: num('interval', (n) => Number.isFinite(n) && n >= 0 && n <= 3600, 'seconds from 0 to 3600'),
        alarms: values.alarm ?? [],
      };
    case 'promote':
    case 'rollback':
      return { name: cmd, endpoint, variant: one('variant') };
    case 'ab':
      return {
        name: cmd,
        endpoint,
        a: one('a'),
        b: one('b'),
        minutes: num('minutes', (n) => Number.isInteger(n) && n >= 2 && n <= 60 * 24 * 14, 'a whole number of minutes from 2 to 20160'),
        alpha: num('alpha', (n) => n > 0 && n < 1, 'a number between 0 and 1', 0.05),
      };
  }
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
      return shiftTraffic(sm, cw, { endpointName: cmd.endpoint, from: cmd.from, to: cmd.to, steps: cmd.steps, intervalSeconds: cmd.interval, alarmNames: cmd.alarms });
    case 'promote':
      return { weights: await promote(sm, cmd.endpoint, cmd.variant) };
    case 'rollback':
      return { weights: await rollback(sm, cmd.endpoint, cmd.variant) };
    case 'ab':
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
