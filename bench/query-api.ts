/**
 * Read paths at scale: seeds BENCH_QUERY_ROWS events (default 10,000,000) into one org over 30 days, plus 5 % in four
 * noise orgs, by COPY from a generator; VACUUM ANALYZE; then prints each read path's p50/p95 through the HTTP API
 * beside its budget, and raw COPY rows/s into the schema with and without each index migration 0008 adds
 * (BENCH_COPY_ROWS rows per variant, default 500,000). `BENCH_ONLY=query npm run bench` runs this file alone.
 */
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { compactRollups, ensurePartitions } from '@observatory/exporter-postgres';
import type pg from 'pg';
import { pino } from 'pino';
import { createApp } from '../query-api/src/app.ts';
import { createKey } from '../query-api/src/keys/keys.ts';
import { encodeCursor } from '../query-api/src/query/events-sql.ts';
import { BIG_ORG, copyLines, seedBigOrg, seedLines } from './_big-org.ts';
import { benchDatabase, fmt } from './support.ts';

const load = () =>
  `load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`;

function percentiles(samples: number[]): { p50: number; p95: number } {
  const s = [...samples].sort((a, b) => a - b);
  return { p50: s[Math.floor(0.5 * (s.length - 1))]!, p95: s[Math.floor(0.95 * (s.length - 1))]! };
}

/** Aggregates, series and breakdowns on the rollups (0014), each within 300 ms. */
const ROLLUP_READ_PATHS: { name: string; path: string }[] = [
  ...(['24h', '7d', '30d'] as const).flatMap((range) =>
    (['1h', '1d'] as const).map((interval) => ({
      name: `series ${range} × ${interval}`,
      path: `/api/telemetry?action=series&range=${range}&interval=${interval}`,
    })),
  ),
  {
    name: 'series 30d × 1d, one model',
    path: '/api/telemetry?action=series&range=30d&interval=1d&model_name=model-3',
  },
  { name: 'breakdown by model 30d', path: '/api/telemetry?action=breakdown&by=model_name&range=30d' },
  { name: 'breakdown by user 30d', path: '/api/telemetry?action=breakdown&by=user_id&range=30d' },
  { name: 'breakdown by endpoint 7d', path: '/api/telemetry?action=breakdown&by=endpoint&range=7d' },
  { name: 'overview 30d', path: '/api/telemetry?action=overview&range=30d' },
  { name: 'fallbacks 30d', path: '/api/telemetry?action=fallbacks&range=30d' },
];

/** Indexes 0008_read_paths.sql adds, grouped as the COPY comparison shows them. */
const INDEX_VARIANTS: [string, string[]][] = [
  ['+ (org_id, trace_id)', ['ai_events_org_trace_idx']],
  ['+ (org_id, request_id)', ['ai_events_org_request_idx']],
  ['+ (org_id, user_id, created_at)', ['ai_events_org_user_time_idx']],
  [
    '+ partial: failures, error codes, fallbacks, client ids',
    [
      'ai_events_failures_idx',
      'ai_events_error_code_idx',
      'ai_events_fallbacks_idx',
      'ai_events_foreign_id_idx',
    ],
  ],
];

/** Raw COPY into a fresh copy of `ai_events` holding the given indexes of the migrated table, in rows/s. */
async function copyRate(
  pool: pg.Pool,
  indexes: { name: string; def: string }[],
  lines: string[],
  rows: number,
) {
  await pool.query('DROP TABLE IF EXISTS copy_probe');
  await pool.query(
    'CREATE TABLE copy_probe (LIKE ai_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE (created_at)',
  );
  await pool.query(
    'CREATE TABLE copy_probe_all PARTITION OF copy_probe FOR VALUES FROM (MINVALUE) TO (MAXVALUE)',
  );
  for (const index of indexes)
    await pool.query(
      index.def.replace(` ${index.name} ON ONLY public.ai_events `, ` probe_${index.name} ON copy_probe `),
    );
  await pool.query('CHECKPOINT');
  const t = performance.now();
  await copyLines(pool, 'copy_probe', lines);
  const rate = rows / ((performance.now() - t) / 1000);
  await pool.query('DROP TABLE copy_probe');
  return rate;
}

