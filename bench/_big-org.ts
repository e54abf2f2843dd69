/**
 * Synthetic `ai_events` rows for the read-path benchmark, as COPY text made on demand: one big org holding most rows
 * plus a few noise orgs, in time order over the last `days` days, with the shapes the read paths care about: ids in
 * the service's UUIDv7 layout (1 in 1,000 a random UUIDv4, as a client may supply), traces of 1–3 calls sharing a
 * random trace id and request id, 5,000 users (10 % of calls without one), skewed models and endpoints, 20 services and
 * 6 providers, every dimension drawn independently (the worst case for rollups: no combination repeats more than
 * chance makes it), ~4 % failures with three error codes, ~2.5 % fallbacks.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { backfillRollupsStep, ROLLUP_TABLES, startRollupBackfill } from '@observatory/exporter-postgres';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

export const BIG_ORG = 'big-org';

export const SEED_COLUMNS = [
  'id',
  'org_id',
  'user_id',
  'request_id',
  'trace_id',
  'span_id',
  'service_name',
  'endpoint',
  'operation',
  'provider',
  'model_name',
  'input_tokens',
  'output_tokens',
  'latency_ms',
  'cost_usd',
  'cost_source',
  'success',
  'error_code',
  'fallback_used',
  'fallback_model',
  'created_at',
  'received_at',
] as const;

const ENDPOINTS = [
  ...Array(50).fill('/chat'),
  ...Array(25).fill('/search'),
  ...Array(15).fill('/summarize'),
  ...Array(9).fill('/classify'),
  '/admin/reindex',
] as string[];
const ERROR_CODES = ['timeout', 'rate_limited', 'server_error'];
const PROVIDERS = ['openai', 'anthropic', 'azure.ai.openai', 'gcp.vertex_ai', 'aws.bedrock', 'mistral_ai'];

/** mulberry32: a fast seeded PRNG, so every run makes the same rows. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export interface SeedSlice {
  /** Rows of the big org in this slice; noise orgs add `noiseShare` on top. */
  rows: number;
  fromMs: number;
  toMs: number;
  seed: number;
  noiseOrgs?: number;
  noiseShare?: number;
}

/** COPY text lines for one time slice, newest last, in chunks of ~1,000 rows. */
export function* seedLines(slice: SeedSlice): Generator<string> {
  const random = prng(slice.seed);
  const hex = (chars: number) => {
    let out = '';
    while (out.length < chars)
      out += Math.floor(random() * 4_294_967_296)
        .toString(16)
        .padStart(8, '0');
    return out.slice(0, chars);
  };
  const uuid = (h: string) =>
    `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  const noiseOrgs = slice.noiseOrgs ?? 4;
  const noiseShare = slice.noiseShare ?? 0.05;
  const total = Math.round(slice.rows * (1 + noiseShare));
  const step = (slice.toMs - slice.fromMs) / total;
  const receivedAt = new Date().toISOString();
  let trace = '';
  let request = '';
  let left = 0;
  let chunk = '';
  for (let i = 0; i < total; i++) {
    const ms = Math.floor(slice.fromMs + i * step);
    if (left-- <= 0) {
      trace = hex(32);
      request = `req-${hex(16)}`;
      left = Math.floor(random() * 3);
    }
    const org =
      random() < noiseShare / (1 + noiseShare) ? `noise-${Math.floor(random() * noiseOrgs)}` : BIG_ORG;
    const clientId = random() < 0.001;
    const id = clientId
      ? uuid(`${hex(12)}4${hex(3)}${'89ab'[Math.floor(random() * 4)]}${hex(15)}`)
      : uuid(`${ms.toString(16).padStart(12, '0')}7${hex(3)}${'89ab'[Math.floor(random() * 4)]}${hex(15)}`);
    const failed = random() < 0.04;
    const fallback = random() < 0.025;
    const model = `model-${Math.floor(random() * random() * 30)}`;
    const user = random() < 0.1 ? '\\N' : `user-${Math.floor(random() * 5000)}`;
    chunk += `${[
      id,
      org,
      user,
      request,
      trace,
      hex(16),
      `svc-${Math.floor(random() * 20)}`,
      ENDPOINTS[Math.floor(random() * ENDPOINTS.length)],
      'chat',
      PROVIDERS[Math.floor(random() * PROVIDERS.length)],
      model,
      200 + Math.floor(random() * 2000),
      20 + Math.floor(random() * 500),
      (50 + random() * 3000).toFixed(1),
      (random() / 100).toFixed(8),
      'computed',
      failed ? 'f' : 't',
      failed ? ERROR_CODES[Math.floor(random() * 3)] : '\\N',
      fallback ? 't' : 'f',
      fallback ? 'model-0' : '\\N',
      new Date(ms).toISOString(),
      receivedAt,
    ].join('\t')}\n`;
    if (i % 1000 === 999) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

/**
 * COPYs the lines into `table` through one connection; `skipRollups` turns the rollup trigger off for it (the seed
 * builds the rollups in bulk afterwards, as the background backfill does for events stored before the rollups).
 */
export async function copyLines(
  pool: pg.Pool,
  table: string,
  lines: Iterable<string>,
  columns: readonly string[] = SEED_COLUMNS,
  { skipRollups = false } = {},
): Promise<void> {
  const client = await pool.connect();
  try {
    if (skipRollups) await client.query('SET observatory.skip_rollups = on');
    const sink = client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`));
    await pipeline(Readable.from(lines), sink);
  } finally {
    if (skipRollups) await client.query('RESET observatory.skip_rollups').catch(() => undefined);
    client.release();
  }
}

