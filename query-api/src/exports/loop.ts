import { backoffMs } from '../db/retry.ts';

/**
 * A polling loop that knows nothing about what it runs: `fetch(n)` asks for up to n pieces of work
 * (n = free slots), `handle` runs each one, `onError` hears every failure. At most `concurrency` handlers
 * run at once; a finished handler wakes the loop at once instead of waiting out the poll interval. While
 * `fetch` keeps failing (the database unreachable), the loop waits longer and longer, up to `maxBackoffMs`.
 */
export interface LoopOptions<T> {
  fetch(limit: number): Promise<T[]>;
  handle(item: T): Promise<void>;
  onError(err: unknown): void;
  concurrency: number;
  intervalMs: number;
  /** Longest wait between polls while `fetch` keeps failing (the database unreachable); default 30 s. */
  maxBackoffMs?: number;
}

export interface Loop {
  /** Wakes the loop now (e.g. after creating work). */
  poke(): void;
  /** Stops fetching and resolves once every running handler has finished. */
  stop(): Promise<void>;
}

export function startLoop<T>(options: LoopOptions<T>): Loop {
  const maxBackoffMs = options.maxBackoffMs ?? 30_000;
  const running = new Set<Promise<void>>();
  const stopping = new AbortController();
  let wake: (() => void) | undefined;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        stopping.signal.removeEventListener('abort', done);
        wake = undefined;
        resolve();
      }
      wake = done;
      stopping.signal.addEventListener('abort', done, { once: true });
    });

  let failures = 0;
  async function loop() {
    while (!stopping.signal.aborted) {
      const free = options.concurrency - running.size;
      let fetched = 0;
      if (free > 0) {
        try {
          const items = await options.fetch(free);
          failures = 0;
          fetched = items.length;
          for (const item of items) {
            const task = options
              .handle(item)
              .catch(options.onError)
              .finally(() => {
                running.delete(task);
                wake?.();
              });
            running.add(task);
          }
        } catch (err) {
          failures++;
          options.onError(err);
        }
      }
      // A full batch may mean more work is waiting: look again at once while there are free slots.
      if (fetched > 0 && fetched === free) continue;
      if (!stopping.signal.aborted) {
        await sleep(failures ? backoffMs(failures, options.intervalMs, maxBackoffMs) : options.intervalMs);
      }
    }
    await Promise.all(running);
  }

  const done = loop();
  return {
    poke: () => wake?.(),
    stop() {
      stopping.abort();
      return done;
    },
  };
}
