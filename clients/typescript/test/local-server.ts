import { ChildProcessByStdio, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

/** The repository root, where `node_modules/.bin/tsx api/local-server.ts` runs. */
export const REPO_ROOT = join(__dirname, '..', '..', '..');

/** A running api/local-server.ts (api/vectors/README.md): its URL, its control routes, and how to stop it. */
export interface LocalServer {
  /** The API's base URL, `http://127.0.0.1:<port>/v1/`. */
  readonly url: string;
  /** Replaces the script and clears the recorded requests. */
  script(steps: readonly unknown[]): Promise<void>;
  /** The requests received since the last script. */
  requests(): Promise<{ method: string; path: string; headers: Record<string, string> }[]>;
  /** Closes its stdin, which ends it, and waits for it to exit. */
  stop(): Promise<void>;
}

/** Starts the local server as the README says and waits for its URL line. */
export async function startLocalServer(): Promise<LocalServer> {
  const child: ChildProcessByStdio<Writable, Readable, Readable> = spawn(join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), ['api/local-server.ts'], {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once('line', (line) => resolve((JSON.parse(line) as { url: string }).url));
    child.once('exit', (code) => reject(new Error(`api/local-server.ts exited (${code}) before printing its URL:\n${stderr}`)));
  });
  const control = new URL('/__control/', url);
  return {
    url,
    async script(steps) {
      const response = await fetch(new URL('script', control), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ steps }) });
      if (!response.ok) throw new Error(`POST /__control/script: ${response.status} ${await response.text()}`);
    },
    async requests() {
      return (await fetch(new URL('requests', control))).json() as Promise<{ method: string; path: string; headers: Record<string, string> }[]>;
    },
    async stop() {
      child.stdin.end();
      await exited;
    },
  };
}
