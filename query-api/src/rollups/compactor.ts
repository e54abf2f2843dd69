import { compactRollups } from '@observatory/exporter-postgres';
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
 * Moves rollup deltas into the hourly and daily tables every `tickMs` until stopped; every replica runs one and the
 * advisory lock lets one of them work at a time. Reads are exact whether or not it has run (they add the deltas);
 * it only keeps the delta table short. A failing pass is logged and the next one runs anyway.
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
  const tick = () => {
    pass = compactRollups(deps.pool)
      .then(() => {
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
