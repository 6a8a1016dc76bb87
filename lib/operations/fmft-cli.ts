import { spawn } from 'child_process';
import { Command as CommanderCommand, CommanderError } from 'commander';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import operatorCli from '../../training/contracts/operator-cli.json';
import type * as EndpointCli from './cli';
import { CliIo, UsageError } from './cli-kit';
import type * as PipelineCli from './pipeline-cli';

/**
 * `fmft`, the operators' one entry point (`scripts/fmft.ts`, package.json's bin): `fmft <group> [command]
 * [options]`, where a group is one of the project's command-line tools and its commands, options, output and
 * exit status are that tool's own.
 *
 * - `endpoint` and `pipeline` are the operations CLIs (`cli.ts`, `pipeline-cli.ts`), run in this process.
 * - Every other group is a Python module (training/contracts/operator-cli.json): `fmft data ARGS` runs
 *   `python -m training.data ARGS` with the arguments as given, the same stdin, stdout and stderr, and its
 *   exit status. Python is `FMFT_PYTHON`, else the project's `.venv` (scripts/bootstrap.sh), else `python3`.
 *
 * `--help` at every level: `fmft --help` lists the groups, `fmft <group> --help` is the group's own help (its
 * commands), `fmft <group> <command> --help` the command's. An unknown group is exit status 2, naming it and
 * the groups; an unknown command is the group's own error (exit status 2 for every group).
 */

/** The repository root: the Python groups import `training` from here, whatever the working directory. */
const ROOT = path.join(__dirname, '..', '..');

export interface Group {
  readonly name: string;
  /** Its line in `fmft --help` (a function: the endpoint and pipeline CLIs load only when asked). */
  readonly summary: () => string;
  /**
   * Runs the group with `args`, what followed its name, as typed; returns the exit status. `script` is how
   * the group was run (`fmft endpoint`), for its help and messages.
   */
  readonly run: (args: readonly string[], io: CliIo, script: string) => Promise<number>;
}

/** A Python group of training/contracts/operator-cli.json. */
export interface PythonGroup {
  readonly name: string;
  /** What `fmft <name>` runs: `python -m <module>`. */
  readonly module: string;
  readonly summary: string;
  /** The module's subcommands; empty when it has none (only options). */
  readonly commands: readonly string[];
}

export const PYTHON_GROUPS: readonly PythonGroup[] = operatorCli.groups;

// The AWS SDK loads only for the groups that call AWS from this process, so a Python group starts sooner.
const endpointCli = (): typeof EndpointCli => require('./cli');
const pipelineCli = (): typeof PipelineCli => require('./pipeline-cli');

/** The Python that runs the Python groups: FMFT_PYTHON, else the project's .venv, else python3 on the PATH. */
export function pythonInterpreter(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FMFT_PYTHON) return env.FMFT_PYTHON;
  const venv = path.join(ROOT, '.venv', 'bin', 'python');
  return fs.existsSync(venv) ? venv : 'python3';
}

/** `python -m <module> <args>` with this process's stdio; resolves to its exit status (128 + signal if killed). */
function runPython(group: PythonGroup, args: readonly string[], io: CliIo, script: string): Promise<number> {
  const python = pythonInterpreter();
  if (args.length === 1 && (args[0] === '--help' || args[0] === '-h')) {
    io.stdout(`${script} ARGS runs ${python} -m ${group.module} ARGS (FMFT_PYTHON overrides the interpreter).\n\n`);
  }
  return new Promise((resolve) => {
    const child = spawn(python, ['-m', group.module, ...args], {
      stdio: 'inherit',
      // The caller's working directory stays (relative paths in ARGS are theirs); `training` comes from here.
      env: { ...process.env, PYTHONPATH: [ROOT, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter) },
    });
    // Ctrl-C reaches the whole foreground process group, the module too: wait for its exit status rather than
    // die first. A SIGTERM or SIGHUP sent to this process alone is passed on (training checkpoints on SIGTERM).
    const ignore = () => undefined;
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on('SIGINT', ignore);
    process.on('SIGTERM', forward);
    process.on('SIGHUP', forward);
    let settled = false;
    const done = (status: number) => {
      if (settled) return;
      settled = true;
      process.off('SIGINT', ignore);
      process.off('SIGTERM', forward);
      process.off('SIGHUP', forward);
      resolve(status);
    };
    child.on('error', (e: NodeJS.ErrnoException) => {
      io.stderr(`${script}: cannot run ${python} (${e.code ?? e.message}); set FMFT_PYTHON to a Python with training/requirements.txt, or run scripts/bootstrap.sh for .venv\n`);
      done(1);
    });
    child.on('exit', (code, signal) => done(code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0)));
  });
}

const withCommands = (summary: string, commands: readonly string[]) => (commands.length ? `${summary}: ${commands.join(', ')}` : summary);

