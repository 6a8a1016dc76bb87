/**
 * `fmft`, the operators' one entry point (scripts/fmft.ts, lib/operations/fmft-cli.ts), through the real CLI:
 * `--help` at every level of every group, unknown groups and commands, Python forwarding end to end, the
 * package's `fmft` bin, and that every command-line module of training/ is a group. The README's fmft commands:
 * the endpoint and pipeline ones are parsed here, the Python ones by training/tests/test_docs_commands.py.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseCommand } from '../../lib/operations/cli';
import { HelpRequested } from '../../lib/operations/cli-kit';
import { GROUPS, PYTHON_GROUPS } from '../../lib/operations/fmft-cli';
import { parsePipelineCommand } from '../../lib/operations/pipeline-cli';
import { shellBlocks } from './readme-commands';

const ROOT = path.join(__dirname, '..', '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const FMFT = path.join(ROOT, 'scripts', 'fmft.ts');
const SCRIPT = 'npx tsx scripts/fmft.ts';
const TS_GROUPS: Record<string, string[]> = {
  endpoint: ['status', 'shift', 'promote', 'rollback', 'ab', 'compare'],
  pipeline: ['history', 'tuning'],
};

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The environment of the runs: no AWS settings of this machine, no FMFT_PYTHON unless a test sets one. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const key of Object.keys(env)) if (key.startsWith('AWS_') || (key === 'FMFT_PYTHON' && !extra.FMFT_PYTHON)) delete env[key];
  return env;
}

// Each run starts tsx (and often Python): a few at a time, so the file takes seconds, not minutes, on two cores.
let running = 0;
const waiting: (() => void)[] = [];
async function limited<T>(work: () => Promise<T>): Promise<T> {
  if (running >= 3) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await work();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

function run(file: string, args: readonly string[], options: { cwd?: string; env?: Record<string, string>; input?: string } = {}): Promise<Result> {
  return limited(
    () =>
      new Promise((resolve) => {
        const child = execFile(file, [...args], { cwd: options.cwd ?? ROOT, env: childEnv(options.env ?? {}), maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
          resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
        );
        child.stdin?.end(options.input ?? '');
      }),
  );
}

/** `npx tsx scripts/fmft.ts ARGS` (tsx from node_modules, as npx resolves it); runs with the same arguments are shared. */
const runs = new Map<string, Promise<Result>>();
function fmft(...args: string[]): Promise<Result> {
  const key = JSON.stringify(args);
  if (!runs.has(key)) runs.set(key, run(TSX, [FMFT, ...args]));
  return runs.get(key)!;
}

/** The command names of a Python module's usage line: `usage: python -m training.data {validate,format} ...`. */
function usageCommands(help: string, module: string): string[] | undefined {
  const match = new RegExp(`^usage: python -m ${module.replace(/\./g, '\\.')} \\{([\\w,-]+)\\}`, 'm').exec(help);
  return match?.[1].split(',');
}

/** A group's first command, for the command-level help (a module without commands: none). */
const firstCommand = (group: string) => TS_GROUPS[group]?.[0] ?? PYTHON_GROUPS.find((g) => g.name === group)!.commands[0];

const ALL_GROUPS = [...Object.keys(TS_GROUPS), ...PYTHON_GROUPS.map((g) => g.name)];

beforeAll(async () => {
  // Start every help run at once (the limiter spaces them); the tests below then read finished results.
  await Promise.all([
    fmft('--help'),
    ...ALL_GROUPS.map((g) => fmft(g, '--help')),
    ...ALL_GROUPS.filter(firstCommand).map((g) => fmft(g, firstCommand(g), '--help')),
  ]);
});

