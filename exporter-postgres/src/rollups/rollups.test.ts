import fc from 'fast-check';
import type pg from 'pg';
import { beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import { until } from '../../../test-support/until.ts';
import { makeEvent } from '../../test/make-event.ts';
import type { AiEvent } from '../event.ts';
import { createEventWriter } from '../pipeline/writer.ts';
import { backfillRollupsStep, startRollupBackfill } from './backfill.ts';
import { compactRollups, compactStatement } from './compact.ts';
import { skipRollupsInTransaction } from './skip.ts';
import { ROLLUP_TABLES } from './tables.ts';

/**
 * The rollups against raw recomputation: random events through the real writer, in random batches with re-delivered
 * duplicates, late events and times on hour and day edges. Every rollup row must equal the same figures computed here
 * with SQL of this test's own from the `ai_events` rows that are not pending (the reads add those from raw rows):
 * before compaction, part way through, and after.
 */

const db = await createTestDatabase();
const writer = createEventWriter(db.pool);
const DAY = 86_400_000;
const HOUR = 3_600_000;
// A day edge a few days back, so that events land on either side of it and of the hours around it.
const EDGE = Math.floor(Date.now() / DAY) * DAY - 3 * DAY;

async function reset(pool: pg.Pool) {
  await pool.query(`TRUNCATE ai_events, ${ROLLUP_TABLES.map((t) => t.table).join(', ')}`);
}

/** A histogram as sorted "bucket:count" text, from raw values or from a packed rollup array. */
const rawHist = (column: string) =>
  `(SELECT coalesce(string_agg(i || ':' || n, ',' ORDER BY i), '') FROM (SELECT obs_hist_index(v) i, count(*) n
     FROM unnest(array_agg(${column})) v WHERE v IS NOT NULL GROUP BY 1) x)`;
const packedHist = (column: string) =>
  `(SELECT coalesce(string_agg(((v >> 32) - 10000) || ':' || (v & 4294967295), ',' ORDER BY v), '') FROM unnest(${column}) v)`;

const SUMS = `count(*)::text AS calls, count(*) FILTER (WHERE NOT success)::text AS errors,
  count(*) FILTER (WHERE fallback_used)::text AS fallbacks,
  coalesce(sum(input_tokens), 0)::text AS input_tokens, coalesce(sum(output_tokens), 0)::text AS output_tokens,
  coalesce(sum(cached_input_tokens), 0)::text AS cached_input_tokens,
  coalesce(sum(reasoning_tokens), 0)::text AS reasoning_tokens, trim_scale(coalesce(sum(cost_usd), 0))::text AS cost_usd,
  count(*) FILTER (WHERE cost_source = 'unpriced')::text AS unpriced_calls, count(ttft_ms)::text AS ttft_calls,
  ${rawHist('latency_ms')} AS latency, ${rawHist('ttft_ms')} AS ttft`;
const TABLE_SUMS = `calls::text, errors::text, fallbacks::text, input_tokens::text, output_tokens::text,
  cached_input_tokens::text, reasoning_tokens::text, trim_scale(cost_usd)::text AS cost_usd, unpriced_calls::text,
  ttft_calls::text, ${packedHist('latency_hist')} AS latency, ${packedHist('ttft_hist')} AS ttft`;

/** Per rollup: its key from raw rows (`r`), the figures from raw rows, and the same figures from its table. */
const CHECKS: Record<string, { key: string; raw: string; table: string; where?: string }> = {
  ai_roll_org: { key: '', raw: SUMS, table: TABLE_SUMS },
  ...Object.fromEntries(
    ['model_name', 'endpoint', 'service_name', 'provider', 'user_id'].map((dim) => [
      `ai_roll_dim:${dim}`,
      {
        key: `'${dim}' AS dim, coalesce(${dim}, '') AS value`,
        raw: SUMS,
        table: TABLE_SUMS,
      },
    ]),
  ),
  ai_roll_error: {
    key: "coalesce(error_code, 'unknown') AS error_code, model_name",
    raw: `count(*)::text AS count, min(created_at) AS first_seen, max(created_at) AS last_seen,
      (array_agg(error_message ORDER BY created_at DESC, id DESC) FILTER (WHERE error_message IS NOT NULL))[1] AS message`,
    table: 'count::text, first_seen, last_seen, message',
    where: 'NOT success',
  },
  ai_roll_fallback: {
    key: "model_name, coalesce(fallback_model, '') AS fallback_model, coalesce(fallback_reason, '') AS fallback_reason",
    raw: 'count(*)::text AS count',
    table: 'count::text',
    where: 'fallback_used',
  },
};

/** Every rollup's rows of a grain as sorted JSON texts: from its table, and recomputed from raw rows not pending. */
async function compare(pool: pg.Pool, grain: 'hour' | 'day') {
  const out: { table: string[]; raw: string[] } = { table: [], raw: [] };
  const added = `NOT EXISTS (SELECT 1 FROM ai_rollup_pending p
    WHERE p.org_id = e.org_id AND p.created_at = e.created_at AND p.id = e.id)`;
  for (const [name, c] of Object.entries(CHECKS)) {
    const [rollup, dim] = name.split(':');
    const keyNames = c.key
      ? c.key.split(/,(?![^(]*\))/).map((k) => /AS (\w+)$/.exec(k.trim())?.[1] ?? k.trim())
      : [];
    const cols = ['org_id', 'bucket', ...keyNames].join(', ');
    const fromTable = await pool.query(
      `SELECT ${cols}, ${c.table} FROM ${rollup}_${grain} t${dim ? ` WHERE dim = '${dim}'` : ''}`,
    );
    const fromRaw = await pool.query(
      `SELECT org_id, date_trunc('${grain}', created_at, 'UTC') AS bucket${c.key ? `, ${c.key}` : ''}, ${c.raw}
       FROM ai_events e WHERE ${added}${c.where ? ` AND ${c.where}` : ''}
       GROUP BY ${['org_id', 'bucket', ...keyNames].map((_, i) => i + 1).join(', ')}`,
    );
    out.table.push(...fromTable.rows.map((r) => `${name} ${JSON.stringify(r)}`));
    out.raw.push(...fromRaw.rows.map((r) => `${name} ${JSON.stringify(r)}`));
  }
  return { table: out.table.sort(), raw: out.raw.sort() };
}

async function expectExact(pool: pg.Pool) {
  for (const grain of ['hour', 'day'] as const) {
    const { table, raw } = await compare(pool, grain);
    expect(table, `by ${grain}`).toEqual(raw);
  }
}

const pending = async (pool: pg.Pool) =>
  (await pool.query('SELECT count(*)::int AS n FROM ai_rollup_pending')).rows[0].n as number;

const pick = <T>(...values: T[]) => fc.constantFrom(...values);
const latency = fc.oneof(
  pick(0, 0.004, 0.01, 1, 1000),
  fc.double({ min: 0.01, max: 1e6, noNaN: true, noDefaultInfinity: true }),
);
const eventArb = fc
  .record({
    org_id: pick('acme', 'globex'),
    model_name: pick('gpt-4o', 'gpt-4o-mini', 'claude'),
    endpoint: pick(null, '/chat', '/search'),
    service_name: pick(null, 'api'),
    provider: pick(null, 'openai'),
    user_id: pick(null, 'u1', 'u2'),
    // Half-hour steps around the day edge, up to two days back (late events), some a millisecond off an edge.
    at: fc.tuple(fc.integer({ min: -96, max: 4 }), pick(-1, 0, 0, 1)),
    success: fc.boolean(),
    error_code: pick(null, 'timeout', 'rate_limited'),
    error_message: pick(null, 'upstream said no', 'quota'),
    fallback: fc.option(fc.tuple(pick(null, 'timeout', 'error'), pick(null, 'gpt-4o-mini')), { nil: null }),
    input_tokens: fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: null }),
    output_tokens: fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: null }),
    cached_input_tokens: fc.option(fc.integer({ min: 0, max: 1000 }), { nil: null }),
    reasoning_tokens: fc.option(fc.integer({ min: 0, max: 1000 }), { nil: null }),
    cost: fc.option(fc.integer({ min: 0, max: 10_000_000_000 }), { nil: null }),
    latency_ms: latency,
    ttft_ms: fc.option(latency, { nil: null }),
  })
  .map(
    (r): AiEvent =>
      makeEvent({
        ...r,
        created_at: new Date(EDGE + r.at[0] * HOUR * 0.5 + r.at[1]),
        error_code: r.success ? null : r.error_code,
        error_message: r.success ? null : r.error_message,
        fallback_used: r.fallback !== null,
        fallback_reason: r.fallback?.[0] ?? null,
        fallback_model: r.fallback?.[1] ?? null,
        cost_usd: r.cost === null ? null : (r.cost / 1e10).toFixed(10),
        cost_source: r.cost === null ? 'unpriced' : 'computed',
      }),
  );

