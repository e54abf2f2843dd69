import { isConnectionError } from './connection-errors.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `fn`, and again (up to `attempts` times in all, with doubling delays) while it fails because the
 * connection was lost: the pool hands the next attempt a fresh connection. Any other error is thrown at once.
 */
export async function retryOnConnectionLoss<T>(
  fn: () => Promise<T>,
  { attempts = 5, baseMs = 200 }: { attempts?: number; baseMs?: number } = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || !isConnectionError(err)) throw err;
      await sleep(baseMs * 2 ** (attempt - 1));
    }
  }
}

/** The delay before the next try after `failures` failures in a row: doubling from `baseMs`, capped, jittered. */
export function backoffMs(failures: number, baseMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
  return Math.round(ceiling * (0.5 + Math.random() / 2));
}
