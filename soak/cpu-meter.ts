import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { familyCpu } from '../test-support/proc-cpu.ts';

/** Where a tier's processes are now: their pids (a restarted process has a new one). */
export type TierPids = () => Promise<number[]>;

/** The postmaster's pid of a data directory (the first line of `postmaster.pid`), while the server runs. */
export function postmasterPid(dataDir: string): TierPids {
  return async () => {
    const text = await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '');
    const pid = Number(text.split('\n')[0]);
    return pid > 0 ? [pid] : [];
  };
}

/**
 * CPU time of the soak's processes by tier, sampled every second from /proc: for each process ever seen, the CPU of
 * it and its family at its last sample, so a process SIGKILLed (or a PostgreSQL server stopped) keeps what it had
 * used up to at most a second before.
 */
export class CpuMeter {
  private readonly lastSample = new Map<string, Map<number, number>>();
  /** What the processes running when the meter started had used by then. */
  private readonly before = new Map<number, number>();
  private readonly timer: NodeJS.Timeout;
  private sampling: Promise<void>;

  constructor(private readonly tiers: Record<string, TierPids>) {
    for (const tier of Object.keys(tiers)) this.lastSample.set(tier, new Map());
    this.sampling = this.sample(this.before);
    this.timer = setInterval(() => {
      this.sampling = this.sampling.then(() => this.sample());
    }, 1000);
  }

  private async sample(baseline?: Map<number, number>): Promise<void> {
    for (const [tier, pids] of Object.entries(this.tiers)) {
      for (const pid of await pids()) {
        const seconds = await familyCpu(pid);
        if (seconds === undefined) continue;
        baseline?.set(pid, seconds);
        this.lastSample.get(tier)!.set(pid, seconds - (this.before.get(pid) ?? 0));
      }
    }
  }

  /** CPU seconds by tier since the meter started, after one last sample. */
  async stop(): Promise<Record<string, number>> {
    clearInterval(this.timer);
    await this.sampling;
    await this.sample();
    return Object.fromEntries(
      [...this.lastSample].map(([tier, byPid]) => [tier, [...byPid.values()].reduce((s, v) => s + v, 0)]),
    );
  }
}
