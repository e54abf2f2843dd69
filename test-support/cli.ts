import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../query-api/bin/observatory.mjs', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Environment for a child: this one, minus the variables that would change its database or port. */
export function childEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn' };
  delete base.DATABASE_URL;
  delete base.PORT;
  return { ...base, ...env };
}

export function runCli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: childEnv(env) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface RunningServe {
  child: ChildProcess;
  baseUrl: string;
  output: () => { stdout: string; stderr: string };
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
}

/** Starts `observatory serve` in its own process group and waits until /health answers 200. */
export async function startServe(
  env: Record<string, string | undefined>,
  timeoutMs = 60_000,
): Promise<RunningServe> {
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, 'serve'], {
    env: childEnv({ ...env, PORT: String(port), HOST: '127.0.0.1' }),
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => {
    stdout += d;
  });
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  let finished = false;
  exited.then(() => {
    finished = true;
  });
  while (Date.now() < deadline && !finished) {
    const ok = await fetch(`${baseUrl}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { child, baseUrl, output: () => ({ stdout, stderr }), exited };
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill('SIGKILL');
  throw new Error(`serve did not become healthy:\n${stderr}\n${stdout}`);
}
