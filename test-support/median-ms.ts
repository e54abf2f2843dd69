/** Median of several timed runs, after one warm-up: one slow run on a shared machine says nothing about the code. */
export function medianMs(run: () => void, times = 9): number {
  run();
  const samples: number[] = [];
  for (let i = 0; i < times; i++) {
    const started = performance.now();
    run();
    samples.push(performance.now() - started);
  }
  return samples.sort((a, b) => a - b)[Math.floor(times / 2)] as number;
}
