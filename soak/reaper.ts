import type { ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();

// Should the soak itself die, it takes its replicas, workers, load balancer and clients with it.
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Kills `child` when this process exits, if it is still running then. */
export function reapOnExit(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}
