import { backfillRollupsStep, compactRollups, startRollupBackfill } from '@observatory/exporter-postgres';
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeEvent } from '../../exporter-postgres/test/make-event.ts';
import { createTestDatabase } from '../../test-support/database.ts';
import { insertEvents } from '../../test-support/insert-events.ts';
import { createApp } from '../src/app.ts';
import { createKey } from '../src/keys/keys.ts';
import { RELATIVE_ACCURACY } from '../src/query/histogram.ts';

/**
 * Every aggregate answer read from rollups (daily, hourly, pending events) plus raw edges and days the backfill has
 * not reached equals the same answer computed here from raw rows alone, for windows whose ends fall inside hours and
 * days; percentiles within the stated bound.
 */

const db = await createTestDatabase();
const app = createApp({ pool: db.pool, logger: pino({ level: 'silent' }) });
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const now = Date.now();
let key = '';

// Deterministic pseudo-random fields, so a failure reproduces.
let seed = 14;
const rnd = () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed / 2 ** 31;
};
const one = <T>(...values: T[]) => values[Math.floor(rnd() * values.length)]!;

function randomEvent(org: string, at: number) {
  const success = rnd() > 0.2;
  const fallback = rnd() < 0.15;
  const priced = rnd() > 0.1;
  return makeEvent({
    org_id: org,
    created_at: new Date(at),
    model_name: one('gpt-4o', 'gpt-4o-mini', 'claude', 'llama'),
    endpoint: one('/chat', '/search', null),
    service_name: one('api', 'worker', null),
    provider: one('openai', 'anthropic', null),
    user_id: one('u1', 'u2', 'u3', 'u4', null),
    success,
    error_code: success ? null : one('timeout', 'rate_limited', 'unknown'),
    error_message: success ? null : one('upstream timed out', 'slow down', null),
    fallback_used: fallback,
    fallback_reason: fallback ? one('timeout', 'error') : null,
    fallback_model: fallback ? one('gpt-4o-mini', 'llama') : null,
    input_tokens: rnd() < 0.1 ? null : Math.floor(rnd() * 5000),
    output_tokens: rnd() < 0.1 ? null : Math.floor(rnd() * 2000),
    cost_usd: priced ? (Math.floor(rnd() * 1e8) / 1e10).toFixed(10) : null,
    cost_source: priced ? 'computed' : 'unpriced',
    latency_ms: 5 + rnd() * rnd() * 5000,
    ttft_ms: rnd() < 0.5 ? 1 + rnd() * 800 : null,
  });
}

// Two events just outside the window 'beside events in the rest of their hours', in the hours its ends cut.
const BESIDE_START = Math.floor(now / HOUR) * HOUR - 30 * HOUR + 10 * 60_000;
const BESIDE_END = Math.floor(now / HOUR) * HOUR - 5 * HOUR + 50 * 60_000;

// A partial hour or day whose unit holds events outside the window's part that neither its raw rows nor its rollup
// rows show alone: raw rows deleted after they were rolled up, as retention does (the rollups keep their figures),
// sharing the part's hour, or only its day (every other raw row of that day gone); and an event of the part's day
// not rolled up yet (pending), in an hour without a row. Each in an org of its own, yesterday (which the backfill
// below rolls up); each window holds one event.
const YESTERDAY = Math.floor(now / DAY) * DAY - DAY;
const HIDDEN = {
  'hour row, a raw row deleted': {
    org: 'initech',
    kept: YESTERDAY + 10 * HOUR + 40 * 60_000,
    deleted: YESTERDAY + 10 * HOUR + 10 * 60_000,
    pending: undefined,
    window: [YESTERDAY + 10 * HOUR + 30 * 60_000, YESTERDAY + 10 * HOUR + 50 * 60_000],
  },
  'day row, a raw row deleted': {
    org: 'umbrella',
    kept: YESTERDAY + 15 * HOUR + 20 * 60_000,
    deleted: YESTERDAY + 3 * HOUR + 10 * 60_000,
    pending: undefined,
    window: [YESTERDAY + 15 * HOUR, YESTERDAY + 15 * HOUR + 50 * 60_000],
  },
  'day row, an event pending': {
    org: 'hooli',
    kept: YESTERDAY + 15 * HOUR + 20 * 60_000,
    deleted: undefined,
    pending: YESTERDAY + 3 * HOUR + 10 * 60_000,
    window: [YESTERDAY + 15 * HOUR, YESTERDAY + 15 * HOUR + 50 * 60_000],
  },
};

