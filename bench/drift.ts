/**
 * The daily drift runner at scale: seeds BENCH_DRIFT_ROWS events (default 1,000,000) into one org over the last
 * BENCH_DRIFT_DAYS days (default 8: every row inside the drift windows, the worst case for a given size), plus 5 % in
 * noise orgs, VACUUM ANALYZEs, then times one pass over the org (each model in turn) and prints each model's time
 * beside one plain read of the same model's 8 days through the same index (sums of the four columns), measured in the
 * same run: the floor any computation reading those rows pays. The runner reads them twice (the baseline's deciles,
 * then both windows' bins). `BENCH_ONLY=drift npm run bench` runs this file alone.
 */
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { ensurePartitions } from '@observatory/exporter-postgres';
import { DriftRunner } from '../query-api/src/drift/runner.ts';
import { ensureOrg } from '../query-api/src/keys/keys.ts';
import { createLogger } from '../query-api/src/log.ts';
import { BIG_ORG, seedBigOrg } from './_big-org.ts';
import { benchDatabase, fmt } from './support.ts';

const load = () =>
  `load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`;

export async function runDriftBench(
  rows = Number(process.env.BENCH_DRIFT_ROWS ?? 1_000_000),
  days = Number(process.env.BENCH_DRIFT_DAYS ?? 8),
): Promise<void> {
  const db = await benchDatabase('drift');
  try {
    for (const at of [new Date(Date.now() - (days + 1) * 86_400_000), new Date()])
      await ensurePartitions(db.pool, at, 0);
    // Drift is computed for the orgs in `orgs` (those that have keys to read it with).
    await ensureOrg(db.pool, BIG_ORG);
    console.log(
      `seeding ${fmt(rows)} events in ${BIG_ORG} over ${days} days (+5 % in noise orgs) (${load()})`,
    );
    const seconds = await seedBigOrg(db.pool, rows, days);
    console.log(`seeded in ${seconds.toFixed(0)} s; VACUUM ANALYZE…`);
    await db.pool.query('VACUUM ANALYZE ai_events');

    const runner = new DriftRunner({ pool: db.pool, logger: createLogger('silent') });
    let t = performance.now();
    const report = await runner.run({ orgId: BIG_ORG, force: true });
    const passMs = performance.now() - t;
    if (report.failed.length) console.log(`failed: ${JSON.stringify(report.failed)}`);
    console.log(
      `one pass over ${BIG_ORG}: ${report.computed.length} models in ${(passMs / 1000).toFixed(1)} s (${load()})`,
    );
    const busiest = [...report.computed]
      .sort(
        (a, b) =>
          b.features[0]!.baselineN +
          b.features[0]!.currentN -
          (a.features[0]!.baselineN + a.features[0]!.currentN),
      )
      .slice(0, 3);
    for (const m of busiest) {
      const n = m.features[0]!.baselineN + m.features[0]!.currentN;
      t = performance.now();
      await db.pool.query(
        `SELECT sum(latency_ms), sum(input_tokens), sum(output_tokens), sum(cost_usd)
           FROM ai_events WHERE org_id = $1 AND model_name = $2
           AND created_at >= now() - interval '8 days' AND created_at < now()`,
        [BIG_ORG, m.model],
      );
      const scanMs = performance.now() - t;
      console.log(
        `  ${m.model.padEnd(10)} ${fmt(n).padStart(10)} rows in 8 days: drift ${fmt(m.ms).padStart(6)} ms, one read of the same rows ${fmt(scanMs).padStart(6)} ms (×${(m.ms / scanMs).toFixed(1)}), ${fmt(n / (m.ms / 1000))} rows/s`,
      );
    }
  } finally {
    await db.drop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await runDriftBench();
