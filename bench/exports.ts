/**
 * Export benchmark: seeds events into a scratch database, then exports them to gzip CSV with the export
 * job's code path (server-side cursor → CSV → gzip → file) and reports rows/s and peak RSS. The baseline,
 * measured in the same run, is PostgreSQL's own `COPY … TO STDOUT (FORMAT csv)` piped through the same gzip
 * into a file: the ratio shows what the cursor, the CSV quoting and neutralisation cost on top.
 *
 * Runs alone: `node --conditions=@observatory/source --import tsx bench/exports.ts`. Database server:
 * BENCH_DATABASE_URL, TEST_DATABASE_URL or DATABASE_URL. Rows: BENCH_EXPORT_ROWS (comma-separated sizes, default
 * 1000000; the issue also asks for 10000000, which takes several minutes and ~4 GB of disk on this machine).
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';
import { AI_EVENT_COLUMNS, ensurePartitions, migrate } from '@observatory/exporter-postgres';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { LocalStorage } from '../query-api/src/exports/local-storage.ts';
import { runExport } from '../query-api/src/exports/run-export.ts';
import { SERVER_URL } from './support.ts';

export interface ExportBenchResult {
  rows: number;
  exportRowsPerSecond: number;
  baselineRowsPerSecond: number;
  /** Export rows/s divided by baseline rows/s. */
  ratio: number;
  peakRssMb: number;
  rssBeforeMb: number;
  fileMb: number;
}

const GOAL_ROWS_PER_SECOND = 100_000;
const GOAL_PEAK_RSS_MB = 200;
const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

async function seed(pool: pg.Pool, orgId: string, rows: number): Promise<void> {
  await pool.query('INSERT INTO orgs (id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING', [orgId]);
  const chunk = 500_000;
  for (let from = 1; from <= rows; from += chunk) {
    await pool.query(
      `INSERT INTO ai_events (id, org_id, user_id, request_id, trace_id, endpoint, provider, model_name,
         input_tokens, output_tokens, latency_ms, cost_usd, cost_source, success, error_code, error_message,
         fallback_used, tags, created_at)
       SELECT gen_random_uuid(), $1, 'user-' || (i % 5000), 'req-' || i, md5(i::text), '/v1/chat', 'openai',
         'model-' || (i % 30), i % 4000, i % 800, 20 + (i % 5000) / 3.0, (i % 1000) / 100000.0, 'computed',
         i % 50 <> 0, CASE WHEN i % 50 = 0 THEN 'rate_limit' END,
         CASE WHEN i % 50 = 0 THEN '=429, "Too Many Requests"' END,
         i % 40 = 0, '{"team":"search"}'::jsonb, now() - make_interval(secs => i * 2.5)
       FROM generate_series($2::int, $3::int) AS i`,
      [orgId, from, Math.min(rows, from + chunk - 1)],
    );
  }
  await pool.query('ANALYZE ai_events');
}

async function baseline(pool: pg.Pool, orgId: string, file: string): Promise<number> {
  const client = await pool.connect();
  try {
    const started = performance.now();
    const copy = client.query(
      copyTo(
        `COPY (SELECT ${AI_EVENT_COLUMNS.join(', ')} FROM ai_events WHERE org_id = '${orgId}'
               ORDER BY created_at DESC, id DESC) TO STDOUT (FORMAT csv, HEADER)`,
      ),
    );
    await pipeline(copy, createGzip(), createWriteStream(file));
    return (performance.now() - started) / 1000;
  } finally {
    client.release();
  }
}

/** Exports `rows` seeded events to gzip CSV in a scratch database on the server at `serverUrl`. */
export async function benchExports(serverUrl: string, rows: number): Promise<ExportBenchResult> {
  const name = `observatory_bench_exports_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
  const dir = await mkdtemp(join(tmpdir(), 'observatory-bench-exports-'));
  try {
    await migrate(pool);
    await ensurePartitions(pool);
    await seed(pool, 'bench', rows);
    const baselineSeconds = await baseline(pool, 'bench', join(dir, 'baseline.csv.gz'));

    const storage = await new LocalStorage(join(dir, 'exports')).init();
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    let peak = rssBefore;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    const started = performance.now();
    const result = await runExport(pool, storage, {
      id: '00000000-0000-4000-8000-000000000000',
      orgId: 'bench',
      format: 'csv',
      gzip: true,
      filters: {},
    });
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    if (result.rowCount !== rows) throw new Error(`exported ${result.rowCount} rows, expected ${rows}`);
    const exportRowsPerSecond = Math.round(rows / seconds);
    const baselineRowsPerSecond = Math.round(rows / baselineSeconds);
    return {
      rows,
      exportRowsPerSecond,
      baselineRowsPerSecond,
      ratio: Math.round((exportRowsPerSecond / baselineRowsPerSecond) * 100) / 100,
      peakRssMb: mb(peak),
      rssBeforeMb: mb(rssBefore),
      fileMb: mb((await stat(join(dir, 'exports', result.storageKey))).size),
    };
  } finally {
    await pool.end();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
    await rm(dir, { recursive: true, force: true });
  }
}

export function formatExportBench(r: ExportBenchResult): string {
  const mark = (ok: boolean) => (ok ? 'ok' : 'BELOW GOAL');
  return [
    `exports: ${r.rows.toLocaleString('en')} rows → gzip CSV (${r.fileMb} MB)`,
    `  export   ${r.exportRowsPerSecond.toLocaleString('en')} rows/s  [${mark(r.exportRowsPerSecond >= GOAL_ROWS_PER_SECOND)}: goal ≥ ${GOAL_ROWS_PER_SECOND.toLocaleString('en')}]`,
    `  baseline ${r.baselineRowsPerSecond.toLocaleString('en')} rows/s  (COPY csv | gzip)  ratio export/baseline ${r.ratio}`,
    `  peak RSS ${r.peakRssMb} MB (before ${r.rssBeforeMb} MB)  [${mark(r.peakRssMb < GOAL_PEAK_RSS_MB)}: goal < ${GOAL_PEAK_RSS_MB} MB]`,
  ].join('\n');
}

/** Exports BENCH_EXPORT_ROWS rows (comma-separated sizes; default 1,000,000 and 10,000,000) to gzip CSV. */
export async function runExportsBench(): Promise<void> {
  const sizes = (process.env.BENCH_EXPORT_ROWS ?? '1000000,10000000').split(',').map((s) => Number(s.trim()));
  for (const rows of sizes)
    process.stdout.write(`${formatExportBench(await benchExports(SERVER_URL, rows))}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runExportsBench();
