import { readdir, readFile } from 'node:fs/promises';
import type pg from 'pg';

// USER_HZ: the unit of the times in /proc/<pid>/stat on Linux.
const TICKS_PER_S = 100;

export interface ProcessCpu {
  ppid: number;
  /** User + system CPU seconds the process used itself. */
  own: number;
  /** User + system CPU seconds of its children it has reaped. */
  reaped: number;
}

/** A process's CPU times from /proc, or undefined once it is gone (or where there is no /proc). */
export async function processCpu(pid: number): Promise<ProcessCpu | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  if (!stat) return undefined;
  // After "pid (comm) ": state, ppid, … utime (14th field of the line), stime, cutime, cstime.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = (i: number) => Number(fields[i]) / TICKS_PER_S;
  return { ppid: Number(fields[1]), own: ticks(11) + ticks(12), reaped: ticks(13) + ticks(14) };
}

/** The ids of the live processes whose parent is `ppid`. */
export async function childPids(ppid: number): Promise<number[]> {
  const pids = (await readdir('/proc').catch(() => [] as string[])).filter((d) => /^[0-9]+$/.test(d));
  const cpus = await Promise.all(pids.map(async (p) => [Number(p), await processCpu(Number(p))] as const));
  return cpus.filter(([, cpu]) => cpu?.ppid === ppid).map(([pid]) => pid);
}

/**
 * CPU seconds of a process and its whole family so far: its own, what it reaped of exited children, and its live
 * children's own. For a PostgreSQL postmaster, the server's CPU: every backend and auxiliary process, the exited ones
 * included (the postmaster reaps them).
 */
export async function familyCpu(pid: number): Promise<number | undefined> {
  const self = await processCpu(pid);
  if (!self) return undefined;
  const children = await Promise.all((await childPids(pid)).map(processCpu));
  return self.own + self.reaped + children.reduce((s, c) => s + (c?.own ?? 0), 0);
}

/** CPU seconds so far of each PostgreSQL backend connected to `database` now (the asking one left out), by pid. */
export async function backendsCpu(pool: pg.Pool, database: string): Promise<Map<number, number>> {
  const { rows } = await pool.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
    [database],
  );
  return new Map(
    await Promise.all(rows.map(async (r) => [r.pid, (await processCpu(r.pid))?.own ?? 0] as const)),
  );
}

/** The CPU seconds backends spent between two `backendsCpu` readings (those that came in between from 0). */
export function spentByBackends(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, cpu] of after) total += cpu - (before.get(pid) ?? 0);
  return total;
}

/**
 * CPU seconds so far of the whole PostgreSQL server `pool` connects to, when it runs on this machine: its
 * postmaster's family (every backend and background process: WAL writer, checkpointer, autovacuum), the exited ones
 * included. What ingest costs the server, whichever connections did it.
 */
export async function serverCpu(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const backend = await processCpu(rows[0]!.pid);
  return backend ? ((await familyCpu(backend.ppid)) ?? 0) : 0;
}
