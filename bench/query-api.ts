/**
 * Read paths at scale. Seeds BENCH_QUERY_ROWS events (default 10,000,000) into one org over 30 days, plus 5 % in four
 * noise orgs, into a database kept between runs (`observatory_bench_big`; made anew when missing, of another size,
 * older than BENCH_SEED_MAX_AGE_HOURS, or with BENCH_RESEED=1), then prints one table: every path of
 * `_read-paths.ts` with its p50/p95 through the HTTP app beside its budget; and one more: raw COPY rows/s into a fresh
 * copy of the schema with and without each index migration 0008 adds, and with a lookup table instead of the trace
 * and request btrees (BENCH_COPY_ROWS rows per variant, default 200,000, best of BENCH_COPY_ROUNDS rounds).
 * `BENCH_ONLY=query npm run bench` runs this file alone; BENCH_PATHS=page,trace measures only the paths so named.
 */
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { ensurePartitions } from '@observatory/exporter-postgres';
import type pg from 'pg';
import { pino } from 'pino';
import { createApp } from '../query-api/src/app.ts';
import { createKey } from '../query-api/src/keys/keys.ts';
import {
  BIG_ORG,
  copyLines,
  readSeedMark,
  SEED_COLUMNS,
  SEED_GENERATOR,
  seedBigOrg,
  seedLines,
} from './_big-org.ts';
import { READ_PATHS, type ReadPath, type Samples } from './_read-paths.ts';
import { fmt, type KeptDatabase, keptBenchDatabase, load, percentiles } from './support.ts';

/** Indexes 0008_read_paths.sql, 0016_model_failures.sql and 0045_endpoint_lookup.sql add, grouped as the COPY comparison shows them. */
const INDEX_VARIANTS: [string, string[]][] = [
  ['+ (org_id, trace_id)', ['ai_events_org_trace_idx']],
  ['+ (org_id, request_id)', ['ai_events_org_request_idx']],
  ['+ (org_id, user_id, created_at)', ['ai_events_org_user_time_idx']],
  ['+ (org_id, endpoint, created_at) (0045)', ['ai_events_org_endpoint_time_idx']],
  [
    '+ partial: failures (and by model), error codes, fallbacks, client ids',
    [
      'ai_events_failures_idx',
      'ai_events_model_failures_idx',
      'ai_events_error_code_idx',
      'ai_events_fallbacks_idx',
      'ai_events_foreign_id_idx',
    ],
  ],
];

/**
 * The narrow lookup table issue 14 names as the alternative to the trace and request btrees: one row per event,
 * written beside it, keyed by trace and by request, pointing at the event's primary key.
 */
const LOOKUP_TABLE = `CREATE TABLE copy_lookup (org_id text NOT NULL, trace_id text, request_id text,
  created_at timestamptz NOT NULL, id uuid NOT NULL);
  CREATE INDEX ON copy_lookup (org_id, trace_id); CREATE INDEX ON copy_lookup (org_id, request_id)`;
const LOOKUP_FIELDS = ['org_id', 'trace_id', 'request_id', 'created_at', 'id'].map((c) =>
  SEED_COLUMNS.indexOf(c as (typeof SEED_COLUMNS)[number]),
);

interface CopyVariant {
  label: string;
  indexes: { name: string; def: string }[];
  lookup?: { lines: string[] };
  /** The rollups' insert trigger (0024) on the copy, writing to the real `ai_rollup_pending`. */
  rollupTrigger?: boolean;
}

