/**
 * A config error reaches the user once: `cdk synth` prints the problems without a Node stack trace and exits
 * with status 1. Node prints an uncaught error with its stack (and, before ConfigValidationError hid them,
 * its own properties: every problem a second time); the CDK CLI relays the app's stderr as it is. So the app
 * must not throw: `loadEnvironmentConfigOrExit` prints the message and exits.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { ENVIRONMENTS, ExitIo, loadEnvironmentConfigOrExit } from '../../lib/config/environments';

const ROOT = path.join(__dirname, '..', '..');
const CDK = path.join(ROOT, 'node_modules', '.bin', 'cdk');
const run = promisify(execFile);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'config-errors-'));
const BAD_SERVING = path.join(dir, 'serving.json');
fs.writeFileSync(BAD_SERVING, JSON.stringify({ variants: [null, { name: 'b', instanceTyp: 'ml.g5.xlarge' }] }));

/** A fake stderr and exit, recording what the function did. */
function recordingIo(): ExitIo & { written: string[]; exitCodes: number[] } {
  const written: string[] = [];
  const exitCodes: number[] = [];
  return {
    written,
    exitCodes,
    writeError: (text) => written.push(text),
    exit: (code) => {
      exitCodes.push(code);
      throw new Error('exited');
    },
  };
}

describe('loadEnvironmentConfigOrExit', () => {
  test('returns a valid config without writing or exiting', () => {
    const io = recordingIo();
    expect(loadEnvironmentConfigOrExit('dev', undefined, io)).toBe(ENVIRONMENTS.dev);
    expect(io.written).toEqual([]);
    expect(io.exitCodes).toEqual([]);
  });

  test('writes the problems once and exits with 1', () => {
    const io = recordingIo();
    expect(() => loadEnvironmentConfigOrExit('dev', BAD_SERVING, io)).toThrow('exited');
    expect(io.exitCodes).toEqual([1]);
    expect(io.written).toHaveLength(1);
    expect(io.written[0]).toMatch(/^Invalid configuration for environment 'dev' \(serving from .*\):\n- serving.variants\[0\]: got null; /);
    expect(io.written[0]).not.toMatch(/^\s+at /m);
  });

  test('an unknown environment is a config error too', () => {
    const io = recordingIo();
    expect(() => loadEnvironmentConfigOrExit('staging', undefined, io)).toThrow('exited');
    expect(io.written.join('')).toMatch(/- env: got "staging"; allowed: dev, prod \(pass -c env=<name>\)\n$/);
  });
});

/** `cdk synth` of the real app (bin/app.ts) with the bad serving file, through the real CLI; never throws. */
async function synthWithBadServing(): Promise<{ code: number; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, CDK_DISABLE_VERSION_CHECK: '1', AWS_EC2_METADATA_DISABLED: 'true' };
  for (const key of Object.keys(env)) if (key.startsWith('AWS_') && key !== 'AWS_EC2_METADATA_DISABLED') delete env[key];
  const args = ['synth', '-c', 'env=dev', '-c', `serving=${BAD_SERVING}`, '-o', path.join(dir, 'cdk.out')];
  try {
    const { stderr } = await run(CDK, args, { cwd: ROOT, env, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stderr };
  } catch (e: any) {
    return { code: typeof e.code === 'number' ? e.code : -1, stderr: String(e.stderr) };
  }
}

const occurrences = (text: string, part: string) => text.split(part).length - 1;

function expectReportedOnce(result: { code: number; stderr: string }): void {
  expect(result.code).toBe(1);
  for (const line of [
    "Invalid configuration for environment 'dev'",
    '- serving.variants[0]: got null; allowed: an object with name, modelPackageArn, initialWeight, instanceType, minInstances, maxInstances',
    '- serving.variants[1].instanceTyp: unknown key; allowed: name, modelPackageArn, initialWeight, instanceType, minInstances, maxInstances',
  ]) {
    expect({ line, count: occurrences(result.stderr, line) }).toEqual({ line, count: 1 });
  }
  expect(result.stderr).not.toMatch(/^ {4}at /m);
  expect(result.stderr).not.toMatch(/TypeError|ConfigValidationError/);
}

describe('cdk synth with an invalid config, through the real CLI', () => {
  test('the real app prints the problems once, no stack trace, and exits 1', async () => {
    expectReportedOnce(await synthWithBadServing());
  });
});