beforeAll(async () => {
  // Four days back to now: most compacted into hourly/daily rows, the newest still deltas.
  const old = Array.from({ length: 900 }, () => randomEvent('acme', now - 4 * DAY + rnd() * 4 * DAY));
  await insertEvents(db.pool, [
    ...old,
    randomEvent('acme', BESIDE_START),
    randomEvent('acme', BESIDE_END),
    ...Object.values(HIDDEN).flatMap(({ org, kept, deleted }) =>
      [kept, deleted].flatMap((at) => (at === undefined ? [] : [randomEvent(org, at)])),
    ),
  ]);
  await compactRollups(db.pool);
  const recent = Array.from({ length: 200 }, () => randomEvent('acme', now - 2 * DAY + rnd() * 2 * DAY));
  await insertEvents(db.pool, [
    ...recent,
    ...Array.from({ length: 50 }, () => randomEvent('globex', now - rnd() * DAY)),
  ]);
  // Events stored before the rollups existed (the trigger off), and the background backfill part way: its two newest
  // days rolled up again from raw rows (pending events there included), every older day read from raw rows.
  await db.pool.query('ALTER TABLE ai_events DISABLE TRIGGER ai_events_rollup_pending');
  await insertEvents(
    db.pool,
    Array.from({ length: 300 }, () => randomEvent('acme', now - 4 * DAY + rnd() * 4 * DAY)),
  );
  await db.pool.query('ALTER TABLE ai_events ENABLE TRIGGER ai_events_rollup_pending');
  await startRollupBackfill(db.pool);
  for (let step = 0; step < 2; step++) expect((await backfillRollupsStep(db.pool))?.done).toBe(false);
  for (const { org, deleted, pending } of Object.values(HIDDEN)) {
    if (deleted !== undefined)
      await db.pool.query('DELETE FROM ai_events WHERE org_id = $1 AND created_at = $2', [
        org,
        new Date(deleted),
      ]);
    if (pending !== undefined) await insertEvents(db.pool, [randomEvent(org, pending)]);
  }
  // Pending events in the days the backfill rolled up (it dropped the pending keys it found there).
  await insertEvents(
    db.pool,
    Array.from({ length: 40 }, () => randomEvent('acme', now - rnd() * 20 * HOUR)),
  );
  key = (await createKey(db.pool, { orgId: 'acme', role: 'viewer' })).key;
});

// biome-ignore lint/suspicious/noExplicitAny: bodies are compared field by field
async function get(path: string): Promise<{ status: number; body: any }> {
  const res = await app.request(path, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, body: await res.json() };
}

const iso = (t: number) => new Date(t).toISOString();
// Ends inside hours and days, one window inside a single hour, one on whole hours. A partial hour (day) is read from
// its hour's (day's) rollup row when the rest of that hour (day) holds no event: of the last three windows, the first
// takes the hour's row at its start and the day's at its end, the second the day's row at both ends, the third
// neither at either end.
const WINDOWS: [string, number, number][] = [
  ['ragged, 3 days', now - 3 * DAY - 17 * 60_000 - 3_000, now - 7 * 60_000],
  ['ragged, 30 hours', now - 30 * HOUR + 123_456, now - 2 * HOUR - 999],
  ['inside one hour', Math.floor(now / HOUR) * HOUR - HOUR + 60_000, Math.floor(now / HOUR) * HOUR - 60_000],
  ['whole hours', Math.floor(now / HOUR) * HOUR - 50 * HOUR, Math.floor(now / HOUR) * HOUR],
  [
    '1 ms into an hour to past the newest event',
    Math.floor(now / HOUR) * HOUR - 26 * HOUR + 1,
    now + 30 * 60_000,
  ],
  ['1 ms into a day to past the newest event', Math.floor(now / DAY) * DAY - DAY + 1, now + 30 * 60_000],
  ['beside events in the rest of their hours', BESIDE_START + 1, BESIDE_END],
];
const q = (from: number, to: number) => `date_from=${iso(from)}&date_to=${iso(to)}`;