/** Raw COPY into a fresh copy of `ai_events` holding the variant's indexes (and its lookup table), in rows/s. */
async function copyRate(pool: pg.Pool, variant: CopyVariant, lines: string[], rows: number) {
  await pool.query('DROP TABLE IF EXISTS copy_probe, copy_lookup');
  await pool.query(
    'CREATE TABLE copy_probe (LIKE ai_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE (created_at)',
  );
  await pool.query(
    'CREATE TABLE copy_probe_all PARTITION OF copy_probe FOR VALUES FROM (MINVALUE) TO (MAXVALUE)',
  );
  for (const index of variant.indexes)
    await pool.query(
      index.def.replace(` ${index.name} ON ONLY public.ai_events `, ` probe_${index.name} ON copy_probe `),
    );
  if (variant.lookup) await pool.query(LOOKUP_TABLE);
  if (variant.rollupTrigger)
    await pool.query(`CREATE TRIGGER copy_probe_rollup AFTER INSERT ON copy_probe REFERENCING NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION ai_rollup_capture_keys()`);
  await pool.query('CHECKPOINT');
  const t = performance.now();
  await copyLines(pool, 'copy_probe', lines);
  if (variant.lookup)
    await copyLines(
      pool,
      'copy_lookup',
      variant.lookup.lines,
      LOOKUP_FIELDS.map((i) => SEED_COLUMNS[i]!),
    );
  const rate = rows / ((performance.now() - t) / 1000);
  await pool.query('DROP TABLE IF EXISTS copy_probe, copy_lookup');
  // The seed holds no pending events (it is loaded with the trigger off and backfilled): these are the probe's.
  if (variant.rollupTrigger) await pool.query('TRUNCATE ai_rollup_pending');
  return rate;
}

/** Rounds of the COPY comparison, each variant once per round in turn; the best round counts (least disturbed). */
const COPY_ROUNDS = Number(process.env.BENCH_COPY_ROUNDS ?? 3);

async function copyComparison(pool: pg.Pool, rows: number): Promise<void> {
  if (COPY_ROUNDS < 1) return;
  const { rows: indexes } = await pool.query<{ name: string; def: string }>(
    `SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'ai_events'::regclass`,
  );
  const added = new Set(INDEX_VARIANTS.flatMap(([, names]) => names));
  const base = indexes.filter((i) => !added.has(i.name));
  const lines = [...seedLines({ rows, fromMs: Date.now() - 86_400_000, toMs: Date.now(), seed: 99 })];
  const lookupLines = lines.map((chunk) =>
    chunk
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const cells = line.split('\t');
        return `${LOOKUP_FIELDS.map((i) => cells[i]).join('\t')}\n`;
      })
      .join(''),
  );
  const btrees = new Set(['ai_events_org_trace_idx', 'ai_events_org_request_idx']);
  const variants: CopyVariant[] = [
    { label: `without 0008, 0016 and 0045 (${base.map((i) => i.name).join(', ')})`, indexes: base },
    ...INDEX_VARIANTS.map(([label, names]) => ({
      label,
      indexes: [...base, ...indexes.filter((i) => names.includes(i.name))],
    })),
    { label: 'the whole schema (every 0008, 0016 and 0045 index)', indexes },
    { label: 'the whole schema + the rollup trigger (0024)', indexes, rollupTrigger: true },
    {
      label: 'the schema with a lookup table instead of the trace and request btrees',
      indexes: indexes.filter((i) => !btrees.has(i.name)),
      lookup: { lines: lookupLines },
    },
  ];
  const best = new Map<string, number>();
  for (let round = 0; round < COPY_ROUNDS; round++)
    for (const variant of variants) {
      const rate = await copyRate(pool, variant, lines, Math.round(rows * 1.05));
      best.set(variant.label, Math.max(best.get(variant.label) ?? 0, rate));
    }
  const baseline = best.get(variants[0]!.label)!;
  console.log(
    `raw COPY of ${fmt(rows * 1.05)} rows into a fresh ai_events copy, by index set, best of ${COPY_ROUNDS} rounds (goal ≥ 75,000 rows/s; ${load()}):`,
  );
  console.log('| index set | rows/s | against the schema without them |');
  console.log('| --- | ---: | ---: |');
  for (const { label } of variants) {
    const rate = best.get(label)!;
    console.log(`| ${label} | ${fmt(rate)} | ${(rate / baseline).toFixed(2)} |`);
  }
}

/** The kept database of the big seed; `BENCH_RESEED=1` makes it anew. */
const BENCH_DATABASE = process.env.BENCH_QUERY_DATABASE ?? 'observatory_bench_big';
/** Windows such as `range=24h` end now, so a seed older than this would leave them part empty: it is made anew. */
const SEED_MAX_AGE_HOURS = Number(process.env.BENCH_SEED_MAX_AGE_HOURS ?? 12);
/**
 * Calls per path after one warm-up call; a path stops early once it has taken `PATH_SECONDS` (an aggregate that
 * scans millions of rows would otherwise hold the run for many minutes; it misses its budget on any count).
 */
