import { Command as CommanderCommand, CommanderError, Option } from 'commander';

/**
 * The commander plumbing shared by the operations CLIs (`cli.ts` for `scripts/endpoint.ts`, `pipeline-cli.ts`
 * for `scripts/pipeline.ts`): a program is a table of commands, each a list of options and a `build` that
 * turns the option values into the command. Every command answers `--help`; an unknown option names itself
 * and the options of its command; a bad value names the option as typed; missing options are named all at once.
 */

/** Bad arguments: the message names the option and what is allowed; exit status 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** `--help` was asked for: `text` goes to stdout, exit status 0. */
export class HelpRequested extends Error {
  constructor(readonly text: string) {
    super('help requested');
    this.name = 'HelpRequested';
  }
}

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/** How one option is read: its value check, whether it is required, whether it may repeat. */
export interface OptionSpec {
  readonly flags: string;
  readonly description: string;
  readonly required?: boolean;
  readonly repeatable?: boolean;
  /** Turns the text into the value, or returns the "allowed: ..." part of the message (or throws a UsageError). */
  readonly parse?: (text: string) => { value: unknown } | { allowed: string };
  readonly defaultValue?: unknown;
}

export interface CommandSpec<C> {
  readonly summary: string;
  readonly options: readonly OptionSpec[];
  readonly example: string;
  /** The parsed command from the option values (keys as commander names them: --output-dir -> outputDir). */
  readonly build: (o: Record<string, any>) => C;
}

export interface ProgramSpec<C> {
  /** How the script is run, e.g. `npx tsx scripts/endpoint.ts`. */
  readonly script: string;
  readonly description: string;
  readonly commands: Readonly<Record<string, CommandSpec<C>>>;
  /** Ends the program's help and every command's help. */
  readonly exitStatusHelp: string;
  /** A command with an option, shown when an option comes before the command: `status --endpoint <name>`. */
  readonly optionHint: string;
}

export const wholeNumber = (min: number, max: number, allowed: string) => (text: string) => {
  const n = Number(text);
  return /^\d+$/.test(text.trim()) && Number.isInteger(n) && n >= min && n <= max ? { value: n } : { allowed };
};

export const numberIn = (ok: (n: number) => boolean, allowed: string) => (text: string) => {
  const n = Number(text);
  return text.trim() !== '' && Number.isFinite(n) && ok(n) ? { value: n } : { allowed };
};

/**
 * commander's Command with our messages for the cases it reports on its own. commander calls these hooks
 * while parsing (internal methods of the pinned version; test/operations/cli.cases.ts and
 * test/operations/pipeline-history.cases.ts run every case).
 */
class StrictCommand extends CommanderCommand {
  /** The program's commands and the hint for an option before the command (set on the program only). */
  programInfo?: { readonly commandNames: readonly string[]; readonly optionHint: string };

  override createCommand(name?: string): StrictCommand {
    return new StrictCommand(name);
  }

  private prefix(): string {
    return this.parent ? `${this.name()}: ` : '';
  }

  /** The long flags this command accepts, `--help` included. */
  allowedFlags(): string[] {
    return [...this.options.map((o) => o.long ?? o.flags), '--help'];
  }

  unknownOption(flag: string): never {
    const hint = this.parent ? '' : ` (a command's options follow its name: ${this.programInfo?.optionHint})`;
    throw new UsageError(`${this.prefix()}unknown option ${JSON.stringify(flag)}; allowed: ${this.allowedFlags().join(', ')}${hint}`);
  }

