import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { Command as CommanderCommand, CommanderError, Option } from 'commander';
import * as fs from 'fs';
import { CliIo, HelpRequested, UsageError } from './cli';
import { InstancePrices, parsePrices, pipelineHistory, PRICES_ALLOWED, tuningResults } from './pipeline-history';

/**
 * The pipeline CLI (`scripts/pipeline.ts`): recent executions of a pipeline with their steps, jobs, metrics and
 * estimated costs, and a tuning job's training jobs ranked by the objective. Parsing works as in the
 * endpoint CLI (`cli.ts`): every command answers `--help`; an unknown option names itself and the options of
 * its command; a bad value names the option as typed; missing options are named all at once.
 *
 * Exit status: 0 done, 1 the operation failed (an AWS call failed; the message names it), 2 bad arguments.
 */

export type PipelineCommand =
  | { readonly name: 'history'; readonly pipeline: string; readonly limit: number; readonly prices?: InstancePrices }
  | { readonly name: 'tuning'; readonly job: string; readonly limit: number };

const SCRIPT = 'npx tsx scripts/pipeline.ts';

interface OptionSpec {
  readonly flags: string;
  readonly description: string;
  readonly required?: boolean;
  /** Turns the text into the value, or returns the "allowed: ..." part of the message (or throws a UsageError). */
  readonly parse?: (text: string) => { value: unknown } | { allowed: string };
  readonly defaultValue?: unknown;
}

const wholeNumber = (min: number, max: number, allowed: string) => (text: string) => {
  const n = Number(text);
  return /^\d+$/.test(text.trim()) && Number.isInteger(n) && n >= min && n <= max ? { value: n } : { allowed };
};

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

interface CommandSpec {
  readonly summary: string;
  readonly options: readonly OptionSpec[];
  readonly example: string;
  readonly build: (o: Record<string, any>) => PipelineCommand;
}

const COMMANDS: Record<PipelineCommand['name'], CommandSpec> = {
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

/** commander's Command with our messages (as in cli.ts; test/operations/pipeline-history.cases.ts runs the cases). */
class StrictCommand extends CommanderCommand {
  override createCommand(name?: string): StrictCommand {
    return new StrictCommand(name);
  }

  private prefix(): string {
    return this.parent ? `${this.name()}: ` : '';
  }

  allowedFlags(): string[] {
    return [...this.options.map((o) => o.long ?? o.flags), '--help'];
  }

  unknownOption(flag: string): never {
    const hint = this.parent ? '' : " (a command's options follow its name: history --pipeline <name>)";
    throw new UsageError(`${this.prefix()}unknown option ${JSON.stringify(flag)}; allowed: ${this.allowedFlags().join(', ')}${hint}`);
  }

  unknownCommand(): never {
    throw new UsageError(`command: got ${JSON.stringify(this.args[0])}; allowed: ${Object.keys(COMMANDS).join(', ')} (--help for usage)`);
  }

  optionMissingArgument(option: Option): never {
    throw new UsageError(`${this.prefix()}${option.long} needs a value (${option.flags})`);
  }

  _excessArguments(received: string[]): never {
    throw new UsageError(
      `${this.prefix()}unexpected argument ${JSON.stringify(received[0])}; every value follows its option (allowed: ${this.allowedFlags().join(', ')})`,
    );
  }
}

function checked(spec: OptionSpec, flag: string, text: string): unknown {
  if (/^--?[a-zA-Z]/.test(text)) throw new UsageError(`${flag} needs a value (got the option ${text})`);
  if (!spec.parse) return text;
  const result = spec.parse(text);
  if ('allowed' in result) throw new UsageError(`${flag}: got ${JSON.stringify(text)}; allowed: ${result.allowed}`);
  return result.value;
}

function buildProgram(onParsed: (cmd: PipelineCommand) => void, output: { out: string; err: string }): StrictCommand {
  const program = new StrictCommand(SCRIPT);
  program
    .description("A pipeline's recent executions (steps, jobs, estimated cost, metrics) and a tuning job's ranked training jobs.")
    .exitOverride()
    .configureOutput({ writeOut: (s) => (output.out += s), writeErr: (s) => (output.err += s), outputError: () => undefined })
    .showSuggestionAfterError(false)
    .allowExcessArguments(false)
    .helpOption('-h, --help', 'show this help')
    .addHelpText('after', `\nRun "${SCRIPT} <command> --help" for a command's options.${EXIT_STATUS_HELP}`);
  for (const [name, spec] of Object.entries(COMMANDS) as Array<[PipelineCommand['name'], CommandSpec]>) {
    const sub = program.command(name).description(spec.summary).helpOption('-h, --help', 'show this help').allowExcessArguments(false);
    for (const o of spec.options) {
      const option = new Option(o.flags, `${o.description}${o.required ? ' (required)' : ''}`);
      const flag = option.long ?? o.flags;
      option.argParser((text: string) => checked(o, flag, text));
      if (o.defaultValue !== undefined) option.default(o.defaultValue);
      sub.addOption(option);
    }
    sub.addHelpText('after', `\nExample:\n  ${SCRIPT} ${spec.example}\n${EXIT_STATUS_HELP}`);
    sub.action((values: Record<string, unknown>) => {
      const missing = spec.options.filter((o) => o.required && values[new Option(o.flags).attributeName()] === undefined);
      if (missing.length) {
        const flags = missing.map((o) => new Option(o.flags).long);
        throw new UsageError(`${name}: ${flags.join(', ')} ${flags.length === 1 ? 'is' : 'are'} required`);
      }
      onParsed(spec.build(values));
    });
  }
  return program;
}

/** The command in `argv` (without node and script); throws `UsageError` for bad arguments, `HelpRequested` for --help. */
export function parsePipelineCommand(argv: readonly string[]): PipelineCommand {
  const output = { out: '', err: '' };
  let parsed: PipelineCommand | undefined;
  const program = buildProgram((cmd) => (parsed = cmd), output);
  try {
    program.parse([...argv], { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    if (e.code === 'commander.helpDisplayed' || (e.code === 'commander.help' && e.exitCode === 0)) throw new HelpRequested(output.out);
    if (e.code === 'commander.help') throw new UsageError(`command: missing; allowed: ${Object.keys(COMMANDS).join(', ')}\n\n${output.err || output.out}`);
    throw new UsageError(e.message.replace(/^error: /, ''));
  }
  if (!parsed) throw new UsageError(`command: missing; allowed: ${Object.keys(COMMANDS).join(', ')}`);
  return parsed;
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
 * only once the arguments are valid, so `--help` and usage errors need no AWS settings.
 */
export async function runCli(argv: readonly string[], io: CliIo, clients: () => { sm: SageMakerClient } = () => ({ sm: new SageMakerClient({}) })): Promise<number> {
  let cmd: PipelineCommand;
  try {
    cmd = parsePipelineCommand(argv);
  } catch (e) {
    if (e instanceof HelpRequested) {
      io.stdout(e.text);
      return 0;
    }
    if (e instanceof UsageError) {
      io.stderr(`${e.message}\n`);
      return e.exitCode;
    }
    throw e;
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