describe('fmft --help', () => {
  test('lists every group once, in a Groups section, each with its line; exit 0', async () => {
    const { code, stdout, stderr } = await fmft('--help');
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(new RegExp(`^Usage: ${SCRIPT} <group> \\[command\\] \\[options\\]`));
    const section = stdout.split('\nGroups:\n')[1].split('\n\n')[0];
    const listed = [...section.matchAll(/^ {2}(\S+) {2,}\S/gm)].map((m) => m[1]);
    expect(listed).toEqual(GROUPS.map((g) => g.name));
    expect(new Set(listed)).toEqual(new Set(ALL_GROUPS));
    // A group's line names its commands (commander wraps long lines: compare without the line breaks).
    const flat = section.replace(/\n {3,}/g, ' ');
    for (const [name, commands] of Object.entries(TS_GROUPS)) expect(flat).toMatch(new RegExp(`^ {2}${name} +.*: ${commands.join(', ')}$`, 'm'));
    for (const group of PYTHON_GROUPS.filter((g) => g.commands.length)) expect(flat).toMatch(new RegExp(`^ {2}${group.name} +.*: ${group.commands.join(', ')}$`, 'm'));
    expect(stdout).toContain('FMFT_PYTHON overrides');
  });

  test('help is the same; help <group> is <group> --help', async () => {
    const [help, top, helpData, dataHelp] = await Promise.all([fmft('help'), fmft('--help'), fmft('help', 'data'), fmft('data', '--help')]);
    expect(help).toEqual(top);
    expect(helpData).toEqual(dataHelp);
  });
});

describe("fmft <group> --help: the group's commands, exit 0", () => {
  test.each(Object.entries(TS_GROUPS))('%s (in this process, mounted under fmft)', async (group, commands) => {
    const { code, stdout, stderr } = await fmft(group, '--help');
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(new RegExp(`^Usage: ${SCRIPT} ${group} \\[options\\] \\[command\\]`));
    expect([...stdout.matchAll(/^ {2}(\w+) \[options\] /gm)].map((m) => m[1])).toEqual(commands);
  });

  test.each(PYTHON_GROUPS.map((g) => [g.name, g]))("%s: the module's own help, its commands those of operator-cli.json", async (name, group) => {
    const { code, stdout, stderr } = await fmft(name, '--help');
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout.split('\n')[0]).toMatch(new RegExp(`^${SCRIPT} ${name} ARGS runs \\S+ -m ${group.module.replace(/\./g, '\\.')} ARGS`));
    // The drift check of the JSON: a command added to (or removed from) the module must be listed there too.
    if (group.commands.length) expect(usageCommands(stdout, group.module)).toEqual(group.commands);
    else expect(stdout).toMatch(new RegExp(`^usage: python -m ${group.module.replace(/\./g, '\\.')} \\[-h\\]`, 'm'));
  });
});

describe("fmft <group> <command> --help: the command's own help, exit 0", () => {
  test.each(ALL_GROUPS.filter(firstCommand).map((g) => [g, firstCommand(g)]))('%s %s', async (group, command) => {
    const { code, stdout, stderr } = await fmft(group, command, '--help');
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    if (group in TS_GROUPS) {
      expect(stdout).toMatch(new RegExp(`^Usage: ${SCRIPT} ${group} ${command} \\[options\\]`));
      expect(stdout).toContain(`Example:\n  ${SCRIPT} ${group} ${command} --`);
    } else {
      const module = PYTHON_GROUPS.find((g) => g.name === group)!.module;
      expect(stdout).toMatch(new RegExp(`^usage: python -m ${module.replace(/\./g, '\\.')} ${command} \\[-h\\]`));
    }
  });

  test("endpoint shift: the endpoint CLI's options, mounted under fmft endpoint", async () => {
    const { code, stdout } = await fmft('endpoint', 'shift', '--help');
    expect(code).toBe(0);
    for (const flags of ['--endpoint <name>', '--from <variant>', '--to <variant>', '--steps <n>', '--interval <seconds>', '--alarm <name>']) expect(stdout).toContain(`  ${flags}`);
  });
});

describe('unknown groups and commands: named, with what exists; exit 2', () => {
  const allowed = ALL_GROUPS.join(', ');

  test('an unknown group', async () => {
    expect(await fmft('deploy', '--endpoint', 'x')).toEqual({ code: 2, stdout: '', stderr: `group: got "deploy"; allowed: ${allowed} (--help for usage)\n` });
    expect(await fmft('help', 'deploy')).toEqual({ code: 2, stdout: '', stderr: `group: got "deploy"; allowed: ${allowed} (--help for usage)\n` });
  });

  test('no group: the groups and the help on stderr', async () => {
    const { code, stdout, stderr } = await fmft();
    expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
    expect(stderr).toMatch(new RegExp(`^group: missing; allowed: ${allowed}\n\nUsage: ${SCRIPT} <group>`));
  });

  test('an option before the group', async () => {
    expect(await fmft('--endpoint', 'x', 'endpoint')).toEqual({
      code: 2,
      stdout: '',
      stderr: `unknown option "--endpoint"; allowed: --help (a group's commands and options follow its name: ${SCRIPT} data --help)\n`,
    });
  });

  test('an unknown command of a TypeScript group: the group\'s own message', async () => {
    const { code, stdout, stderr } = await fmft('endpoint', 'deploy');
    expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
    expect(stderr).toBe(`command: got "deploy"; allowed: ${TS_GROUPS.endpoint.join(', ')} (--help for usage)\n`);
  });

  test('an unknown command of a Python group: the module\'s own message', async () => {
    const { code, stderr } = await fmft('data', 'deploy');
    expect(code).toBe(2);
    expect(stderr).toBe(`python -m training.data: error: unknown command 'deploy'; allowed: validate, format, split, stats, prepare\n`);
  });
});