const CALLS = 20;
const PATH_SECONDS = Number(process.env.BENCH_PATH_SECONDS ?? 20);
/** `BENCH_PATHS=page,trace`: only the paths whose names contain one of these (while working on some of them). */
const PATH_FILTER = process.env.BENCH_PATHS?.split(',').map((p) => p.trim());

/** The kept database holding `rows` big-org events, seeded now if it is missing, stale or of another size. */
async function bigOrgDatabase(rows: number): Promise<KeptDatabase> {
  let db = await keptBenchDatabase(BENCH_DATABASE, { fresh: process.env.BENCH_RESEED === '1' });
  const mark = db.created ? undefined : await readSeedMark(db.pool);
  const ageHours = mark ? (Date.now() - mark.seededAt.getTime()) / 3_600_000 : 0;
  const stale = !mark
    ? 'no finished seed'
    : mark.rows !== rows
      ? `its seed holds ${fmt(mark.rows)} big-org rows`
      : mark.generator !== SEED_GENERATOR
        ? 'its seed came from an older generator'
        : ageHours > SEED_MAX_AGE_HOURS
          ? `its seed is ${ageHours.toFixed(0)} h old`
          : undefined;
  if (stale === undefined) {
    console.log(
      `reusing ${BENCH_DATABASE}: ${fmt(rows)} big-org events seeded ${ageHours.toFixed(1)} h ago${db.newMigrations.length ? `; applied ${db.newMigrations.join(', ')}` : ''}`,
    );
    // New indexes or columns need fresh statistics; the visibility map of the seed is still whole.
    if (db.newMigrations.length) await db.pool.query('ANALYZE ai_events');
    return db;
  }
  if (!db.created) {
    console.log(`${BENCH_DATABASE}: ${stale}; making it anew`);
    await db.close();
    db = await keptBenchDatabase(BENCH_DATABASE, { fresh: true });
  }
  for (const at of [new Date(Date.now() - 31 * 86_400_000), new Date()])
    await ensurePartitions(db.pool, at, 0);
  console.log(
    `seeding ${fmt(rows)} events in ${BIG_ORG} (+5 % in noise orgs) into ${BENCH_DATABASE} (${load()})`,
  );
  const seconds = await seedBigOrg(db.pool, rows);
  console.log(`seeded, indexed and VACUUM ANALYZEd in ${seconds.toFixed(0)} s`);
  return db;
}

/** Rows sampled across the whole month, so each call reads rows no earlier call warmed. */
async function sampleRows(pool: pg.Pool): Promise<Samples> {
  const { rows: events } = await pool.query<Samples['events'][number]>(
    `SELECT id, created_at, trace_id, request_id, user_id FROM ai_events TABLESAMPLE SYSTEM (0.1) REPEATABLE (7)
      WHERE org_id = $1 AND ai_event_id_matches_time(id, created_at) ORDER BY random() LIMIT 40`,
    [BIG_ORG],
  );
  const { rows: clientIds } = await pool.query<{ id: string }>(
    'SELECT id FROM ai_events WHERE org_id = $1 AND NOT ai_event_id_matches_time(id, created_at) LIMIT 40',
    [BIG_ORG],
  );
  return {
    events,
    clientIds: clientIds.map((r) => r.id),
    users: events.flatMap((e) => (e.user_id ? [e.user_id] : [])),
    now: Date.now(),
  };
}

interface PathResult {
  name: string;
  budgetMs: number;
  /** Empty when the path could not be measured; `note` says why. */
  times: number[];
  note?: string;
  load: number;
}

type Get = (url: string) => Response | Promise<Response>;

