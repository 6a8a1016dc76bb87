import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import * as fs from 'fs';
import { CliIo, CommandSpec, OptionSpec, parseArguments, ProgramSpec, reportUsage, UsageError, wholeNumber } from './cli-kit';
import { InstancePrices, parsePrices, pipelineHistory, PRICES_ALLOWED, tuningResults } from './pipeline-history';

/**
 * The pipeline CLI (`scripts/pipeline.ts`, and `fmft pipeline`: fmft-cli.ts): recent executions of a pipeline
 * with their steps, jobs, metrics and estimated costs, and a tuning job's training jobs ranked by the objective.
 * Parsing is the endpoint CLI's (both use `cli-kit.ts`): every command answers `--help`; an unknown option names
 * itself and the options of its command; a bad value names the option as typed; missing options are named all
 * at once.
 *
 * Exit status: 0 done, 1 the operation failed (an AWS call failed; the message names it), 2 bad arguments.
 */

export type PipelineCommand =
  | { readonly name: 'history'; readonly pipeline: string; readonly limit: number; readonly prices?: InstancePrices }
  | { readonly name: 'tuning'; readonly job: string; readonly limit: number };

const LIMIT = (what: string): OptionSpec => ({ flags: '--limit <n>', description: `${what}, 1 to 100`, parse: wholeNumber(1, 100, 'a whole number from 1 to 100'), defaultValue: 10 });

/** Reads and checks the prices file while parsing, so a bad file is a usage error before any AWS call. */
function readPrices(file: string): { value: InstancePrices } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`--prices: cannot read ${JSON.stringify(file)} (${code === 'ENOENT' ? 'no such file' : (code ?? (e as Error).message)}); allowed: a file holding ${PRICES_ALLOWED}`);
  }
  try {
    return { value: parsePrices(text, JSON.stringify(file)) };
  } catch (e) {
    throw new UsageError(`--prices: ${(e as Error).message}`);
  }
}

const COMMANDS: Record<PipelineCommand['name'], CommandSpec<PipelineCommand>> = {
  history: {
    summary: 'recent executions, newest first: parameters, steps with status, duration, job, instances, billable time, estimated cost and metrics',
    options: [
      { flags: '--pipeline <name>', description: 'the pipeline, e.g. fmft-dev-fine-tuning', required: true },
      LIMIT('executions to show, newest first'),
      {
        flags: '--prices <file>',
        description: 'JSON file of USD per instance-hour by instance type, e.g. {"ml.g5.2xlarge": 1.515}; a job without a price has no cost, and a note names its type',
        parse: readPrices,
      },
    ],
    example: 'history --pipeline fmft-dev-fine-tuning --limit 5 --prices prices.json',
    build: (o) => ({ name: 'history', pipeline: o.pipeline, limit: o.limit, ...(o.prices ? { prices: o.prices } : {}) }),
  },
  tuning: {
    summary: "a hyperparameter tuning job's training jobs ranked by the objective metric, with their tuned hyperparameters; jobs without an objective value last",
    options: [
      { flags: '--job <name>', description: 'the hyperparameter tuning job', required: true },
      LIMIT('training jobs to show, best first'),
    ],
    example: 'tuning --job fmft-dev-tune-20261128 --limit 20',
    build: (o) => ({ name: 'tuning', job: o.job, limit: o.limit }),
  },
};

const EXIT_STATUS_HELP = `
Exit status: 0 done, 1 the operation failed (the message names the AWS call), 2 bad arguments.
Uses the AWS credentials and region of the environment (AWS_PROFILE, AWS_REGION).`;

/** The program: its commands, also mounted as `fmft pipeline` (fmft-cli.ts). */
export const PROGRAM: ProgramSpec<PipelineCommand> = {
  script: 'npx tsx scripts/pipeline.ts',
  description: "A pipeline's recent executions (steps, jobs, estimated cost, metrics) and a tuning job's ranked training jobs.",
  commands: COMMANDS,
  exitStatusHelp: EXIT_STATUS_HELP,
  optionHint: 'history --pipeline <name>',
};

/**
 * The command in `argv` (without node and script); throws `UsageError` for bad arguments, `HelpRequested` for --help.
 * `script` is how the CLI was run, for its help: `npx tsx scripts/fmft.ts pipeline` when mounted in fmft.
 */
export function parsePipelineCommand(argv: readonly string[], script = PROGRAM.script): PipelineCommand {
  return parseArguments({ ...PROGRAM, script }, argv);
}

/** Runs a parsed command; returns what to print (JSON). */
export async function runPipelineCommand(cmd: PipelineCommand, sm: SageMakerClient): Promise<unknown> {
  switch (cmd.name) {
    case 'history':
      return pipelineHistory(sm, { pipelineName: cmd.pipeline, limit: cmd.limit, prices: cmd.prices });
    case 'tuning':
      return tuningResults(sm, { jobName: cmd.job, limit: cmd.limit });
  }
}

/**
 * The whole CLI: parse, run, print; returns the exit status (see the top of this file). `clients` is called
 * only once the arguments are valid, so `--help` and usage errors need no AWS settings. `script`: as for
 * `parsePipelineCommand`.
 */
export async function runCli(
  argv: readonly string[],
  io: CliIo,
  clients: () => { sm: SageMakerClient } = () => ({ sm: new SageMakerClient({}) }),
  script = PROGRAM.script,
): Promise<number> {
  let cmd: PipelineCommand;
  try {
    cmd = parsePipelineCommand(argv, script);
  } catch (e) {
    const status = reportUsage(e, io);
    if (status === undefined) throw e;
    return status;
  }
  const { sm } = clients();
  try {
    io.stdout(`${JSON.stringify(await runPipelineCommand(cmd, sm), null, 2)}\n`);
    return 0;
  } catch (e) {
    io.stderr(`error: ${(e as Error).message}\n`);
    return 1;
  } finally {
    sm.destroy();
  }
}