async function copyComparison(pool: pg.Pool, rows: number): Promise<void> {
  const { rows: indexes } = await pool.query<{ name: string; def: string }>(
    `SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'ai_events'::regclass`,
  );
  const added = new Set(INDEX_VARIANTS.flatMap(([, names]) => names));
  const base = indexes.filter((i) => !added.has(i.name));
  const lines = [...seedLines({ rows, fromMs: Date.now() - 86_400_000, toMs: Date.now(), seed: 99 })];
  const variants: [string, typeof indexes][] = [
    [`without 0008 (${base.map((i) => i.name).join(', ')})`, base],
    ...INDEX_VARIANTS.map(
      ([label, names]) =>
        [label, [...base, ...indexes.filter((i) => names.includes(i.name))]] as [string, typeof indexes],
    ),
    ['the whole schema (with every 0008 index)', indexes],
  ];
  console.log(
    `raw COPY of ${fmt(rows)} rows into a fresh ai_events copy, by index set (goal ≥ 75,000 rows/s):`,
  );
  for (const [label, set] of variants) {
    const rate = await copyRate(pool, set, lines, Math.round(rows * 1.05));
    console.log(`  ${label.padEnd(58)} ${fmt(rate).padStart(8)} rows/s   (${load()})`);
  }
}

export async function runQueryApiBench(
  rows = Number(process.env.BENCH_QUERY_ROWS ?? 10_000_000),
  copyRows = Number(process.env.BENCH_COPY_ROWS ?? 500_000),
): Promise<void> {
  const db = await benchDatabase('query');
  try {
    for (const at of [new Date(Date.now() - 31 * 86_400_000), new Date()])
      await ensurePartitions(db.pool, at, 0);
    console.log(`seeding ${fmt(rows)} events in ${BIG_ORG} (+5 % in noise orgs) (${load()})`);
    const seconds = await seedBigOrg(db.pool, rows);
    console.log(
      `seeded in ${seconds.toFixed(0)} s (${fmt((rows * 1.05) / seconds)} rows/s with every index)`,
    );
    let t = performance.now();
    // Autovacuum would have run after a load this size; index-only scans (counts) need its visibility map.
    await db.pool.query('VACUUM ANALYZE ai_events');
    console.log(`VACUUM ANALYZE in ${((performance.now() - t) / 1000).toFixed(0)} s`);
    t = performance.now();
    // What the service's compactor would have done while the events arrived.
    await compactRollups(db.pool);
    await db.pool.query(
      'VACUUM ANALYZE ai_rollup_hour, ai_rollup_day, ai_rollup_user_hour, ai_rollup_user_day',
    );
    console.log(`rollups compacted in ${((performance.now() - t) / 1000).toFixed(0)} s`);

    const app = createApp({ pool: db.pool, logger: pino({ level: 'silent' }) });
    const key = (await createKey(db.pool, { orgId: BIG_ORG, role: 'viewer' })).key;
    const get = async (path: string) => {
      const res = await app.request(path, { headers: { authorization: `Bearer ${key}` } });
      if (res.status !== 200 && res.status !== 404)
        throw new Error(`${path}: ${res.status} ${await res.text()}`);
      return res;
    };
    // Different rows for each call, spread over the whole month, so no answer is served from a warm page alone.
    const { rows: samples } = await db.pool.query<{
      id: string;
      created_at: Date;
      trace_id: string;
      request_id: string;
      user_id: string | null;
    }>(
      `SELECT id, created_at, trace_id, request_id, user_id FROM ai_events TABLESAMPLE SYSTEM (0.05)
        WHERE org_id = $1 AND ai_event_id_matches_time(id, created_at) LIMIT 30`,
      [BIG_ORG],
    );
    const { rows: clientIds } = await db.pool.query<{ id: string }>(
      'SELECT id FROM ai_events WHERE org_id = $1 AND NOT ai_event_id_matches_time(id, created_at) LIMIT 30',
      [BIG_ORG],
    );
    const pick = <T>(list: T[], i: number) => list[i % list.length]!;
    const users = samples.flatMap((s) => (s.user_id ? [s.user_id] : []));
    const missingId = () => {
      const hex = Date.now().toString(16).padStart(12, '0');
      return `${hex.slice(0, 8)}-${hex.slice(8)}-7000-8000-000000000000`;
    };
    const page = '/api/telemetry/events?limit=100';
    const cases: [string, (i: number) => string, number][] = [
      ['newest page', () => page, 50],
      ['filtered: model (common)', () => `${page}&model_name=model-3`, 50],
      ['filtered: model (rare)', () => `${page}&model_name=model-29`, 50],
      ['filtered: success=false', () => `${page}&success=false`, 50],
      ['filtered: fallback_used=true', () => `${page}&fallback_used=true`, 50],
      ['filtered: endpoint (25 %)', () => `${page}&endpoint=%2Fsearch`, 50],
      ['filtered: endpoint (1 %)', () => `${page}&endpoint=%2Fadmin%2Freindex`, 50],
      ['filtered: error_code', () => `${page}&error_code=rate_limited`, 50],
      ['filtered: user_id', (i) => `${page}&user_id=${pick(users, i)}`, 50],
      [
        'filtered: model + success=false + 7 d',
        () =>
          `${page}&model_name=model-3&success=false&date_from=${new Date(Date.now() - 7 * 86_400_000).toISOString()}`,
        50,
      ],
      [
        'deep page by cursor (anywhere in 30 d)',
        (i) => `${page}&cursor=${encodeCursor(pick(samples, i))}`,
        50,
      ],
      ['page at the offset cap (offset=10000)', () => `${page}&offset=10000`, 50],
      ['drift 24h (stored PSI)', () => '/api/telemetry?action=drift&range=24h', 300],
      ['event by id', (i) => `/api/telemetry/events/${pick(samples, i).id}`, 50],
      ['event by id a client supplied', (i) => `/api/telemetry/events/${pick(clientIds, i).id}`, 50],
      ['event by id: not found (404)', () => `/api/telemetry/events/${missingId()}`, 50],
      [
        'trace_id, no dates',
        (i) => `/api/telemetry/events?limit=1000&trace_id=${pick(samples, i).trace_id}`,
        50,
      ],
      [
        'request_id, no dates',
        (i) => `/api/telemetry/events?limit=1000&request_id=${pick(samples, i).request_id}`,
        50,
      ],
      // Traces and sessions read ai_events and ai_spans together (issue 18): a window's rows grouped by trace.
      ['traces: newest 50 of 24 h', () => '/api/telemetry/traces', 500],
      [
        'traces: newest 50 of 1 h',
        () => `/api/telemetry/traces?date_from=${new Date(Date.now() - 3_600_000).toISOString()}`,
        100,
      ],
      ["traces: one trace's tree", (i) => `/api/telemetry/traces/${pick(samples, i).trace_id}`, 50],
      ['sessions: newest 50 of 24 h', () => '/api/telemetry/sessions', 100],
      ...ROLLUP_READ_PATHS.map(({ name, path }): [string, () => string, number] => [name, () => path, 300]),
    ];
    console.log(`p95 of 20 calls each through the HTTP API (${load()})`);
    const over: string[] = [];
    const report = (name: string, samples: number[], budget: number) => {
      const { p50, p95 } = percentiles(samples);
      if (p95 > budget) over.push(name);
      console.log(
        `  ${name.padEnd(42)} p50 ${p50.toFixed(1).padStart(7)} ms   p95 ${p95.toFixed(1).padStart(7)} ms   budget ${String(budget).padStart(4)} ms ${p95 <= budget ? 'ok' : 'OVER'}`,
      );
    };
    for (const [name, path, budget] of cases) {
      await (await get(path(0))).arrayBuffer();
      const times: number[] = [];
      for (let i = 0; i < 20; i++) {
        const url = path(i + 1);
        t = performance.now();
        await (await get(url)).arrayBuffer();
        times.push(performance.now() - t);
      }
      report(name, times, budget);
    }
    const firstRows: number[] = [];
    for (let i = 0; i < 10; i++) {
      t = performance.now();
      const res = await get('/api/telemetry/events/stream?limit=100000');
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      let lines = 0;
      while (lines <= 1000) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const byte of value) if (byte === 10) lines++;
      }
      firstRows.push(performance.now() - t);
      await reader.cancel();
    }
    report('CSV: time to the first 1,000 rows', firstRows, 300);
    console.log(over.length ? `over budget: ${over.join('; ')}` : 'every read path within its budget');
    await copyComparison(db.pool, copyRows);
  } finally {
    await db.drop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await runQueryApiBench();