/** One call's time: the whole response, or until 1,000 CSV rows after the header have arrived. */
async function timeCall(get: Get, path: ReadPath, url: string): Promise<number | string> {
  const t = performance.now();
  const res = await get(url);
  if (res.status !== 200 && res.status !== 404) {
    const body = await res.text();
    // An action this build does not serve yet (another branch adds it): not a failure of the run.
    if (res.status === 400 && /"field":"action"/.test(body)) return 'n/a (action not served)';
    return `error ${res.status}: ${body.slice(0, 120)}`;
  }
  if (path.measure !== 'first-rows') {
    await res.arrayBuffer();
    return performance.now() - t;
  }
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let lines = 0;
  while (lines <= 1000) {
    const { value, done } = await reader.read();
    if (done) break;
    for (const byte of value) if (byte === 10) lines++;
  }
  const elapsed = performance.now() - t;
  await reader.cancel();
  return elapsed;
}

async function measurePath(get: Get, path: ReadPath, samples: Samples): Promise<PathResult> {
  const result: PathResult = { name: path.name, budgetMs: path.budgetMs, times: [], load: loadavg()[0]! };
  const started = performance.now();
  for (let i = 0; i <= CALLS; i++) {
    const time = await timeCall(get, path, path.url(samples, i));
    if (typeof time === 'string') return { ...result, times: [], note: time };
    // The first call warms plans and caches; it is not counted, unless it alone took half the path's time.
    if (i > 0 || time > (PATH_SECONDS * 1000) / 2) result.times.push(time);
    if (result.times.length && performance.now() - started > PATH_SECONDS * 1000) break;
  }
  console.error(`  measured ${path.name}`);
  return result;
}

function printTable(results: PathResult[]): void {
  console.log('| path | p50 ms | p95 ms | budget ms | | calls | load |');
  console.log('| --- | ---: | ---: | ---: | --- | ---: | ---: |');
  for (const r of results) {
    if (!r.times.length) {
      console.log(`| ${r.name} | | | ${r.budgetMs} | ${r.note} | | ${r.load.toFixed(1)} |`);
      continue;
    }
    const { p50, p95 } = percentiles(r.times);
    console.log(
      `| ${r.name} | ${p50.toFixed(1)} | ${p95.toFixed(1)} | ${r.budgetMs} | ${p95 <= r.budgetMs ? 'ok' : 'MISS'} | ${r.times.length} | ${r.load.toFixed(1)} |`,
    );
  }
  const measured = results.filter((r) => r.times.length);
  const missed = measured.filter((r) => percentiles(r.times).p95 > r.budgetMs).map((r) => r.name);
  const unmeasured = results.filter((r) => !r.times.length).map((r) => r.name);
  console.log(
    `${measured.length - missed.length} of ${measured.length} measured paths within budget${missed.length ? `; missed: ${missed.join('; ')}` : ''}${unmeasured.length ? `; not measured: ${unmeasured.join('; ')}` : ''}`,
  );
}

export async function runQueryApiBench(
  rows = Number(process.env.BENCH_QUERY_ROWS ?? 10_000_000),
  copyRows = Number(process.env.BENCH_COPY_ROWS ?? 200_000),
): Promise<void> {
  const db = await bigOrgDatabase(rows);
  try {
    const { rows: settings } = await db.pool.query<{ version: string; shared_buffers: string; size: string }>(
      `SELECT current_setting('server_version') AS version, current_setting('shared_buffers') AS shared_buffers,
              pg_size_pretty(pg_database_size(current_database())) AS size`,
    );
    const app = createApp({ pool: db.pool, logger: pino({ level: 'silent' }) });
    const key = (await createKey(db.pool, { orgId: BIG_ORG, role: 'viewer' })).key;
    const get: Get = (url) => app.request(url, { headers: { authorization: `Bearer ${key}` } });
    const samples = await sampleRows(db.pool);
    console.log(
      `PostgreSQL ${settings[0]!.version}, shared_buffers ${settings[0]!.shared_buffers}, database ${settings[0]!.size}; ` +
        `${CALLS} calls per path after one warm-up (fewer past ${PATH_SECONDS} s), in-process through the HTTP app (${load()})`,
    );
    const results: PathResult[] = [];
    for (const path of READ_PATHS) {
      if (PATH_FILTER && !PATH_FILTER.some((part) => path.name.includes(part))) continue;
      results.push(await measurePath(get, path, samples));
    }
    printTable(results);
    console.log(`(${load()})`);
    await copyComparison(db.pool, copyRows);
  } finally {
    await db.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await runQueryApiBench();
