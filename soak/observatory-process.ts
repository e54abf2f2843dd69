import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { CLI, childEnv } from '../test-support/cli.ts';
import { reapOnExit } from './reaper.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One `observatory serve` or `observatory worker` process of the soak, its output appended to a log file across
 * restarts (the soak reads the export workers' logs back). `kill` is what a crash does; `start` again reuses the
 * same data directory, so a restarted replica replays what its predecessor left in its spill file.
 */
export class ObservatoryProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly log: WriteStream;

  constructor(
    readonly name: string,
    private readonly command: 'serve' | 'worker',
    private readonly env: Record<string, string>,
    readonly logFile: string,
    /** serve only: its port, where readiness is asked. */
    readonly port?: number,
  ) {
    this.log = createWriteStream(logFile, { flags: 'a' });
  }

  /** The running process's id; undefined while it is not running. */
  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  async start(timeoutMs = 300_000): Promise<void> {
    const child = reapOnExit(
      spawn(process.execPath, [CLI, this.command], {
        env: childEnv({ ...this.env, ...(this.port ? { PORT: String(this.port), HOST: '127.0.0.1' } : {}) }),
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    this.child = child;
    child.stdout?.pipe(this.log, { end: false });
    child.stderr?.pipe(this.log, { end: false });
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    if (!this.port) return;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null)
        throw new Error(`${this.name} exited during start-up; see ${this.logFile}`);
      const up = await fetch(`http://127.0.0.1:${this.port}/health`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (up) return;
      await sleep(200);
    }
    throw new Error(`${this.name} did not become healthy; see ${this.logFile}`);
  }

  /** SIGKILL: no drain, no flush; whatever was only in memory is gone. */
  async kill(): Promise<void> {
    this.child?.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM, then waits for the drain (SIGKILL past `timeoutMs`). */
  async stop(timeoutMs = 30_000): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  async close(): Promise<void> {
    await this.stop();
    await new Promise((r) => this.log.end(r));
  }
}
