/**
 * Archive benchmark: seeds a month of events for one org into a scratch database, then archives that month to
 * Parquet with `archiveEvents` (cursor → CSV spool → DuckDB → Parquet parts → read back and verified) and reports
 * rows/s and peak RSS (DuckDB's native memory included). The baseline, measured in the same run, is PostgreSQL's own
 * `COPY (SELECT …) TO STDOUT (FORMAT csv)` of the same rows into a file: the ratio shows what typing, compressing
 * and verifying cost on top of reading the rows out at all. A restore of the month into the emptied table follows.
 *
 * Runs alone: `node --conditions=@observatory/source --import tsx bench/archive.ts`. Rows: BENCH_ARCHIVE_ROWS
 * (default 1000000; the month is 10000000, which takes several minutes and a few GB of temporary disk).
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { AI_EVENT_COLUMNS } from '@observatory/exporter-postgres';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { archiveEvents } from '../query-api/src/archive/archive.ts';
import { restoreEvents } from '../query-api/src/archive/restore.ts';
import { LocalStorage } from '../query-api/src/exports/local-storage.ts';
import { benchDatabase, fmt, withPeakRss } from './support.ts';

const MONTH = { from: new Date('2025-01-01T00:00:00Z'), to: new Date('2025-02-01T00:00:00Z') };

async function seed(pool: pg.Pool, rows: number): Promise<void> {
  await pool.query("INSERT INTO orgs (id, name) VALUES ('bench', 'bench') ON CONFLICT DO NOTHING");
  await pool.query('SELECT ai_events_ensure_partition($1)', [MONTH.from]);
  const step = (MONTH.to.getTime() - MONTH.from.getTime()) / 1000 / rows;
  const chunk = 500_000;
  for (let first = 1; first <= rows; first += chunk) {
    await pool.query(
      `INSERT INTO ai_events (id, org_id, user_id, request_id, trace_id, endpoint, provider, model_name,
         input_tokens, output_tokens, latency_ms, ttft_ms, cost_usd, cost_source, success, error_code,
         error_message, fallback_used, tags, created_at)
       SELECT gen_random_uuid(), 'bench', 'user-' || (i % 5000), 'req-' || i, md5(i::text), '/v1/chat', 'openai',
         'model-' || (i % 30), i % 4000, i % 800, 20 + (i % 5000) / 3.0, CASE WHEN i % 3 = 0 THEN i % 700 END,
         (i % 1000) / 100000.0, 'computed', i % 50 <> 0, CASE WHEN i % 50 = 0 THEN 'rate_limit' END,
         CASE WHEN i % 50 = 0 THEN '429, "Too Many Requests"' END, i % 40 = 0, '{"team":"search"}'::jsonb,
         $1::timestamptz + make_interval(secs => (i - 1) * $4::float8)
       FROM generate_series($2::int, $3::int) AS i`,
      [MONTH.from, first, Math.min(rows, first + chunk - 1), step],
    );
  }
  await pool.query('VACUUM ANALYZE ai_events');
}

async function copyBaseline(pool: pg.Pool, file: string): Promise<number> {
  const client = await pool.connect();
  try {
    const started = performance.now();
    // Literal values: COPY takes no parameters, and these are this benchmark's own constants.
    const copy = client.query(
      copyTo(
        `COPY (SELECT ${AI_EVENT_COLUMNS.join(', ')} FROM ai_events WHERE org_id = 'bench'
               AND created_at >= '${MONTH.from.toISOString()}' AND created_at < '${MONTH.to.toISOString()}'
               ORDER BY created_at, id) TO STDOUT (FORMAT csv)`,
      ),
    );
    await pipeline(copy, createWriteStream(file));
    return (performance.now() - started) / 1000;
  } finally {
    client.release();
  }
}

export async function runArchiveBench(): Promise<void> {
  const rows = Number(process.env.BENCH_ARCHIVE_ROWS ?? 1_000_000);
  const db = await benchDatabase('archive');
  const dir = await mkdtemp(join(tmpdir(), 'observatory-bench-archive-'));
  try {
    await seed(db.pool, rows);
    const baselineSeconds = await copyBaseline(db.pool, join(dir, 'baseline.csv'));
    await rm(join(dir, 'baseline.csv'));
    const storage = await new LocalStorage(join(dir, 'archive')).init();
    global.gc?.();
    let started = performance.now();
    const archived = await withPeakRss(() =>
      archiveEvents({ pool: db.pool, storage }, 'bench', MONTH.from, MONTH.to),
    );
    const archiveSeconds = (performance.now() - started) / 1000;
    const archivedRows = archived.result.reduce((n, m) => n + m.row_count, 0);
    if (archivedRows !== rows) throw new Error(`archived ${archivedRows} rows, expected ${rows}`);
    const bytes = archived.result.reduce((n, m) => n + m.file_size, 0);

    await db.pool.query('TRUNCATE ai_events');
    global.gc?.();
    started = performance.now();
    const restored = await withPeakRss(() =>
      restoreEvents({ pool: db.pool, storage }, 'bench', MONTH.from, MONTH.to),
    );
    const restoreSeconds = (performance.now() - started) / 1000;
    if (restored.result.inserted !== rows)
      throw new Error(`restored ${restored.result.inserted} rows, expected ${rows}`);

    const archiveRate = rows / archiveSeconds;
    const baselineRate = rows / baselineSeconds;
    console.log(
      [
        `archive: ${fmt(rows)} rows of one org's month → ${archived.result.length} Parquet file(s), ${(bytes / 2 ** 20).toFixed(1)} MB`,
        `  archive  ${fmt(archiveRate)} rows/s (spool, DuckDB, store, read back and verify)  peak RSS ${archived.peakMb} MB (start ${archived.startMb} MB)`,
        `  baseline ${fmt(baselineRate)} rows/s (COPY (SELECT …) TO STDOUT csv → file)  ratio archive/baseline ${(archiveRate / baselineRate).toFixed(2)}`,
        `  restore  ${fmt(rows / restoreSeconds)} rows/s into the emptied table  peak RSS ${restored.peakMb} MB`,
      ].join('\n'),
    );
  } finally {
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runArchiveBench();