/** Every group, in the order `fmft --help` lists them. */
export const GROUPS: readonly Group[] = [
  {
    name: 'endpoint',
    summary: () => withCommands('live variants', Object.keys(endpointCli().PROGRAM.commands)),
    run: (args, io, script) => endpointCli().runCli(args, io, undefined, script),
  },
  {
    name: 'pipeline',
    summary: () => withCommands('executions and tuning jobs', Object.keys(pipelineCli().PROGRAM.commands)),
    run: (args, io, script) => pipelineCli().runCli(args, io, undefined, script),
  },
  ...PYTHON_GROUPS.map(
    (group): Group => ({
      name: group.name,
      summary: () => withCommands(group.summary, group.commands),
      run: (args, io, script) => runPython(group, args, io, script),
    }),
  ),
];

const unknownGroup = (name: string) => new UsageError(`group: got ${JSON.stringify(name)}; allowed: ${GROUPS.map((g) => g.name).join(', ')} (--help for usage)`);

/** commander's Command with our messages for an unknown group or option (hooks of the pinned version, as in cli-kit.ts). */
class FmftProgram extends CommanderCommand {
  unknownCommand(): never {
    throw unknownGroup(this.args[0]);
  }

  unknownOption(flag: string): never {
    throw new UsageError(`unknown option ${JSON.stringify(flag)}; allowed: --help (a group's commands and options follow its name: ${this.name()} data --help)`);
  }
}

/** The commander program; `onRun` receives the group asked for and what followed its name, as typed. */
function buildProgram(name: string, argv: readonly string[], output: { out: string; err: string }, onRun: (group: Group, args: readonly string[]) => void): FmftProgram {
  const program = new FmftProgram(name);
  const summaries = new Map(GROUPS.map((g) => [g.name, g.summary]));
  program
    .usage('<group> [command] [options]')
    .description("The platform's operator commands in one place. Each group is one of the project's command-line tools: its commands, options, output and exit status are that tool's own.")
    .exitOverride()
    .configureOutput({ writeOut: (s) => (output.out += s), writeErr: (s) => (output.err += s), outputError: () => undefined })
    .configureHelp({ subcommandDescription: (cmd) => summaries.get(cmd.name())?.() ?? cmd.description() })
    .showSuggestionAfterError(false)
    .enablePositionalOptions()
    .helpOption('-h, --help', 'show this help')
    .helpCommand(false)
    .commandsGroup('Groups:')
    .addHelpText(
      'after',
      `
"${name} <group> --help" shows a group's commands,
"${name} <group> <command> --help" a command's options.
endpoint and pipeline run in this process (scripts/endpoint.ts, scripts/pipeline.ts).
Every other group runs python -m <its module> with the arguments as given, with
${pythonInterpreter()} (FMFT_PYTHON overrides).
Exit status: the command's own; 2 for an unknown group.`,
    );
  for (const group of GROUPS) {
    program
      .command(group.name)
      // --help and every option belong to the group's own CLI.
      .helpOption(false)
      .allowUnknownOption()
      .allowExcessArguments()
      // The arguments as typed, not commander's operands: commander drops a leading "--", the group's parser must see it.
      .action(() => onRun(group, argv.slice(argv.indexOf(group.name) + 1)));
  }
  program
    .command('help')
    .argument('[group]')
    .description("this help, or a group's (as <group> --help)")
    .helpGroup('Help:')
    .action((groupName?: string) => {
      if (groupName === undefined) program.help();
      const group = GROUPS.find((g) => g.name === groupName);
      if (!group) throw unknownGroup(String(groupName));
      onRun(group, ['--help']);
    });
  return program;
}

/**
 * The whole CLI: returns the exit status. `name` is how it was started, for its help (`fmft`, or
 * `npx tsx scripts/fmft.ts`). A Python group writes to this process's stdout and stderr, not to `io`.
 */
export async function runFmft(argv: readonly string[], io: CliIo, name = 'fmft'): Promise<number> {
  const output = { out: '', err: '' };
  let chosen: { group: Group; args: readonly string[] } | undefined;
  const program = buildProgram(name, argv, output, (group, args) => (chosen = { group, args }));
  const groups = GROUPS.map((g) => g.name).join(', ');
  try {
    program.parse([...argv], { from: 'user' });
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`${e.message}\n`);
      return e.exitCode;
    }
    if (!(e instanceof CommanderError)) throw e;
    if (e.code === 'commander.helpDisplayed' || (e.code === 'commander.help' && e.exitCode === 0)) {
      io.stdout(output.out);
      return 0;
    }
    // Without a group commander shows the help as an error.
    if (e.code === 'commander.help') io.stderr(`group: missing; allowed: ${groups}\n\n${output.err || output.out}`);
    else io.stderr(`${e.message.replace(/^error: /, '')}\n`);
    return 2;
  }
  if (!chosen) {
    io.stderr(`group: missing; allowed: ${groups} (--help for usage)\n`);
    return 2;
  }
  return chosen.group.run(chosen.args, io, `${name} ${chosen.group.name}`);
}

/** Runs fmft as this process (scripts/fmft.ts, bin/fmft.cjs): sets the exit status. */
export function main(argv: readonly string[], name: string): void {
  runFmft(argv, { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) }, name).then(
    (status) => {
      process.exitCode = status;
    },
    (e) => {
      process.stderr.write(`error: ${(e as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
