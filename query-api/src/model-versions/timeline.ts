import type { Deployment } from './schemas.ts';
import type { SeenVersion } from './store.ts';

/** A moment the model's current version changed: a deployment, or a version first seen without one before it. */
export interface Change {
  at: Date;
  version: string;
  deploymentId: string | null;
}

/**
 * One model's changes of version, oldest first. A deployment makes its version current at `deployed_at`; a version
 * seen in events without an earlier deployment of it became current when first seen. A change to the version
 * already current is no change.
 */
export function changesOf(versions: readonly SeenVersion[], deployments: readonly Deployment[]): Change[] {
  const candidates: Change[] = deployments.map((d) => ({
    at: new Date(d.deployed_at),
    version: d.version,
    deploymentId: d.id,
  }));
  for (const v of versions) {
    const deployedBefore = deployments.some(
      (d) => d.version === v.version && new Date(d.deployed_at) <= v.first_seen,
    );
    if (!deployedBefore) candidates.push({ at: v.first_seen, version: v.version, deploymentId: null });
  }
  // At the same moment a deployment comes first: it is the change, the sighting only confirms it.
  const rank = (c: Change) => (c.deploymentId ? 0 : 1);
  candidates.sort((a, b) => a.at.getTime() - b.at.getTime() || rank(a) - rank(b));
  const changes: Change[] = [];
  for (const c of candidates) {
    if (changes.at(-1)?.version !== c.version) changes.push(c);
  }
  return changes;
}

export interface Windows {
  /** The new version, from the change. */
  after: [Date, Date];
  /** The previous version, just before the change, as long as `after`; null for the first version. */
  before: [Date, Date] | null;
}

/**
 * The rollback preview's windows for change `i`: `after` runs from the change until the next change (or `now`),
 * `before` as long just before it; both are shortened to what the previous version was current for, so the two
 * compare equal lengths of time.
 */
export function windowsOf(changes: readonly Change[], i: number, now: Date): Windows {
  const change = changes[i]!;
  const end = changes[i + 1]?.at ?? now;
  const at = change.at.getTime();
  const previous = changes[i - 1];
  // A deployment recorded ahead of time has no figures yet: empty windows.
  const until = Math.max(at, end.getTime());
  if (!previous) return { after: [change.at, new Date(until)], before: null };
  const length = Math.min(until - at, at - previous.at.getTime());
  return {
    after: [change.at, new Date(at + length)],
    before: [new Date(at - length), change.at],
  };
}
