import type pg from 'pg';
import { modelFigures } from './figures.ts';
import type { ModelTimeline, ModelVersion, VersionChange } from './schemas.ts';
import { readRegistry, type SeenVersion } from './store.ts';
import { changesOf, windowsOf } from './timeline.ts';

/** Changes per model given figures, newest kept: each costs two rollup reads. */
const MAX_CHANGES = 50;

/**
 * Every model's (or one model's) versions, deployments and changes with their before/after figures. A version's
 * figures cover its latest stretch as the current version.
 */
export async function modelTimelines(
  pool: pg.Pool,
  orgId: string,
  modelName: string | undefined,
  now = new Date(),
): Promise<ModelTimeline[]> {
  const { versions, deployments } = await readRegistry(pool, orgId, modelName);
  const models = [
    ...new Set([...versions.map((v) => v.model_name), ...deployments.map((d) => d.model_name)]),
  ].sort();
  return Promise.all(
    models.map(async (model) => {
      const seen = versions.filter((v) => v.model_name === model);
      const deployed = deployments.filter((d) => d.model_name === model);
      const changes = changesOf(seen, deployed);
      const figuresOf = (from: Date, to: Date) => modelFigures(pool, orgId, model, [from, to]);
      const first = Math.max(0, changes.length - MAX_CHANGES);
      const changeRows: VersionChange[] = await Promise.all(
        changes.slice(first).map(async (change, k) => {
          const i = first + k;
          const w = windowsOf(changes, i, now);
          return {
            at: change.at.toISOString(),
            from_version: changes[i - 1]?.version ?? null,
            to_version: change.version,
            deployment_id: change.deploymentId,
            before: w.before ? await figuresOf(...w.before) : null,
            after: await figuresOf(...w.after),
          };
        }),
      );
      const versionRows: ModelVersion[] = await Promise.all(
        [...new Set([...seen.map((v) => v.version), ...changes.map((c) => c.version)])].map(
          async (version) => {
            const v: SeenVersion | undefined = seen.find((s) => s.version === version);
            const latest = changes.findLastIndex((c) => c.version === version);
            const stretch = latest >= 0 ? [changes[latest]!.at, changes[latest + 1]?.at ?? now] : undefined;
            return {
              version,
              first_seen: v ? v.first_seen.toISOString() : null,
              last_seen: v ? v.last_seen.toISOString() : null,
              figures:
                stretch && stretch[0]! < stretch[1]! ? await figuresOf(stretch[0]!, stretch[1]!) : null,
            };
          },
        ),
      );
      return { model_name: model, versions: versionRows, deployments: deployed, changes: changeRows };
    }),
  );
}
