import { backfillRollupsStep, compactRollups } from '@observatory/exporter-postgres';
import type pg from 'pg';
import { isConnectionError } from '../db/connection-errors.ts';
import { backoffMs } from '../db/retry.ts';
import type { Logger } from '../log.ts';

export interface RunningCompactor {
  stop(): Promise<void>;
}

// While the database is unreachable, passes wait longer and longer, up to this.
const MAX_BACKOFF_MS = 30_000;

/**
 * Adds pending events into the rollups every `tickMs` until stopped, then, while the background backfill has days
 * left (events stored before the rollups existed), rolls up one more day; every replica runs one and the advisory
 * lock lets one of them work at a time. Reads are exact whether or not it has run (they read pending events and
 * days not backfilled from raw rows); it only keeps them fast. A failing pass is logged and the next one runs anyway.
 */
export function startRollupCompactor(deps: {
  pool: pg.Pool;
  logger: Logger;
  tickMs?: number;
}): RunningCompactor {
  const tickMs = deps.tickMs ?? 5000;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let pass: Promise<void> = Promise.resolve();
  let failures = 0;
  let backfilled = false;
  const tick = () => {
    pass = compactRollups(deps.pool)
      .then(async () => {
        if (!backfilled) {
          const step = await backfillRollupsStep(deps.pool);
          if (step?.day) deps.logger.info({ day: step.day.toISOString() }, 'rollup backfill: day rolled up');
          backfilled = step?.done ?? false;
        }
        failures = 0;
      })
      .catch((err: unknown) => {
        failures++;
        if (isConnectionError(err))
          deps.logger.warn(
            { err: (err as Error).message, failures },
            'rollup compaction: database unavailable',
          );
        else deps.logger.error({ err }, 'rollup compaction failed');
      })
      .finally(() => {
        if (!stopped)
          timer = setTimeout(tick, failures ? backoffMs(failures, tickMs, MAX_BACKOFF_MS) : tickMs);
      });
  };
  timer = setTimeout(tick, 0);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await pass;
    },
  };
}