// Batches as the writer sees them: each a slice of the events, some re-delivering earlier ones (same ids).
const scenarioArb = fc.array(eventArb, { minLength: 1, maxLength: 40 }).chain((events) =>
  fc.record({
    events: fc.constant(events),
    cuts: fc.uniqueArray(fc.integer({ min: 1, max: events.length }), { maxLength: 4 }),
    redeliver: fc.subarray(events),
    compactBatch: fc.integer({ min: 1, max: 5 }),
  }),
);

async function write(events: AiEvent[]) {
  const result = await writer.write(events);
  expect(result).toMatchObject({ kind: 'success', rejected: 0 });
}

describe('rollups', () => {
  beforeEach(() => reset(db.pool));

  it('equal raw recomputation before, during and after compaction', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async ({ events, cuts, redeliver, compactBatch }) => {
        await reset(db.pool);
        const bounds = [0, ...[...cuts].sort((a, b) => a - b), events.length];
        for (let i = 0; i + 1 < bounds.length; i++) await write(events.slice(bounds[i], bounds[i + 1]));
        await expectExact(db.pool);
        // Compaction in tiny batches, checked half-way through.
        const { rows } = await db.pool.query(compactStatement(compactBatch));
        expect(rows[0].taken).toBeGreaterThan(0);
        await expectExact(db.pool);
        await compactRollups(db.pool, compactBatch);
        await expectExact(db.pool);
        // Re-delivered events are not pending again: they count once.
        await Promise.all([write(redeliver), write(redeliver.slice(0, 3))]);
        expect(await pending(db.pool)).toBe(0);
        await compactRollups(db.pool, compactBatch);
        expect(await pending(db.pool)).toBe(0);
        await expectExact(db.pool);
        // Deleting raw rows (retention) changes no rollup figure.
        const before = await db.pool.query('SELECT * FROM ai_roll_dim_day ORDER BY 1, 2, 3, 4');
        await db.pool.query('DELETE FROM ai_events');
        expect((await db.pool.query('SELECT * FROM ai_roll_dim_day ORDER BY 1, 2, 3, 4')).rows).toEqual(
          before.rows,
        );
      }),
      { numRuns: 12 },
    );
  });

  it('every event counts once after compaction, whatever the batches', async () => {
    const events = fc.sample(eventArb, { numRuns: 80, seed: 7 });
    for (let i = 0; i < events.length; i += 7) await write(events.slice(i, i + 7));
    await compactRollups(db.pool, 2);
    const { rows } = await db.pool.query(
      `SELECT (SELECT sum(calls)::int FROM ai_roll_org_day) AS days, (SELECT sum(calls)::int FROM ai_roll_org_hour) AS hours,
        (SELECT count(*)::int FROM ai_events) AS raw`,
    );
    expect(rows[0]).toEqual({ days: events.length, hours: events.length, raw: events.length });
  });

  it('skipRollupsInTransaction keeps re-inserted rows out of the rollups, for that transaction only', async () => {
    const restored = makeEvent({ created_at: new Date(EDGE - HOUR) });
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await skipRollupsInTransaction(client);
      await createEventWriter(client as unknown as pg.Pool).write([restored]);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    expect(await pending(db.pool)).toBe(0);
    await write([makeEvent({ created_at: new Date(EDGE - HOUR) })]);
    expect(await pending(db.pool)).toBe(1);
  });

  it('a late partition moving rows out of the default partition counts them once', async () => {
    // A month no partition exists for: its rows wait in the default partition until the month's partition is made.
    const at = new Date(Date.UTC(2001, 5, 15, 12));
    await write([makeEvent({ created_at: at }), makeEvent({ created_at: at })]);
    await db.pool.query('SELECT ai_events_ensure_partition($1)', [at]);
    await compactRollups(db.pool);
    await expectExact(db.pool);
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM ai_events_200106');
    expect(rows[0].n).toBe(2);
  });

  const manyStatements = async () => {
    const events = fc.sample(eventArb, { numRuns: 60, seed: 14 });
    for (let i = 0; i < events.length; i += 3) await write(events.slice(i, i + 3));
  };

  it('two compactors at once leave every figure exact', async () => {
    await manyStatements();
    const results = await Promise.all([compactRollups(db.pool, 2), compactRollups(db.pool, 2)]);
    if (results.some((r) => !r.ran)) await compactRollups(db.pool, 2);
    expect(await pending(db.pool)).toBe(0);
    await expectExact(db.pool);
  });

  it('a connection lost mid-compaction loses nothing', async () => {
    await manyStatements();
    const blocker = await db.pool.connect();
    try {
      // Hold a day table so the compaction stops after taking its keys, then cut its connection.
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE ai_roll_org_day IN ACCESS EXCLUSIVE MODE');
      const compaction = compactRollups(db.pool).then(
        () => 'finished',
        (err: Error) => err.message,
      );
      const pid = await until('the compaction waiting on the day table', async () => {
        const { rows } = await db.pool.query(
          "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%DELETE FROM ai_rollup_pending%'",
        );
        return rows[0]?.pid as number | undefined;
      });
      await db.pool.query('SELECT pg_terminate_backend($1)', [pid]);
      expect(await compaction).toMatch(/terminat/);
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
    }
    expect(await pending(db.pool)).toBeGreaterThan(0);
    await expectExact(db.pool);
    await compactRollups(db.pool);
    expect(await pending(db.pool)).toBe(0);
    await expectExact(db.pool);
  });

  it('the backfill rolls up rows stored without the trigger, newest day first, then stops', async () => {
    const events = fc.sample(eventArb, { numRuns: 50, seed: 3 });
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await skipRollupsInTransaction(client);
      await createEventWriter(client as unknown as pg.Pool).write(events);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    await startRollupBackfill(db.pool);
    const days: Date[] = [];
    for (;;) {
      const step = await backfillRollupsStep(db.pool);
      if (!step || step.done) break;
      days.push(step.day!);
    }
    expect(days).toEqual([...days].sort((a, b) => b.getTime() - a.getTime()));
    const state = await db.pool.query("SELECT backfill_before = '-infinity' AS done FROM ai_rollup_state");
    expect(state.rows[0].done).toBe(true);
    await expectExact(db.pool);
    const { rows } = await db.pool.query('SELECT sum(calls)::int AS n FROM ai_roll_org_day');
    expect(rows[0].n).toBe(events.length);
  });
});
