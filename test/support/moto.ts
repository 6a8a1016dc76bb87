import { ChildProcess, spawn } from 'child_process';
import * as path from 'path';

/**
 * A real moto server on loopback, started from the project's .venv (scripts/bootstrap.sh installs moto),
 * for tests that call AWS APIs through the SDK v3 over HTTP. Each call gets its own server and port.
 */
export interface MotoServer {
  readonly endpoint: string;
  stop(): Promise<void>;
}

const PYTHON = path.join(__dirname, '..', '..', '.venv', 'bin', 'python');
const START = [
  'from moto.server import ThreadedMotoServer',
  'from moto.core.config import default_user_config',
  'import os, sys, time',
  's = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)',
  's.start()',
  'port = s.get_host_and_port()[1]',
  'if sys.argv[1] == "execute":',
  // moto runs state machines with its ASL interpreter; the interpreter calls the services at MOTO_PORT.
  '    os.environ["MOTO_PORT"] = str(port)',
  '    default_user_config["stepfunctions"] = {"execute_state_machine": True}',
  'print(port, flush=True)',
  'sys.stdin.read()',
  's.stop()',
].join('\n');

export interface MotoOptions {
  /** Run state machine executions (moto's ASL interpreter) instead of only recording them. @default false */
  readonly executeStateMachines?: boolean;
}

export function startMoto(options: MotoOptions = {}): Promise<MotoServer> {
  return new Promise((resolve, reject) => {
    const mode = options.executeStateMachines ? 'execute' : 'record';
    const child: ChildProcess = spawn(PYTHON, ['-c', START, mode], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`moto server exited with ${code}: ${stderr}`)));
    child.stdout!.once('data', (d) => {
      const port = Number(String(d).trim());
      resolve({
        endpoint: `http://127.0.0.1:${port}`,
        stop: () =>
          new Promise((done) => {
            child.removeAllListeners('exit');
            child.once('exit', () => done());
            child.stdin!.end();
          }),
      });
    });
  });
}

/** SDK v3 client settings for the moto server: fixed test credentials, one region. */
export function motoClientConfig(endpoint: string) {
  return {
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    maxAttempts: 1,
  };
}
