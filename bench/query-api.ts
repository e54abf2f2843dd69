/**
 * Query latency: seeds BENCH_QUERY_ROWS events (default 10,000,000) over 30 days, 20 orgs and 30 models with
 * generate_series, then prints p50/p95 of the API's main reads and the CSV stream's rows/s and peak RSS.
 */
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { createApp } from '../query-api/src/app.ts';
import { createKey } from '../query-api/src/keys/keys.ts';
import { benchDatabase, fmt, withPeakRss } from './support.ts';

const SEED = `
INSERT INTO ai_events (id, org_id, user_id, request_id, trace_id, endpoint, operation, provider, model_name,
  input_tokens, output_tokens, latency_ms, cost_usd, cost_source, success, error_code, fallback_used, fallback_model,
  created_at, received_at)
SELECT gen_random_uuid(), 'org-' || (i % 20), 'user-' || (i % 5000), 'req-' || i, md5(i::text), 
  CASE WHEN i % 2 = 0 THEN 'infer' ELSE 'analyze' END, 'chat', 'openai', 'model-' || (i % 30),
  500 + i % 1000, 50 + i % 200, 50 + (i % 997) * 3.7, (i % 1000) / 100000.0, 'computed',
  i % 23 <> 0, CASE WHEN i % 23 = 0 THEN 'timeout' END, i % 41 = 0, CASE WHEN i % 41 = 0 THEN 'model-0' END,
  now() - (i::float8 / $1) * interval '30 days', now()
FROM generate_series(1, $1::int) AS i`;

function percentiles(samples: number[]): { p50: number; p95: number } {
  const s = [...samples].sort((a, b) => a - b);
  return { p50: s[Math.floor(0.5 * (s.length - 1))]!, p95: s[Math.floor(0.95 * (s.length - 1))]! };
}

export async function runQueryApiBench(
  rows = Number(process.env.BENCH_QUERY_ROWS ?? 10_000_000),
): Promise<void> {
  const db = await benchDatabase('query');
  try {
    const { ensurePartitions } = await import('@observatory/exporter-postgres');
    for (let m = 0; m < 2; m++)
      await ensurePartitions(db.pool, new Date(Date.now() - m * 31 * 86_400_000), 0);
    let t = performance.now();
    await db.pool.query(SEED, [rows]);
    // Autovacuum would have run after a load this size; index-only scans (counts) need its visibility map.
    await db.pool.query('VACUUM ANALYZE ai_events');
    console.log(`seeded ${fmt(rows)} events in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    const app = createApp({ pool: db.pool, logger: pino({ level: 'silent' }) });
    const key = (await createKey(db.pool, { orgId: 'org-7', role: 'viewer' })).key;
    const get = async (path: string) => {
      const res = await app.request(path, { headers: { authorization: `Bearer ${key}` } });
      if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      return res;
    };
    const first = (await (await get('/api/telemetry/events?limit=100&offset=0')).json()) as {
      next_cursor: string;
    };
    let cursor = first.next_cursor;
    for (let i = 0; i < 50; i++)
      cursor = (
        (await (await get(`/api/telemetry/events?limit=100&cursor=${cursor}`)).json()) as {
          next_cursor: string;
        }
      ).next_cursor;
    const weekAgo = new Date(Date.now() - 7 * 86_400_000).toISOString();
    const cases: [string, string, number][] = [
      ['newest page', '/api/telemetry/events?limit=100', 30],
      [
        'filtered page (model + 7 days)',
        `/api/telemetry/events?limit=100&model_name=model-7&date_from=${weekAgo}`,
        30,
      ],
      ['deep page via cursor (5,000 rows in)', `/api/telemetry/events?limit=100&cursor=${cursor}`, 30],
      ['overview 24h', '/api/telemetry?action=overview&range=24h', 15],
      ['overview 7d', '/api/telemetry?action=overview&range=7d', 5],
      ['models 7d', '/api/telemetry?action=models&range=7d', 5],
    ];
    console.log('goals: pages p95 ≤ 50 ms, 24h overview p95 ≤ 300 ms, 7d aggregates ≤ 1 s');
    for (const [name, path, runs] of cases) {
      const samples: number[] = [];
      for (let i = 0; i < runs; i++) {
        t = performance.now();
        await (await get(path)).arrayBuffer();
        samples.push(performance.now() - t);
      }
      const { p50, p95 } = percentiles(samples);
      console.log(
        `${name.padEnd(40)} p50 ${p50.toFixed(1).padStart(8)} ms   p95 ${p95.toFixed(1).padStart(8)} ms`,
      );
    }
    t = performance.now();
    const csv = await withPeakRss(async () => {
      const res = await get('/api/telemetry/events/stream?limit=100000');
      let bytes = 0;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) bytes += chunk.byteLength;
      return bytes;
    });
    const seconds = (performance.now() - t) / 1000;
    console.log(
      `CSV stream 100,000 rows: ${fmt(100_000 / seconds)} rows/s (goal ≥ 100,000), ${fmt(csv.result / 2 ** 20)} MiB, RSS ${csv.startMb} → peak ${csv.peakMb} MB`,
    );
  } finally {
    await db.drop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await runQueryApiBench();
