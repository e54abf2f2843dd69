import type pg from 'pg';
import { isConnectionError } from '../db/connection-errors.ts';
import type { Logger } from '../log.ts';
import { type ArchiveRange, runRetention } from './run.ts';
import * as sql from './sql.ts';

const HOUR_MS = 3_600_000;

export interface RetentionScheduleOptions {
  pool: pg.Pool;
  logger: Logger;
  archive?: ArchiveRange | undefined;
  /** How often each replica looks whether a run is due. */
  checkEveryMs?: number;
  /** A full run is due when the newest one finished longer ago than this. */
  intervalMs?: number;
  /** The first look, a while after start-up so that it never slows a start. */
  firstCheckMs?: number;
}

export interface RetentionSchedule {
  /** Stops looking and waits for a run in progress to finish. */
  stop(): Promise<void>;
}

/**
 * The daily retention run inside `serve` and `worker`: every replica looks hourly whether the newest full run (in
 * `retention_runs`) is a day old; the advisory lock lets one of them run it, so restarts neither skip nor repeat it.
 */
export function startRetentionSchedule(options: RetentionScheduleOptions): RetentionSchedule {
  const { pool, logger, checkEveryMs = HOUR_MS, intervalMs = 24 * HOUR_MS, firstCheckMs = 60_000 } = options;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let pass: Promise<void> = Promise.resolve();

  async function due(): Promise<boolean> {
    const { rows } = await pool.query<{ at: Date | null }>(sql.lastFullRun());
    const last = rows[0]?.at;
    return !last || Date.now() - last.getTime() >= intervalMs;
  }

  const tick = () => {
    pass = (async () => {
      if (!(await due())) return;
      const report = await runRetention({ pool, archive: options.archive, logger });
      if (report.ran) logger.info({ retention: report }, 'retention run finished');
    })()
      .catch((err: unknown) => {
        if (isConnectionError(err))
          logger.warn({ err: (err as Error).message }, 'retention: database unavailable');
        else logger.error({ err }, 'retention run failed');
      })
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, checkEveryMs).unref();
      });
  };
  timer = setTimeout(tick, firstCheckMs).unref();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await pass;
    },
  };
}