describe('a Python group runs python -m <module> with the arguments as given', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fmft-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('data validate on a file of the working directory: its output, stderr and exit status (0, then 1)', async () => {
    const chat = (turns: object[]) => JSON.stringify({ messages: turns });
    // A space in the name: the arguments reach the module as they were, never through a shell.
    fs.writeFileSync(path.join(dir, 'good chats.jsonl'), `${chat([{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }])}\n`);
    fs.writeFileSync(path.join(dir, 'bad.jsonl'), `${chat([{ role: 'user', content: 'hi' }])}\nnot json\n`);
    const [good, bad] = await Promise.all([
      run(TSX, [FMFT, 'data', 'validate', '--input', 'good chats.jsonl', '--target', 'chat'], { cwd: dir }),
      run(TSX, [FMFT, 'data', 'validate', '--input', 'bad.jsonl', '--target', 'chat', '--max-errors', '1'], { cwd: dir }),
    ]);
    expect(good).toEqual({ code: 0, stdout: 'good chats.jsonl: 1 records, target chat: valid\n', stderr: '' });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('bad.jsonl: 0 records, target chat: INVALID (3 errors)\n');
    expect(bad.stderr).toMatch(/^error: bad\.jsonl:1 \(record 1\): field 'messages\[0\]\.role': the last turn must be 'assistant'/);
  });

  test('FMFT_PYTHON: every argument verbatim (a leading --, an empty one, spaces), stdin, stderr, exit status, PYTHONPATH', async () => {
    const fake = path.join(dir, 'fake-python');
    fs.writeFileSync(
      fake,
      `#!/usr/bin/env node
process.stdout.write(JSON.stringify({ argv: process.argv.slice(2), stdin: require('fs').readFileSync(0, 'utf8'), cwd: process.cwd(), pythonPath: process.env.PYTHONPATH }));
process.stderr.write('to stderr\\n');
process.exit(7);
`,
      { mode: 0o755 },
    );
    const args = ['--', 'a b', '', '--x=1', '-h', "it's"];
    const { code, stdout, stderr } = await run(TSX, [FMFT, 'dr', ...args], { cwd: dir, env: { FMFT_PYTHON: fake, PYTHONPATH: '/elsewhere' }, input: 'from stdin' });
    expect({ code, stderr }).toEqual({ code: 7, stderr: 'to stderr\n' });
    expect(JSON.parse(stdout)).toEqual({
      argv: ['-m', 'training.dr', ...args],
      stdin: 'from stdin',
      cwd: fs.realpathSync(dir),
      pythonPath: `${ROOT}${path.delimiter}/elsewhere`,
    });
  });

  test('an interpreter that cannot run: named, exit 1', async () => {
    const { code, stderr } = await run(TSX, [FMFT, 'data', '--help'], { env: { FMFT_PYTHON: path.join(os.tmpdir(), 'no-such-python') } });
    expect(code).toBe(1);
    expect(stderr).toMatch(/^npx tsx scripts\/fmft\.ts data: cannot run \S+no-such-python \(ENOENT\); set FMFT_PYTHON/);
  });
});

describe('the package bin fmft', () => {
  test('package.json maps fmft to bin/fmft.cjs, next to app; it runs the same program', async () => {
    const bin = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).bin;
    expect(bin).toEqual({ app: 'bin/app.js', fmft: 'bin/fmft.cjs' });
    expect(fs.statSync(path.join(ROOT, bin.fmft)).mode & 0o111).not.toBe(0);
    const { code, stdout, stderr } = await run(process.execPath, [path.join(ROOT, bin.fmft), 'endpoint', 'status', '--help']);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(/^Usage: fmft endpoint status \[options\]/);
  });
});