async function raw(sql: string, from: number, to: number, extra: unknown[] = []) {
  return (
    await db.pool.query(
      sql.replaceAll('IN_WINDOW', "org_id = 'acme' AND created_at >= $1 AND created_at < $2"),
      [new Date(from), new Date(to), ...extra],
    )
  ).rows;
}

const expectWithinBound = (actual: number | null, exact: number | null) => {
  if (exact === null) expect(actual).toBeNull();
  else expect(Math.abs(actual! - exact)).toBeLessThanOrEqual(RELATIVE_ACCURACY * exact + 1e-9);
};
const sameDecimal = async (a: string, b: string) =>
  expect((await db.pool.query('SELECT $1::numeric = $2::numeric AS eq', [a, b])).rows[0].eq).toBe(true);

describe.each(WINDOWS)('%s', (_name, from, to) => {
  it('overview equals raw recomputation', async () => {
    const { status, body } = await get(`/api/telemetry?action=overview&${q(from, to)}`);
    expect(status).toBe(200);
    const [r] = await raw(
      `SELECT count(*)::int AS requests, count(*) FILTER (WHERE NOT success)::int AS errors,
        count(*) FILTER (WHERE fallback_used)::int AS fallbacks, coalesce(sum(cost_usd), 0)::text AS cost_usd,
        count(*) FILTER (WHERE cost_source = 'unpriced')::int AS unpriced_calls,
        coalesce(sum(input_tokens), 0)::int AS input_tokens, coalesce(sum(output_tokens), 0)::int AS output_tokens,
        percentile_cont(ARRAY[0.5, 0.9, 0.95, 0.99]) WITHIN GROUP (ORDER BY latency_ms) AS latency,
        percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY ttft_ms) AS ttft
      FROM ai_events WHERE IN_WINDOW`,
      from,
      to,
    );
    expect(r.requests).toBeGreaterThan(0);
    const { latency, ttft, cost_usd, ...sums } = r;
    expect(body).toMatchObject(sums);
    await sameDecimal(body.cost_usd, cost_usd);
    for (const [i, p] of ['p50', 'p90', 'p95', 'p99'].entries())
      expectWithinBound(body.latency_ms[p], latency[i]);
    for (const [i, p] of ['p50', 'p95'].entries()) expectWithinBound(body.ttft_ms[p], ttft?.[i] ?? null);
  });

  it('models equal raw recomputation', async () => {
    const { body } = await get(`/api/telemetry?action=models&${q(from, to)}`);
    const rows = await raw(
      `SELECT model_name, count(*)::int AS calls, coalesce(sum(input_tokens), 0)::int AS input_tokens,
        coalesce(sum(cost_usd), 0)::text AS cost_usd, count(*) FILTER (WHERE cost_source = 'unpriced')::int AS unpriced_calls,
        count(*) FILTER (WHERE NOT success)::float8 / count(*) AS error_rate,
        percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95
      FROM ai_events WHERE IN_WINDOW GROUP BY 1 ORDER BY calls DESC, model_name`,
      from,
      to,
    );
    expect(body.items.map((m: { model_name: string }) => m.model_name).sort()).toEqual(
      rows.map((r) => r.model_name).sort(),
    );
    for (const r of rows) {
      const m = body.items.find((i: { model_name: string }) => i.model_name === r.model_name);
      expect(m).toMatchObject({
        calls: r.calls,
        input_tokens: r.input_tokens,
        unpriced_calls: r.unpriced_calls,
      });
      expect(m.error_rate).toBeCloseTo(r.error_rate, 12);
      await sameDecimal(m.cost_usd, r.cost_usd);
      expectWithinBound(m.p95_latency_ms, r.p95);
    }
  });

  it('errors and fallbacks equal raw recomputation', async () => {
    const errors = (await get(`/api/telemetry?action=errors&${q(from, to)}`)).body.items;
    const expected = await raw(
      `WITH failed AS (SELECT * FROM ai_events WHERE IN_WINDOW AND NOT success)
      SELECT coalesce(error_code, 'unknown') AS error_code, count(*)::int AS count,
        count(*)::float8 / (SELECT count(*) FROM failed) AS share, min(created_at) AS first_seen,
        max(created_at) AS last_seen, array_agg(DISTINCT model_name ORDER BY model_name) AS models
      FROM failed GROUP BY 1 ORDER BY count DESC, error_code`,
      from,
      to,
    );
    expect(
      errors.map((e: Record<string, unknown>) => ({ ...e, example_message: undefined, share: undefined })),
    ).toEqual(
      expected.map((e) => ({
        ...e,
        first_seen: e.first_seen.toISOString(),
        last_seen: e.last_seen.toISOString(),
        example_message: undefined,
        share: undefined,
      })),
    );
    for (const [i, e] of (errors as { share: number }[]).entries())
      expect(e.share).toBeCloseTo(expected[i]!.share, 12);

    const fallbacks = (await get(`/api/telemetry?action=fallbacks&${q(from, to)}`)).body.items;
    const expectedFallbacks = await raw(
      `WITH calls AS (SELECT model_name, count(*) AS calls FROM ai_events WHERE IN_WINDOW GROUP BY 1)
      SELECT e.model_name AS primary_model, e.fallback_model, e.fallback_reason, count(*)::int AS count,
        count(*)::float8 / max(calls.calls) AS rate
      FROM ai_events e JOIN calls USING (model_name)
      WHERE e.org_id = 'acme' AND e.created_at >= $1 AND e.created_at < $2 AND e.fallback_used
      GROUP BY 1, 2, 3 ORDER BY count DESC, primary_model, fallback_model, fallback_reason`,
      from,
      to,
    );
    expect(fallbacks).toEqual(expectedFallbacks);
  });

  it('1h and 1d series equal raw recomputation, with empty buckets as zeros', async () => {
    for (const [interval, unit, step] of [
      ['1h', 'hour', HOUR],
      ['1d', 'day', DAY],
    ] as const) {
      const { status, body } = await get(`/api/telemetry?action=series&interval=${interval}&${q(from, to)}`);
      expect(status).toBe(200);
      const rows = await raw(
        `SELECT date_trunc('${unit}', created_at, 'UTC') AS bucket, count(*)::int AS requests,
          count(*) FILTER (WHERE NOT success)::int AS errors, coalesce(sum(cost_usd), 0)::text AS cost_usd,
          percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95
        FROM ai_events WHERE IN_WINDOW GROUP BY 1`,
        from,
        to,
      );
      const first = Math.floor(from / step) * step;
      expect(body.items).toHaveLength(Math.ceil((to - first) / step));
      expect(body.items[0].bucket).toBe(iso(first));
      for (const point of body.items) {
        const r = rows.find((x) => x.bucket.toISOString() === point.bucket);
        expect(point.requests).toBe(r?.requests ?? 0);
        expect(point.errors).toBe(r?.errors ?? 0);
        await sameDecimal(point.cost_usd, r?.cost_usd ?? '0');
        expectWithinBound(point.p95_latency_ms, r?.p95 ?? null);
      }
    }
  });

  it('breakdowns equal raw recomputation; others and totals add up', async () => {
    for (const by of ['model_name', 'endpoint', 'service_name', 'provider', 'user_id']) {
      const { status, body } = await get(`/api/telemetry?action=breakdown&by=${by}&limit=2&${q(from, to)}`);
      expect(status).toBe(200);
      const rows = await raw(
        `SELECT ${by} AS g, count(*)::int AS calls, count(*) FILTER (WHERE NOT success)::int AS errors,
          coalesce(sum(cost_usd), 0) AS cost, count(*) FILTER (WHERE cost_source = 'unpriced')::int AS unpriced_calls,
          percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95
        FROM ai_events WHERE IN_WINDOW ${by === 'user_id' ? 'AND user_id IS NOT NULL' : ''}
        GROUP BY 1 ORDER BY cost DESC, calls DESC, coalesce(${by}, '')`,
        from,
        to,
      );
      const top = rows.slice(0, 2);
      expect(
        body.items.map((i: Record<string, unknown>) => [i[by], i.calls, i.errors, i.unpriced_calls]),
      ).toEqual(top.map((r) => [r.g, r.calls, r.errors, r.unpriced_calls]));
      for (const [i, r] of top.entries()) {
        await sameDecimal(body.items[i].cost_usd, r.cost);
        expectWithinBound(body.items[i].p95_latency_ms, r.p95);
      }
      const rest = rows.slice(2);
      expect(body.others.groups).toBe(rest.length);
      expect(body.others.calls).toBe(rest.reduce((s, r) => s + r.calls, 0));
      const [all] = await raw('SELECT count(*)::int AS calls FROM ai_events WHERE IN_WINDOW', from, to);
      expect(body.totals.calls).toBe(all.calls);
      if (by !== 'user_id')
        expect(body.totals.calls).toBe(body.others.calls + top.reduce((s, r) => s + r.calls, 0));
    }
  });
});

