import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import { makeEvent } from '../../test/make-event.ts';
import { MIGRATIONS_DIR, migrate } from '../db/migrate.ts';
import { createEventWriter } from '../pipeline/writer.ts';
import { compactRollups } from './compact.ts';

const db = await createTestDatabase({ empty: true });
const before = await mkdtemp(join(tmpdir(), 'observatory-migrations-before-rollups-'));
afterAll(() => rm(before, { recursive: true, force: true }));

/** Calls, cost and histogram counts per org from the rollups, and the same from raw rows. */
async function figures() {
  const { rows } = await db.pool.query(`
    WITH r AS (
      SELECT org_id, calls, cost_usd, latency_hist FROM ai_rollup_hour
      UNION ALL SELECT org_id, calls, cost_usd, latency_hist FROM ai_rollup_delta
    )
    SELECT org_id, sum(calls)::int AS calls, sum(cost_usd)::text AS cost,
      (SELECT sum(v::int) FROM r r2, jsonb_each_text(r2.latency_hist) AS e(k, v) WHERE r2.org_id = r.org_id)::int AS hist
    FROM r GROUP BY org_id ORDER BY org_id`);
  const raw = await db.pool.query(`
    SELECT org_id, count(*)::int AS calls, sum(cost_usd)::text AS cost, count(*)::int AS hist
    FROM ai_events GROUP BY org_id ORDER BY org_id`);
  return { rollups: rows, raw: raw.rows };
}

describe('rollups on a database that already holds events', () => {
  it('count every event stored before the migration once, and later events once more', async () => {
    for (const name of await readdir(MIGRATIONS_DIR)) {
      if (name.endsWith('.sql') && name < '0014') await cp(join(MIGRATIONS_DIR, name), join(before, name));
    }
    await migrate(db.pool, before);
    // This and the three months before it get partitions; 1999 stays in the default partition.
    await db.pool.query(
      'SELECT ai_events_ensure_partition(now() - make_interval(months => m)) FROM generate_series(0, 3) AS m',
    );
    // Written with the columns the schema had then: today's writer knows columns later migrations add.
    const now = Date.now();
    const old = [0, 1, 5, 40, 70].flatMap((days) =>
      ['acme', 'globex'].map((org, i) => ({
        org,
        at: new Date(now - days * 86_400_000 - i * 1000),
        latency: 10 + days,
        cost: '0.0000012345',
      })),
    );
    // A timestamp no monthly partition holds: the default partition's rows are counted too.
    old.push({ org: 'acme', at: new Date('1999-06-01T00:00:00Z'), latency: 5, cost: '1' });
    for (const e of old) {
      await db.pool.query(
        `INSERT INTO ai_events (id, org_id, model_name, latency_ms, cost_usd, cost_source, success, created_at)
         VALUES (gen_random_uuid(), $1, 'gpt-4o', $2, $3, 'provided', true, $4)`,
        [e.org, e.latency, e.cost, e.at],
      );
    }

    await migrate(db.pool);
    expect((await figures()).rollups).toEqual((await figures()).raw);
    await compactRollups(db.pool);
    const compacted = await figures();
    expect(compacted.rollups).toEqual(compacted.raw);
    expect(compacted.raw.reduce((n: number, r: { calls: number }) => n + r.calls, 0)).toBe(old.length);

    const writer = createEventWriter(db.pool);
    expect(await writer.write([makeEvent({ cost_usd: '2', cost_source: 'provided' })])).toMatchObject({
      kind: 'success',
      inserted: 1,
    });
    const after = await figures();
    expect(after.rollups).toEqual(after.raw);
  });
});