describe('every command-line module of training/ is a group', () => {
  const modules = (pattern: RegExp) =>
    fs
      .readdirSync(path.join(ROOT, 'training'), { recursive: true, encoding: 'utf8' })
      .filter((f) => !f.split(path.sep).includes('tests') && f.endsWith('.py') && pattern.test(fs.readFileSync(path.join(ROOT, 'training', f), 'utf8')))
      .map((f) => ['training', ...f.replace(/\.py$/, '').replace(/[/\\]__main__$/, '').split(path.sep)].join('.'))
      .sort();
  const grouped = new Set(PYTHON_GROUPS.map((g) => g.module));
  // Modules with a main that are no operator command, and why: a new one fails the test below until it is
  // a group of training/contracts/operator-cli.json or listed here.
  const NOT_OPERATOR_COMMANDS: Record<string, string> = {
    'training.run_module': "the processing jobs' launcher: runs a module from the job's code archive",
    'training.train.launch': 'runs inside a SageMaker training job (torchrun on every host)',
    'training.train.tiny': "builds the quick start's tiny random model (training/README.md)",
    'training.dr.registry_export': 'its command is python -m training.dr export (the dr group)',
    'training.bench_monitor': 'a benchmark (bench/)',
    'training.bench_stream_memory': 'a benchmark (bench/)',
  };

  test('every package with a __main__.py (python -m training.<x>)', () => {
    const packages = fs
      .readdirSync(path.join(ROOT, 'training'), { recursive: true, encoding: 'utf8' })
      .filter((f) => path.basename(f) === '__main__.py')
      .map((f) => ['training', ...path.dirname(f).split(path.sep)].join('.'));
    expect(packages.length).toBeGreaterThanOrEqual(8);
    expect(packages.filter((m) => !grouped.has(m))).toEqual([]);
  });

  test('every other module with a main is a group or listed with the reason it is not', () => {
    const mains = modules(/^if __name__ == ["']__main__["']:/m);
    expect(mains.filter((m) => !grouped.has(m) && !(m in NOT_OPERATOR_COMMANDS))).toEqual([]);
    // And the list holds nothing stale.
    expect(Object.keys(NOT_OPERATOR_COMMANDS).filter((m) => !mains.includes(m))).toEqual([]);
  });

  test('every group runs a module that exists, names are unique', () => {
    for (const group of PYTHON_GROUPS) {
      const file = path.join(ROOT, ...group.module.split('.'));
      expect([`${file}.py`, path.join(file, '__main__.py')].some((f) => fs.existsSync(f))).toBe(true);
    }
    expect(new Set(ALL_GROUPS).size).toBe(ALL_GROUPS.length);
  });
});

describe("the README's fmft commands", () => {
  const commands = shellBlocks(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'))
    .flatMap((b) => b.lines.join('\n').replace(/\\\n\s*/g, ' ').split('\n'))
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line.startsWith(`${SCRIPT} `))
    .map((line) => line.split(/\s+/).slice(3));

  test('the section names every group', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const section = readme.split('\n## One command for operators: fmft\n')[1].split('\n## ')[0];
    for (const group of ALL_GROUPS) expect(section).toContain(`\`${group}\``);
  });

  test('are found: the help, an operations group and a Python group', () => {
    expect(commands.some((c) => c[0] === '--help')).toBe(true);
    expect(commands.some((c) => c[0] in TS_GROUPS)).toBe(true);
    expect(commands.some((c) => PYTHON_GROUPS.some((g) => g.name === c[0]))).toBe(true);
  });

  test.each(commands.map((c) => [c.join(' ')]))('%s: a group and command that exist; endpoint and pipeline commands parse', (line) => {
    const [group, ...args] = line.split(' ');
    if (group === '--help') return;
    expect(ALL_GROUPS).toContain(group);
    const python = PYTHON_GROUPS.find((g) => g.name === group);
    // The Python groups' options are parsed by training/tests/test_docs_commands.py, with the modules' parsers.
    if (python) {
      if (python.commands.length) expect(python.commands).toContain(args[0]);
      return;
    }
    const parse = group === 'endpoint' ? parseCommand : parsePipelineCommand;
    try {
      parse(args, `${SCRIPT} ${group}`);
    } catch (e) {
      if (!(e instanceof HelpRequested)) throw e;
    }
  });
});