describe('a partial hour or day holding events its raw rows or its rollups alone do not show', () => {
  it.each(Object.entries(HIDDEN))('is not read from its %s', async (_unit, { org, window }) => {
    const orgKey = (await createKey(db.pool, { orgId: org, role: 'viewer' })).key;
    const res = await app.request(`/api/telemetry?action=overview&${q(window[0]!, window[1]!)}`, {
      headers: { authorization: `Bearer ${orgKey}` },
    });
    expect(((await res.json()) as { requests: number }).requests).toBe(1);
  });
});

describe('series and breakdown input', () => {
  it('refuses a bad interval, a bad or missing dimension, too many points and too long a window', async () => {
    const problem = async (path: string, field: string) => {
      const { status, body } = await get(path);
      expect(status).toBe(400);
      expect(body.errors.map((e: { field: string }) => e.field)).toContain(field);
    };
    await problem('/api/telemetry?action=series&interval=2h', 'interval');
    await problem('/api/telemetry?action=series&interval=1m&range=7d', 'interval');
    await problem('/api/telemetry?action=breakdown', 'by');
    await problem('/api/telemetry?action=breakdown&by=trace_id', 'by');
    await problem('/api/telemetry?action=breakdown&by=model_name&limit=101', 'limit');
    await problem(`/api/telemetry?action=overview&${q(now - 401 * DAY, now)}`, 'date_from');
  });

  it('serves 1m and 5m series from raw rows with exact percentiles, and filters by model', async () => {
    const from = now - 3 * HOUR;
    const { body } = await get(`/api/telemetry?action=series&interval=5m&model_name=gpt-4o&${q(from, now)}`);
    expect(body.items).toHaveLength(Math.ceil(now / 300_000) - Math.floor(from / 300_000));
    const [r] = await raw(
      "SELECT count(*)::int AS n FROM ai_events WHERE IN_WINDOW AND model_name = 'gpt-4o'",
      from,
      now,
    );
    expect(body.items.reduce((s: number, p: { requests: number }) => s + p.requests, 0)).toBe(r.n);
  });
});
