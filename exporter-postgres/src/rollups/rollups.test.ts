import fc from 'fast-check';
import type pg from 'pg';
import { beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import { until } from '../../../test-support/until.ts';
import { makeEvent } from '../../test/make-event.ts';
import type { AiEvent } from '../event.ts';
import { createEventWriter } from '../pipeline/writer.ts';
import { compactRollups, compactStatement } from './compact.ts';
import { skipRollupsInTransaction } from './skip.ts';
import { MAIN_ROLLUP, ROLLUP_FAMILIES, ROLLUP_TABLES, type RollupFamily, USER_ROLLUP } from './tables.ts';

/**
 * The rollups against raw recomputation: random events through the real writer, in random batches with re-delivered
 * duplicates, late events and times on hour and day edges; every figure of every hourly and daily bucket must equal
 * the same figure computed from `ai_events`, before compaction (deltas), part way through, and after.
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

const dims = (f: RollupFamily) =>
  f === MAIN_ROLLUP
    ? "model_name, coalesce(endpoint, '') AS endpoint, coalesce(service_name, '') AS service_name, coalesce(provider, '') AS provider"
    : 'user_id';

/** Every bucket's figures recomputed from raw rows, one JSON text per bucket, sorted. */
async function fromRaw(pool: pg.Pool, f: RollupFamily, grain: 'hour' | 'day'): Promise<string[]> {
  const maps =
    f === MAIN_ROLLUP
      ? `, (SELECT coalesce(jsonb_object_agg(c, n), '{}') FROM (SELECT coalesce(error_code, 'unknown') c, count(*) n FROM unnest(array_agg(error_code) FILTER (WHERE NOT success)) AS error_code GROUP BY 1) x) AS errors_by_code,
         (SELECT coalesce(jsonb_object_agg(c, n), '{}') FROM (SELECT c, count(*) n FROM unnest(array_agg(jsonb_build_array(fallback_reason, fallback_model)::text) FILTER (WHERE fallback_used)) AS c GROUP BY 1) x) AS fallbacks_by`
      : '';
  const { rows } = await pool.query(`
    SELECT org_id, date_trunc('${grain}', created_at, 'UTC') AS bucket, ${dims(f)},
      count(*)::text AS calls, count(*) FILTER (WHERE NOT success)::text AS errors,
      count(*) FILTER (WHERE fallback_used)::text AS fallbacks,
      coalesce(sum(input_tokens), 0)::text AS input_tokens, coalesce(sum(output_tokens), 0)::text AS output_tokens,
      coalesce(sum(cached_input_tokens), 0)::text AS cached_input_tokens,
      coalesce(sum(reasoning_tokens), 0)::text AS reasoning_tokens,
      trim_scale(coalesce(sum(cost_usd), 0))::text AS cost_usd,
      count(*) FILTER (WHERE cost_source = 'unpriced')::text AS unpriced_calls, count(ttft_ms)::text AS ttft_calls,
      (SELECT coalesce(jsonb_object_agg(i, n), '{}') FROM (SELECT obs_hist_index(l) i, count(*) n FROM unnest(array_agg(latency_ms)) l GROUP BY 1) x) AS latency_hist,
      (SELECT coalesce(jsonb_object_agg(i, n), '{}') FROM (SELECT obs_hist_index(l) i, count(*) n FROM unnest(array_agg(ttft_ms)) l WHERE l IS NOT NULL GROUP BY 1) x) AS ttft_hist
      ${maps}
    FROM ai_events ${f === USER_ROLLUP ? 'WHERE user_id IS NOT NULL' : ''}
    GROUP BY 1, 2, 3${f === MAIN_ROLLUP ? ', 4, 5, 6' : ''}`);
  return rows.map((r) => JSON.stringify(r)).sort();
}

/** The same figures from the rollups: the grain's table plus the deltas not compacted yet. */
async function fromRollups(pool: pg.Pool, f: RollupFamily, grain: 'hour' | 'day'): Promise<string[]> {
  const key = ['org_id', 'bucket', ...f.dimensions].join(', ');
  const { rows } = await pool.query(`
    SELECT org_id, date_trunc('${grain}', bucket, 'UTC') AS bucket, ${f.dimensions.join(', ')},
      sum(calls)::text AS calls, sum(errors)::text AS errors, sum(fallbacks)::text AS fallbacks,
      sum(input_tokens)::text AS input_tokens, sum(output_tokens)::text AS output_tokens,
      sum(cached_input_tokens)::text AS cached_input_tokens, sum(reasoning_tokens)::text AS reasoning_tokens,
      trim_scale(sum(cost_usd))::text AS cost_usd, sum(unpriced_calls)::text AS unpriced_calls,
      sum(ttft_calls)::text AS ttft_calls,
      ${f.maps.map((m) => `obs_counts_merge(array_agg(${m})) AS ${m}`).join(', ')}
    FROM (SELECT * FROM ${grain === 'hour' ? f.hour : f.day} UNION ALL SELECT * FROM ${f.delta}) r
    GROUP BY ${key.replace('bucket', `date_trunc('${grain}', bucket, 'UTC')`)}`);
  return rows.map((r) => JSON.stringify(r)).sort();
}

async function expectExact(pool: pg.Pool) {
  for (const f of ROLLUP_FAMILIES)
    for (const grain of ['hour', 'day'] as const)
      expect(await fromRollups(pool, f, grain), `${f.name} by ${grain}`).toEqual(
        await fromRaw(pool, f, grain),
      );
}

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
        await Promise.all([write(redeliver), write(redeliver.slice(0, 3))]);
        await expectExact(db.pool);
        // Compaction in tiny batches, checked half-way through: reads are exact at any moment.
        const { rows } = await db.pool.query(compactStatement(MAIN_ROLLUP, compactBatch));
        expect(rows[0].moved).toBeGreaterThan(0);
        await expectExact(db.pool);
        await compactRollups(db.pool, compactBatch);
        const left = await db.pool.query('SELECT count(*)::int AS n FROM ai_rollup_delta');
        expect(left.rows[0].n).toBe(0);
        await expectExact(db.pool);
        // Deleting raw rows (retention) changes no rollup figure.
        const before = await fromRollups(db.pool, MAIN_ROLLUP, 'day');
        await db.pool.query('DELETE FROM ai_events');
        expect(await fromRollups(db.pool, MAIN_ROLLUP, 'day')).toEqual(before);
      }),
      { numRuns: 12 },
    );
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
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM ai_rollup_delta');
    expect(rows[0].n).toBe(0);
    await write([makeEvent({ created_at: new Date(EDGE - HOUR) })]);
    const after = await db.pool.query('SELECT sum(calls)::int AS n FROM ai_rollup_delta');
    expect(after.rows[0].n).toBe(1);
  });

  it('a late partition moving rows out of the default partition counts them once', async () => {
    // A month no partition exists for: its rows wait in the default partition until the month's partition is made.
    const at = new Date(Date.UTC(2001, 5, 15, 12));
    await write([makeEvent({ created_at: at }), makeEvent({ created_at: at })]);
    await db.pool.query('SELECT ai_events_ensure_partition($1)', [at]);
    await expectExact(db.pool);
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM ai_events_200106');
    expect(rows[0].n).toBe(2);
  });

  const manyStatements = async () => {
    const events = fc.sample(eventArb, { numRuns: 60, seed: 14 });
    for (let i = 0; i < events.length; i += 3) await write(events.slice(i, i + 3));
  };

  it('two compactors at once never count a delta twice', async () => {
    await manyStatements();
    const results = await Promise.all([compactRollups(db.pool, 2), compactRollups(db.pool, 2)]);
    if (results.some((r) => !r.ran)) await compactRollups(db.pool, 2);
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM ai_rollup_delta');
    expect(rows[0].n).toBe(0);
    await expectExact(db.pool);
  });

  it('a connection lost mid-compaction loses nothing and counts nothing twice', async () => {
    await manyStatements();
    const blocker = await db.pool.connect();
    try {
      // Hold the daily table so the compaction stops after its DELETE of deltas, then cut its connection.
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE ai_rollup_day IN ACCESS EXCLUSIVE MODE');
      const compaction = compactRollups(db.pool).then(
        () => 'finished',
        (err: Error) => err.message,
      );
      const pid = await until('the compaction waiting on the daily table', async () => {
        const { rows } = await db.pool.query(
          "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%DELETE FROM ai_rollup_delta%'",
        );
        return rows[0]?.pid as number | undefined;
      });
      await db.pool.query('SELECT pg_terminate_backend($1)', [pid]);
      expect(await compaction).toMatch(/terminat/);
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
    }
    await expectExact(db.pool);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM ai_rollup_delta')).rows[0].n).toBeGreaterThan(
      0,
    );
    await compactRollups(db.pool);
    await expectExact(db.pool);
  });
});