  unknownCommand(): never {
    throw new UsageError(`command: got ${JSON.stringify(this.args[0])}; allowed: ${this.programInfo?.commandNames.join(', ')} (--help for usage)`);
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

/** An option value that is another option (`--endpoint --from x`) means the value was left out. */
function checked(spec: OptionSpec, flag: string, text: string): unknown {
  if (/^--?[a-zA-Z]/.test(text)) throw new UsageError(`${flag} needs a value (got the option ${text})`);
  if (!spec.parse) return text;
  const result = spec.parse(text);
  if ('allowed' in result) throw new UsageError(`${flag}: got ${JSON.stringify(text)}; allowed: ${result.allowed}`);
  return result.value;
}

/** The commander program: one subcommand per command; `onParsed` receives what the user asked for. */
function buildProgram<C>(spec: ProgramSpec<C>, onParsed: (cmd: C) => void, output: { out: string; err: string }): StrictCommand {
  const program = new StrictCommand(spec.script);
  program.programInfo = { commandNames: Object.keys(spec.commands), optionHint: spec.optionHint };
  program
    .description(spec.description)
    .exitOverride()
    .configureOutput({ writeOut: (s) => (output.out += s), writeErr: (s) => (output.err += s), outputError: () => undefined })
    .showSuggestionAfterError(false)
    .allowExcessArguments(false)
    .helpOption('-h, --help', 'show this help')
    .addHelpText('after', `\nRun "${spec.script} <command> --help" for a command's options.${spec.exitStatusHelp}`);
  for (const [name, command] of Object.entries(spec.commands)) {
    const sub = program.command(name).description(command.summary).helpOption('-h, --help', 'show this help').allowExcessArguments(false);
    for (const o of command.options) {
      const option = new Option(o.flags, `${o.description}${o.required ? ' (required)' : ''}`);
      const flag = option.long ?? o.flags;
      option.argParser((text: string, previous: unknown) => {
        const value = checked(o, flag, text);
        return o.repeatable ? [...((previous as unknown[] | undefined) ?? []), value] : value;
      });
      if (o.defaultValue !== undefined) option.default(o.defaultValue);
      sub.addOption(option);
    }
    sub.addHelpText('after', `\nExample:\n  ${spec.script} ${command.example}\n${spec.exitStatusHelp}`);
    sub.action((values: Record<string, unknown>) => {
      const missing = command.options.filter((o) => o.required && values[new Option(o.flags).attributeName()] === undefined);
      if (missing.length) {
        const flags = missing.map((o) => new Option(o.flags).long);
        throw new UsageError(`${name}: ${flags.join(', ')} ${flags.length === 1 ? 'is' : 'are'} required`);
      }
      onParsed(command.build(values));
    });
  }
  return program;
}

/** The command in `argv` (without node and script); throws `UsageError` for bad arguments, `HelpRequested` for --help. */
export function parseArguments<C>(spec: ProgramSpec<C>, argv: readonly string[]): C {
  const output = { out: '', err: '' };
  let parsed: C | undefined;
  const program = buildProgram(spec, (cmd) => (parsed = cmd), output);
  const allowed = Object.keys(spec.commands).join(', ');
  try {
    program.parse([...argv], { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    // --help, and `help [command]` (exit code 0); without any command commander shows help as an error.
    if (e.code === 'commander.helpDisplayed' || (e.code === 'commander.help' && e.exitCode === 0)) throw new HelpRequested(output.out);
    if (e.code === 'commander.help') throw new UsageError(`command: missing; allowed: ${allowed}\n\n${output.err || output.out}`);
    throw new UsageError(e.message.replace(/^error: /, ''));
  }
  if (!parsed) throw new UsageError(`command: missing; allowed: ${allowed}`);
  return parsed;
}

/** The program's help text (what `--help` prints before the text after it). */
export function helpText<C>(spec: ProgramSpec<C>): string {
  return buildProgram(spec, () => undefined, { out: '', err: '' }).helpInformation();
}

/**
 * What `--help` and a usage error print: the help on stdout (exit status 0), the message on stderr (exit
 * status 2). Returns the exit status, or `undefined` for any other error, which the caller handles.
 */
export function reportUsage(e: unknown, io: CliIo): number | undefined {
  if (e instanceof HelpRequested) {
    io.stdout(e.text);
    return 0;
  }
  if (e instanceof UsageError) {
    io.stderr(`${e.message}\n`);
    return e.exitCode;
  }
  return undefined;
}
