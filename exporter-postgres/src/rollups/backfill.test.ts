import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import { makeEvent } from '../../test/make-event.ts';
import { MIGRATIONS_DIR, migrate } from '../db/migrate.ts';
import { createEventWriter } from '../pipeline/writer.ts';
import { backfillRollupsStep } from './backfill.ts';
import { compactRollups } from './compact.ts';

const db = await createTestDatabase({ empty: true });
const before = await mkdtemp(join(tmpdir(), 'observatory-migrations-before-narrow-rollups-'));
afterAll(() => rm(before, { recursive: true, force: true }));

/** Calls, cost and histogram counts per org from the day rollup plus pending events, and the same from raw rows. */
async function figures() {
  const { rows } = await db.pool.query(`
    SELECT org_id, sum(calls)::int AS calls, sum(cost_usd)::text AS cost,
      sum((SELECT sum(v & 4294967295) FROM unnest(latency_hist) v))::int AS hist
    FROM ai_roll_org_day GROUP BY org_id ORDER BY org_id`);
  const raw = await db.pool.query(`
    SELECT org_id, count(*)::int AS calls, sum(cost_usd)::text AS cost, count(*)::int AS hist
    FROM ai_events GROUP BY org_id ORDER BY org_id`);
  return { rollups: rows, raw: raw.rows };
}

describe('narrow rollups on a database that already holds events', () => {
  it('migrate without rolling anything up; the background backfill counts every earlier event once', async () => {
    for (const name of await readdir(MIGRATIONS_DIR)) {
      if (name.endsWith('.sql') && name < '0024') await cp(join(MIGRATIONS_DIR, name), join(before, name));
    }
    await migrate(db.pool, before);
    await db.pool.query(
      'SELECT ai_events_ensure_partition(now() - make_interval(months => m)) FROM generate_series(0, 3) AS m',
    );
    const writer = createEventWriter(db.pool);
    const now = Date.now();
    const old = [0, 1, 5, 40, 70].flatMap((days) =>
      ['acme', 'globex'].map((org, i) =>
        makeEvent({
          org_id: org,
          created_at: new Date(now - days * 86_400_000 - i * 1000),
          latency_ms: 10 + days,
          cost_usd: '0.0000012345',
          cost_source: 'provided',
        }),
      ),
    );
    // A timestamp no monthly partition holds: the default partition's rows are counted too.
    old.push(makeEvent({ org_id: 'acme', created_at: new Date('1999-06-01T00:00:00Z'), cost_usd: '1' }));
    await writer.write(old);

    await migrate(db.pool);
    expect((await figures()).rollups).toEqual([]);
    const state = await db.pool.query('SELECT backfill_before > now() AS ahead FROM ai_rollup_state');
    expect(state.rows[0].ahead).toBe(true);

    // Events arriving during the backfill are pending, then added by the compactor, never counted twice.
    await writer.write([makeEvent({ org_id: 'acme', cost_usd: '2', cost_source: 'provided' })]);
    let steps = 0;
    for (;;) {
      const step = await backfillRollupsStep(db.pool);
      if (step?.done) break;
      steps++;
      await compactRollups(db.pool);
    }
    // One step per day holding events (days without any are skipped), newest first.
    expect(steps).toBe(6);
    const after = await figures();
    expect(after.rollups).toEqual(after.raw);
    expect(after.raw.reduce((n: number, r: { calls: number }) => n + r.calls, 0)).toBe(old.length + 1);
  });
});