/**
 * Bump when the seed changes what it makes (its rows, or what is derived from them such as rollups), so a kept seed
 * made the old way is made anew. 2: rollups (0014) filled by the insert trigger during the COPY and compacted.
 * 3: narrow rollups (0024) built by the backfill after a COPY without the trigger; services and providers random.
 */
export const SEED_GENERATOR = 3;

/** Rows per COPY statement: slices small enough to spread over the parallel connections. */
const SLICE_ROWS = 500_000;

export interface SeedMark {
  rows: number;
  generator: number;
  seededAt: Date;
}

/** What a kept database was seeded with, or undefined when its seed is missing or did not finish. */
export async function readSeedMark(pool: pg.Pool): Promise<SeedMark | undefined> {
  const { rows } = await pool
    .query<{ rows: string; generator: number; seeded_at: Date }>(
      "SELECT rows, generator, seeded_at FROM bench_seed WHERE to_regclass('bench_seed') IS NOT NULL",
    )
    .catch(() => ({ rows: [] }));
  const row = rows[0];
  return row && { rows: Number(row.rows), generator: row.generator, seededAt: row.seeded_at };
}

/** Secondary indexes of `ai_events` (those not backing a constraint), as the statements that make them again. */
async function secondaryIndexes(pool: pg.Pool): Promise<{ name: string; def: string }[]> {
  const { rows } = await pool.query<{ name: string; def: string }>(
    `SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE i.indrelid = 'ai_events'::regclass
        AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)`,
  );
  // The parent's definition reads `ON ONLY`, which would make an index without its partitions' indexes.
  return rows.map((r) => ({ name: r.name, def: r.def.replace(' ON ONLY ', ' ON ') }));
}

/**
 * COPYs `rows` big-org events (plus noise orgs) over the `days` days before `now` into an empty, migrated database,
 * in time slices COPYed `parallel` at once, with the rollup trigger off. Secondary indexes are dropped for the load
 * and built again after it from their own definitions (many times faster than maintaining them row by row, and
 * whatever indexes later migrations add come back the same).
 */
export async function seedRawEvents(pool: pg.Pool, rows: number, now: number, days = 30, parallel = 2) {
  const span = days * 86_400_000;
  const indexes = await secondaryIndexes(pool);
  for (const index of indexes) await pool.query(`DROP INDEX ${index.name}`);
  // Time slices of at most SLICE_ROWS, each its own COPY, taken in turn by `parallel` connections.
  const slices = Math.max(parallel, Math.ceil(rows / SLICE_ROWS));
  const slice = (k: number) =>
    copyLines(
      pool,
      'ai_events',
      seedLines({
        rows: Math.round(rows / slices),
        fromMs: now - span + (k * span) / slices,
        toMs: now - span + ((k + 1) * span) / slices,
        seed: k + 1,
      }),
      SEED_COLUMNS,
      { skipRollups: true },
    );
  await Promise.all(
    Array.from({ length: parallel }, async (_, lane) => {
      for (let k = lane; k < slices; k += parallel) await slice(k);
    }),
  );
  const client = await pool.connect();
  try {
    await client.query("SET maintenance_work_mem = '512MB'");
    for (const index of indexes) await client.query(index.def);
  } finally {
    client.release();
  }
}

/**
 * Builds the rollups of everything seeded (the background backfill, run to its end), `VACUUM ANALYZE`s and marks the
 * seed done, made at `now`.
 */
export async function finishSeed(pool: pg.Pool, rows: number, now: number): Promise<void> {
  await startRollupBackfill(pool);
  // Null: the service's compactor held the lock for a moment; try again.
  for (;;) if ((await backfillRollupsStep(pool))?.done) break;
  // Autovacuum would have run after a load this size; index-only scans (counts) need its visibility map.
  await pool.query(`VACUUM ANALYZE ai_events, ${ROLLUP_TABLES.map((t) => t.table).join(', ')}`);
  await pool.query(
    'CREATE TABLE bench_seed (rows bigint NOT NULL, generator int NOT NULL, seeded_at timestamptz NOT NULL)',
  );
  await pool.query('INSERT INTO bench_seed VALUES ($1, $2, $3)', [rows, SEED_GENERATOR, new Date(now)]);
}

/** Seeds the big org (`seedRawEvents`, then `finishSeed`); returns the wall time in seconds. */
export async function seedBigOrg(pool: pg.Pool, rows: number, days = 30, parallel = 2): Promise<number> {
  const t = performance.now();
  const now = Date.now();
  await seedRawEvents(pool, rows, now, days, parallel);
  await finishSeed(pool, rows, now);
  return (performance.now() - t) / 1000;
}
