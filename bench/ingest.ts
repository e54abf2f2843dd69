/**
 * Ingest throughput: in-process (mapping + pipeline) and OTLP/HTTP protobuf through the receiver, each against a raw
 * COPY of the same rows into the same table in the same run; plus RSS while the events flow.
 * BENCH_INGEST_EVENTS (default 200,000; the memory check uses 1,000,000).
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { serve } from '@hono/node-server';
import { AI_EVENT_COLUMNS, createAiMetrics, Ingest } from '@observatory/exporter-postgres';
import { from as copyFrom } from 'pg-copy-streams';
import { pino } from 'pino';
import { loadPriceTable, mapSpans } from '../exporter-postgres/src/index.ts';
import { createApp } from '../query-api/src/app.ts';
import { createKey } from '../query-api/src/keys/keys.ts';
import { agentSpans, spans } from './_ingest-data.ts';
import { benchDatabase, fmt, withPeakRss } from './support.ts';

function copyLine(values: unknown[]): string {
  return `${values
    .map((v) => {
      if (v === null || v === undefined) return '\\N';
      const text =
        v instanceof Date ? v.toISOString() : typeof v === 'object' ? JSON.stringify(v) : String(v);
      return text.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
    })
    .join('\t')}\n`;
}

export async function runIngestBench(
  count = Number(process.env.BENCH_INGEST_EVENTS ?? 200_000),
): Promise<void> {
  const db = await benchDatabase('ingest');
  const spillDir = await mkdtemp(join(tmpdir(), 'observatory-bench-'));
  try {
    const batchSize = 1000;

    // Baseline: raw COPY of the same rows from a file, as `psql \copy` would: the file is written first, untimed.
    const prices = loadPriceTable();
    const copyFile = join(spillDir, 'baseline.copy');
    await pipeline(
      Readable.from(
        (function* () {
          for (let i = 0; i < count; i += batchSize) {
            const events = mapSpans(spans(i, batchSize), {
              defaultOrgId: 'default',
              prices,
              receivedAt: new Date(),
              pseudonymKey: 'bench',
            });
            yield events.map((e) => copyLine(AI_EVENT_COLUMNS.map((c) => e[c]))).join('');
          }
        })(),
      ),
      createWriteStream(copyFile),
    );
    const client = await db.pool.connect();
    const copy = async () => {
      const start = performance.now();
      await pipeline(
        createReadStream(copyFile),
        client.query(copyFrom(`COPY ai_events (${AI_EVENT_COLUMNS.join(', ')}) FROM STDIN`)),
      );
      await client.query('TRUNCATE ai_events');
      return count / ((performance.now() - start) / 1000);
    };
    const copyRate = await copy();
    // What the live stream's position index (0044) costs: the same COPY without it, then with it again.
    await client.query('DROP INDEX ai_events_org_xact_idx');
    const withoutStreamIndexRate = await copy();
    await client.query('CREATE INDEX ai_events_org_xact_idx ON ai_events (org_id, xact_id, id)');
    const streamIndexRate = (copyRate + (await copy())) / 2;
    client.release();

    // In-process: spans → mapping → pipeline → PostgreSQL, as PostgresSpanExporter does.
    const metrics = createAiMetrics();
    const ingest = new Ingest({ pool: db.pool, spillDir, metrics, maxQueue: 1_000_000, batchSize: 5000 });
    await ingest.start();
    let t = performance.now();
    const inProcess = await withPeakRss(async () => {
      const pending: Promise<unknown>[] = [];
      for (let i = 0; i < count; i += batchSize) {
        pending.push(ingest.spans(spans(i, batchSize)));
        if (pending.length >= 20) await pending.shift();
      }
      await Promise.all(pending);
    });
    const inProcessRate = count / ((performance.now() - t) / 1000);
    await db.pool.query('TRUNCATE ai_events');

    // The same number of spans as agent runs: half of them agents and tools (written to ai_spans by the same
    // pipeline), the model calls taking user and session from their agent.
    t = performance.now();
    const agents = await withPeakRss(async () => {
      const pending: Promise<unknown>[] = [];
      for (let i = 0; i < count; i += batchSize) {
        pending.push(ingest.spans(agentSpans(i, batchSize)));
        if (pending.length >= 20) await pending.shift();
      }
      await Promise.all(pending);
    });
    const agentRate = count / ((performance.now() - t) / 1000);
    const stored = await db.pool.query(
      'SELECT (SELECT count(*) FROM ai_events)::int AS events, (SELECT count(*) FROM ai_spans)::int AS spans',
    );
    await db.pool.query('TRUNCATE ai_events, ai_spans');

    // OTLP/HTTP protobuf through the receiver, 8 requests in flight (a Collector's default sending queue has 10 consumers), 1000 spans each.
    const app = createApp({ pool: db.pool, logger: pino({ level: 'silent' }), ingest, metrics });
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/traces`;
    const key = (await createKey(db.pool, { orgId: 'bench', role: 'ingest' })).key;
    t = performance.now();
    const otlp = await withPeakRss(async () => {
      // The client encodes and sends from a worker thread, off the service's event loop.
      const client = new Worker(new URL('./_otlp-client.mjs', import.meta.url), {
        workerData: { url, key, count, batchSize, concurrency: 8 },
      });
      const [message] = (await once(client, 'message')) as [string];
      if (message !== 'done') throw new Error(`OTLP client: ${message}`);
      await client.terminate();
    });
    const otlpRate = count / ((performance.now() - t) / 1000);
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM ai_events');
    await new Promise((r) => server.close(r));
    await ingest.shutdown();
    await metrics.shutdown();

    console.log(`events: ${fmt(count)} (20 orgs, 30 models; indexes as migrated)`);
    console.log(`raw COPY baseline:        ${fmt(copyRate)} rows/s`);
    console.log(
      `stream position index:    COPY ${fmt(streamIndexRate)} rows/s with it, ${fmt(withoutStreamIndexRate)} without = ${(streamIndexRate / withoutStreamIndexRate).toFixed(2)} × (0044's (org_id, xact_id, id))`,
    );
    console.log(
      `in-process exporter:      ${fmt(inProcessRate)} spans/s = ${(inProcessRate / copyRate).toFixed(2)} × raw COPY (goal ≥ 0.50); RSS ${inProcess.startMb} → peak ${inProcess.peakMb} MB`,
    );
    console.log(
      `in-process, agent runs:   ${fmt(agentRate)} spans/s = ${(agentRate / inProcessRate).toFixed(2)} × model-only in-process (goal ≥ 0.90); RSS ${agents.startMb} → peak ${agents.peakMb} MB; rows ${fmt(stored.rows[0].events)} events + ${fmt(stored.rows[0].spans)} spans`,
    );
    console.log(
      `OTLP/HTTP protobuf:       ${fmt(otlpRate)} spans/s = ${(otlpRate / copyRate).toFixed(2)} × raw COPY (goal ≥ 30,000 spans/s); RSS ${otlp.startMb} → peak ${otlp.peakMb} MB; rows stored ${fmt(rows[0].n)}`,
    );
  } finally {
    await rm(spillDir, { recursive: true, force: true });
    await db.drop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await runIngestBench();
