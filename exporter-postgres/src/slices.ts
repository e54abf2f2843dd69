import { setImmediate as nextTurn } from 'node:timers/promises';

/** Long enough to amortise a turn of the event loop, short enough that `/health` and other requests never wait long. */
const SLICE_MS = 10;

/**
 * Runs `step` over `items` like a for loop, but gives the event loop a turn (setImmediate) whenever a slice of
 * `sliceMs` has passed, so a batch of any size never holds the process up for longer than one slice.
 */
export async function forEachInSlices<T>(
  items: Iterable<T>,
  step: (item: T) => void,
  sliceMs = SLICE_MS,
): Promise<void> {
  let sliceStart = performance.now();
  for (const item of items) {
    step(item);
    if (performance.now() - sliceStart >= sliceMs) {
      await nextTurn();
      sliceStart = performance.now();
    }
  }
}

/** `items` in consecutive runs of at most `size`, for work that is done per run rather than per item. */
export function* runsOf<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}
