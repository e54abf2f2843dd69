/**
 * Ingest throughput, each path against a raw COPY of the same rows into the same table in the same run (measured
 * before and after the paths, the mean taken: the machine is shared): the Node-side cost per span (decode, map,
 * encode, write) of the former and the current code, the in-process exporter (`Ingest` with batches in flight, and
 * PostgresSpanExporter given one 512-span export at a time, as the SDK does), OTLP/HTTP protobuf and JSON through
 * the receiver (pre-serialised 1,000-span requests), one and two receiver processes on one database, and 1,000
 * concurrent single-event JSON posts. BENCH_INGEST_EVENTS (default 200,000). Then memory over a long run through
 * PostgresSpanExporter: BENCH_MEMORY_SPANS (default 10,000,000; 0 leaves it out).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { serve } from '@hono/node-server';
import {
  AI_EVENT_COLUMNS,
  AI_EVENT_PG_TYPES,
  type AiEvent,
  createAiMetrics,
  createEventWriter,
  decodeOtlpProtobuf,
  Ingest,
  PostgresSpanExporter,
} from '@observatory/exporter-postgres';
import { ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { pino } from 'pino';
import { loadPriceTable, mapBatch, mapSpans } from '../exporter-postgres/src/index.ts';
import { MAPPED_ATTRIBUTES } from '../exporter-postgres/src/mapping/mapped-attributes.ts';
import { copyLines } from '../exporter-postgres/src/pipeline/copy-rows.ts';
import { referenceDecode } from '../exporter-postgres/test/reference-decoder.ts';
import { createApp } from '../query-api/src/app.ts';
import { createKey } from '../query-api/src/keys/keys.ts';
import { serverCpu } from '../test-support/proc-cpu.ts';
import { agentSpans, readableSpans, spans, toOtlp } from './_ingest-data.ts';
import { otlpRun } from './_otlp-run.ts';
import { unnestWriter } from './_unnest-writer.ts';
import { benchDatabase, fmt, withPeakRss } from './support.ts';

const BATCH = 1000;
/** The BatchSpanProcessor's default maxExportBatchSize. */
const SDK_BATCH = 512;
const mapOptions = () => ({
  defaultOrgId: 'default',
  prices: loadPriceTable(),
  receivedAt: new Date(),
  pseudonymKey: 'bench',
});

/**
 * CPU µs per item of `fn` over `items` items (process CPU time, so other jobs on a shared machine do not inflate it),
 * its best of three runs.
 */
function usPer(items: number, fn: () => unknown): number {
  let best = Number.POSITIVE_INFINITY;
  for (let run = 0; run < 3; run++) {
    const before = process.cpuUsage();
    fn();
    const used = process.cpuUsage(before);
    best = Math.min(best, used.user + used.system);
  }
  return best / items;
}

async function usPerAsync(items: number, fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return ((performance.now() - t) * 1000) / items;
}

/**
 * Raw COPY of `file` (the rows in COPY text) into ai_events, as `psql \copy` would: rows/s, and the PostgreSQL
 * server's CPU µs per row.
 */
async function rawCopy(
  pool: pg.Pool,
  file: string,
  count: number,
  { traceSummaries = true } = {},
): Promise<{ rate: number; pgUs: number }> {
  await pool.query('TRUNCATE ai_events, ai_traces');
  const client = await pool.connect();
  try {
    if (!traceSummaries) await client.query('ALTER TABLE ai_events DISABLE TRIGGER ai_events_traces');
    const cpuBefore = await serverCpu(pool);
    const t = performance.now();
    await pipeline(
      createReadStream(file),
      client.query(copyFrom(`COPY ai_events (${AI_EVENT_COLUMNS.join(', ')}) FROM STDIN`)),
    );
    const rate = count / ((performance.now() - t) / 1000);
    const pgUs = (((await serverCpu(pool)) - cpuBefore) * 1e6) / count;
    return { rate, pgUs };
  } finally {
    if (!traceSummaries) await client.query('ALTER TABLE ai_events ENABLE TRIGGER ai_events_traces');
    client.release();
    await pool.query('TRUNCATE ai_events, ai_traces');
  }
}

async function storedOnce(pool: pg.Pool): Promise<{ rows: number; distinct: number }> {
  const { rows } = await pool.query(
    'SELECT count(*)::int AS rows, count(DISTINCT id)::int AS distinct FROM ai_events',
  );
  await pool.query('TRUNCATE ai_events, ai_spans, ai_traces, ai_sessions');
  return rows[0];
}

/** `n` receiver processes on the database at `url`; their /v1/traces URLs, and a stop function. */
async function receivers(n: number, url: string, spillDir: string) {
  const children = Array.from({ length: n }, (_, i) =>
    spawn(
      process.execPath,
      [
        '--conditions=@observatory/source',
        '--import',
        'tsx',
        new URL('./_receiver.ts', import.meta.url).pathname,
      ],
      {
        env: { ...process.env, DATABASE_URL: url, SPILL_DIR: join(spillDir, `receiver-${i}`) },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    ),
  );
  const urls = await Promise.all(
    children.map(async (child) => {
      const [port] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
      return `http://127.0.0.1:${port}/v1/traces`;
    }),
  );
  return {
    urls,
    async stop() {
      for (const child of children) child.kill('SIGTERM');
      await Promise.all(children.map((c) => (c.exitCode === null ? once(c, 'exit') : undefined)));
    },
  };
}

/** `exporter.export` as a promise of its SUCCESS. */
const exportTo =
  (exporter: PostgresSpanExporter) =>
  (batch: ReadableSpan[]): Promise<void> =>
    new Promise((resolve, reject) =>
      exporter.export(batch, (result) =>
        result.code === ExportResultCode.SUCCESS ? resolve() : reject(result.error),
      ),
    );

/**
 * Memory over a long run (issue 20: "memory flat over 10 M spans"): `total` model-call spans through
 * PostgresSpanExporter, 20 exports of 1,000 in flight, each batch made as it is exported and never held. Every
 * `step` spans it prints RSS and heap used (now, and their peaks since the last line), then the verdict: the peak RSS
 * of the second half against the first. At each step the exports in flight are awaited and the tables emptied, so
 * the database's disk use stays bounded over 10 M rows; what the exporter holds does not depend on the tables' size.
 */
async function memoryRun(pool: pg.Pool, spillDir: string, total: number): Promise<void> {
  const step = total >= 2_000_000 ? 1_000_000 : Math.max(BATCH, Math.round(total / 10 / BATCH) * BATCH);
  const metrics = createAiMetrics();
  const ingest = new Ingest({ pool, spillDir, metrics });
  const exporter = new PostgresSpanExporter({ ingest });
  const exported = exportTo(exporter);
  const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
  let peakRss = 0;
  let peakHeap = 0;
  const sample = () => {
    const { rss, heapUsed } = process.memoryUsage();
    peakRss = Math.max(peakRss, rss);
    peakHeap = Math.max(peakHeap, heapUsed);
  };
  const timer = setInterval(sample, 100);
  const marks: { spans: number; peakRss: number }[] = [];
  console.log(
    `memory over ${fmt(total)} spans through PostgresSpanExporter (made as exported; load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}):`,
  );
  try {
    await ingest.start();
    let t = performance.now();
    const pending: Promise<void>[] = [];
    for (let i = 0; i < total; ) {
      const n = Math.min(BATCH, total - i);
      pending.push(exported(readableSpans(i, n)));
      i += n;
      if (pending.length >= 20) await pending.shift();
      if (i % step !== 0 && i < total) continue;
      await Promise.all(pending.splice(0));
      const rate = (i - (marks.at(-1)?.spans ?? 0)) / ((performance.now() - t) / 1000);
      sample();
      const { rss, heapUsed } = process.memoryUsage();
      marks.push({ spans: i, peakRss });
      console.log(
        `  ${fmt(i).padStart(10)} spans: RSS ${mb(rss)} MB (peak ${mb(peakRss)}), heap used ${mb(heapUsed)} MB (peak ${mb(peakHeap)}); ${fmt(rate)} spans/s`,
      );
      peakRss = 0;
      peakHeap = 0;
      await pool.query('TRUNCATE ai_events, ai_spans, ai_traces, ai_sessions');
      t = performance.now();
    }
  } finally {
    clearInterval(timer);
    await exporter.shutdown();
    await ingest.shutdown();
    await metrics.shutdown();
  }
  const half = Math.ceil(marks.length / 2);
  const peakOf = (part: typeof marks) => Math.max(...part.map((m) => m.peakRss));
  const first = peakOf(marks.slice(0, half));
  const second = peakOf(marks.slice(half));
  console.log(
    `memory verdict: peak RSS ${mb(first)} MB over the first half, ${mb(second)} MB over the second = ${(second / first).toFixed(2)} × (${second <= first * 1.1 ? 'flat' : 'GROWING'}: flat is ≤ 1.10 ×)`,
  );
}

export async function runIngestBench(
  count = Number(process.env.BENCH_INGEST_EVENTS ?? 200_000),
  memorySpans = Number(process.env.BENCH_MEMORY_SPANS ?? 10_000_000),
): Promise<void> {
  const db = await benchDatabase('ingest');
  const spillDir = await mkdtemp(join(tmpdir(), 'observatory-bench-'));
  const load = loadavg().map((l) => l.toFixed(1));
  const lines: string[] = [];
  const out = (line: string) => lines.push(line);
  // Each figure as soon as it is measured (stderr), in case a later step fails; the summary follows on stdout.
  const progress = (label: string, value: number) => console.error(`  … ${label}: ${fmt(value)}`);
  try {
    // Baseline: the same rows as COPY text in a file, written first, untimed.
    const prices = loadPriceTable();
    const copyFile = join(spillDir, 'baseline.copy');
    await pipeline(
      Readable.from(
        (function* () {
          for (let i = 0; i < count; i += BATCH) {
            const events = mapSpans(spans(i, BATCH), { ...mapOptions(), prices });
            yield copyLines(events, AI_EVENT_COLUMNS, AI_EVENT_PG_TYPES).join('');
          }
        })(),
      ),
      createWriteStream(copyFile),
    );
    const { rate: copyBefore, pgUs: copyPgUs } = await rawCopy(db.pool, copyFile, count);
    progress('raw COPY rows/s', copyBefore);
    // The same COPY without the per-trace summary trigger (0030): what keeping ai_traces costs ingest.
    const { rate: unsummarisedRate } = await rawCopy(db.pool, copyFile, count, { traceSummaries: false });
    // What the live stream's position index (0044) costs: the same COPY without it.
    await db.pool.query('DROP INDEX ai_events_org_xact_idx');
    const { rate: withoutStreamIndexRate } = await rawCopy(db.pool, copyFile, count);
    await db.pool.query('CREATE INDEX ai_events_org_xact_idx ON ai_events (org_id, xact_id, id)');

    // Node-side cost per span, one thread, on a sample: former and current code side by side.
    const sample = Array.from({ length: 20 }, (_, i) => toOtlp(spans(i * BATCH, BATCH)));
    const sampleSpans = sample.length * BATCH;
    const decodeOld = usPer(sampleSpans, () => sample.map((b) => referenceDecode(b)));
    const decodeNew = usPer(sampleSpans, () =>
      sample.map((b) => decodeOtlpProtobuf(b, Number.POSITIVE_INFINITY, MAPPED_ATTRIBUTES)),
    );
    const decoded = sample.map(
      (b) => decodeOtlpProtobuf(b, Number.POSITIVE_INFINITY, MAPPED_ATTRIBUTES).spans,
    );
    const map = usPer(sampleSpans, () => decoded.map((s) => mapBatch(s, { ...mapOptions(), prices })));
    const rows = decoded.map((s) => mapBatch(s, { ...mapOptions(), prices }).events);
    const unnest = unnestWriter<AiEvent>(db.pool, 'ai_events', AI_EVENT_COLUMNS, AI_EVENT_PG_TYPES);
    const encodeUnnest = usPer(sampleSpans, () => rows.map((r) => unnest.encode(r)));
    const encodeCopy = usPer(sampleSpans, () =>
      rows.map((r) => copyLines(r, AI_EVENT_COLUMNS, AI_EVENT_PG_TYPES)),
    );
    const batches = Array.from({ length: sample.length / 5 }, (_, i) => rows.slice(i * 5, i * 5 + 5).flat());
    const writeUnnest = await usPerAsync(sampleSpans, async () => {
      for (const b of batches) await unnest.write(b);
    });
    await db.pool.query('TRUNCATE ai_events');
    const writer = createEventWriter(db.pool);
    const writeCopy = await usPerAsync(sampleSpans, async () => {
      for (const b of batches) await writer.write(b);
    });
    // Each batch again with one new row: every COPY meets a stored row and goes through the staging table.
    const writeStaged = await usPerAsync(sampleSpans, async () => {
      for (const b of batches) {
        await writer.write([...b, { ...b[0]!, id: crypto.randomUUID() }]);
      }
    });
    await db.pool.query('TRUNCATE ai_events');
    out(
      `Node-side µs/span, one thread (CPU time, best of 3 over ${fmt(sampleSpans)} spans; writes: wall time, one connection):`,
    );
    out(`  decode  protobufjs ${decodeOld.toFixed(2)} → one-pass ${decodeNew.toFixed(2)}`);
    out(`  map     ${map.toFixed(2)}`);
    out(`  encode  unnest arrays ${encodeUnnest.toFixed(2)} → COPY text ${encodeCopy.toFixed(2)}`);
    out(
      `  write   unnest INSERT ${writeUnnest.toFixed(2)} → COPY ${writeCopy.toFixed(2)}; re-export via staging + ON CONFLICT ${writeStaged.toFixed(2)}`,
    );

    // In-process: spans → mapping → pipeline → PostgreSQL, as PostgresSpanExporter does.
    // The spans are made batch by batch as they are handed over (about 1 µs a span), as the other runs make theirs:
    // made all up front, the 200,000 spans were 136 MB of live heap that every collection had to trace, and the heap
    // V8 sized around them took the run's peak RSS to 1.1 GB, three times what the exporter itself needs.
    const metrics = createAiMetrics();
    const ingest = new Ingest({ pool: db.pool, spillDir, metrics, maxQueue: 1_000_000 });
    await ingest.start();
    const serverBefore = await serverCpu(db.pool);
    const nodeBefore = process.cpuUsage();
    let t = performance.now();
    const inProcess = await withPeakRss(async () => {
      const pending: Promise<unknown>[] = [];
      for (let i = 0; i < count; i += BATCH) {
        pending.push(ingest.spans(spans(i, BATCH)));
        if (pending.length >= 20) await pending.shift();
      }
      await Promise.all(pending);
    });
    const inProcessRate = count / ((performance.now() - t) / 1000);
    const nodeCpu = process.cpuUsage(nodeBefore);
    const inProcessNodeUs = (nodeCpu.user + nodeCpu.system) / count;
    const inProcessPgUs = (((await serverCpu(db.pool)) - serverBefore) * 1e6) / count;
    progress('in-process spans/s', inProcessRate);
    const inProcessStored = await storedOnce(db.pool);

    // PostgresSpanExporter as the SDK drives it: the BatchSpanProcessor's defaults hand it 512 spans and wait for the
    // result before the next 512, so nothing is mapped while a batch is written.
    const sdkExporter = new PostgresSpanExporter({ pool: db.pool, spillDir, metrics });
    const sdkExport = exportTo(sdkExporter);
    t = performance.now();
    for (let i = 0; i < count; i += SDK_BATCH)
      await sdkExport(readableSpans(i, Math.min(SDK_BATCH, count - i)));
    const sdkRate = count / ((performance.now() - t) / 1000);
    await sdkExporter.shutdown();
    progress('PostgresSpanExporter, SDK batches, spans/s', sdkRate);
    const sdkStored = await storedOnce(db.pool);

    // Agent runs: half the spans agents and tools (ai_spans), the model calls taking user and session from them.
    t = performance.now();
    const agents = await withPeakRss(async () => {
      const pending: Promise<unknown>[] = [];
      for (let i = 0; i < count; i += BATCH) {
        pending.push(ingest.spans(agentSpans(i, BATCH)));
        if (pending.length >= 20) await pending.shift();
      }
      await Promise.all(pending);
    });
    const agentRate = count / ((performance.now() - t) / 1000);
    await storedOnce(db.pool);

    // The worst case for context from stored ancestors: model calls stating no session whose parents are in no
    // request (another service's spans), so every batch makes its lookup and finds nothing.
    t = performance.now();
    const orphanRuns: Promise<unknown>[] = [];
    for (let i = 0; i < count; i += BATCH) {
      const orphans = spans(i, BATCH).map((span) => ({ ...span, parentSpanId: `f${span.spanId.slice(1)}` }));
      orphanRuns.push(ingest.spans(orphans));
      if (orphanRuns.length >= 20) await orphanRuns.shift();
    }
    await Promise.all(orphanRuns);
    const orphanRate = count / ((performance.now() - t) / 1000);
    await storedOnce(db.pool);

    // OTLP/HTTP through the receiver in this process.
    const app = createApp({ pool: db.pool, logger: pino({ level: 'silent' }), ingest, metrics });
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/traces`;
    const key = (await createKey(db.pool, { orgId: 'bench', role: 'ingest' })).key;
    const otlp: { label: string; rate: number; rss: string; stored: { rows: number; distinct: number } }[] =
      [];
    for (const [format, concurrency] of [
      ['protobuf', 4],
      ['protobuf', 8],
      ['json', 4],
    ] as const) {
      const run = await otlpRun({ urls: [url], key, count, concurrency, format });
      progress(`OTLP ${format} ${concurrency} clients spans/s`, run.rate);
      otlp.push({
        label: `OTLP/HTTP ${format}, ${concurrency} clients`,
        rate: run.rate,
        rss: `RSS ${run.startMb} → peak ${run.peakMb} MB`,
        stored: await storedOnce(db.pool),
      });
    }

    // 1,000 single-event JSON posts at once.
    const events = Array.from({ length: 1000 }, (_, i) =>
      JSON.stringify({
        model_name: 'gpt-4o',
        success: true,
        latency_ms: 100 + i,
        input_tokens: 10,
        output_tokens: 5,
        created_at: new Date().toISOString(),
      }),
    );
    const eventsUrl = url.replace('/v1/traces', '/api/telemetry/events');
    t = performance.now();
    const failures = new Map<string, number>();
    const latencies = await Promise.all(
      events.map(async (body) => {
        const started = performance.now();
        try {
          const res = await fetch(eventsUrl, {
            method: 'POST',
            body,
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          });
          await res.arrayBuffer();
          if (res.status !== 200) failures.set(`${res.status}`, (failures.get(`${res.status}`) ?? 0) + 1);
        } catch (err) {
          const why = String((err as Error).cause ?? err);
          failures.set(why, (failures.get(why) ?? 0) + 1);
        }
        return performance.now() - started;
      }),
    );
    const allAnsweredMs = performance.now() - t;
    const eventsStored = await storedOnce(db.pool);
    await new Promise((r) => server.close(r));
    await ingest.shutdown();
    await metrics.shutdown();

    // Scale-out: one, then two receiver processes on the one database, protobuf, 8 clients in all.
    const scale: { n: number; rate: number; stored: { rows: number; distinct: number } }[] = [];
    for (const n of [1, 2]) {
      const group = await receivers(n, db.url, spillDir);
      try {
        const run = await otlpRun({ urls: group.urls, key, count, concurrency: 8, format: 'protobuf' });
        progress(`${n} receiver processes spans/s`, run.rate);
        scale.push({ n, rate: run.rate, stored: await storedOnce(db.pool) });
      } finally {
        await group.stop();
      }
    }

    const { rate: copyAfter } = await rawCopy(db.pool, copyFile, count);
    const copyRate = (copyBefore + copyAfter) / 2;
    const ratio = (rate: number) => `${(rate / copyRate).toFixed(2)} × raw COPY`;
    const once_ = ({ rows, distinct }: { rows: number; distinct: number }) =>
      rows === count && distinct === count
        ? 'each span stored once'
        : `STORED ${rows} rows, ${distinct} distinct`;

    console.log(
      `spans: ${fmt(count)} (20 orgs, 30 models; indexes as migrated); load average ${load.join(' ')}`,
    );
    console.log(
      `raw COPY baseline:       ${fmt(copyRate)} rows/s (before the paths ${fmt(copyBefore)}, after ${fmt(copyAfter)})`,
    );
    console.log(
      `raw COPY, no ai_traces:  ${fmt(unsummarisedRate)} rows/s (the summary trigger costs ${(100 * (1 - copyBefore / unsummarisedRate)).toFixed(0)} % of raw COPY)`,
    );
    console.log(
      `stream position index:   COPY ${fmt(copyBefore)} rows/s with it, ${fmt(withoutStreamIndexRate)} without = ${(copyBefore / withoutStreamIndexRate).toFixed(2)} × (0044's (org_id, xact_id, id))`,
    );
    for (const line of lines) console.log(line);
    console.log(
      `in-process exporter:     ${fmt(inProcessRate)} spans/s = ${ratio(inProcessRate)} (goal ≥ 0.80; Ingest, 20 batches of 1,000 in flight); RSS ${inProcess.startMb} → peak ${inProcess.peakMb} MB; ${once_(inProcessStored)}`,
    );
    // What the two cores can give the in-process path at most: its CPU per span on both sides against two cores.
    const ceiling = 2e6 / (inProcessNodeUs + inProcessPgUs);
    console.log(
      `  CPU per span: raw COPY, the PostgreSQL server ${copyPgUs.toFixed(1)} µs a row; in-process: Node ${inProcessNodeUs.toFixed(1)} µs (mapping, metrics, encoding, the bench's span making) + the PostgreSQL server ${inProcessPgUs.toFixed(1)} µs = ${(inProcessNodeUs + inProcessPgUs).toFixed(1)} µs: two cores fully used give at most ${fmt(ceiling)} spans/s = ${ratio(ceiling)}`,
    );
    console.log(
      `in-process, SDK-driven:  ${fmt(sdkRate)} spans/s = ${ratio(sdkRate)}; PostgresSpanExporter given ${SDK_BATCH}-span exports one at a time (the BatchSpanProcessor's defaults); ${once_(sdkStored)}`,
    );
    console.log(
      `in-process, agent runs:  ${fmt(agentRate)} spans/s = ${(agentRate / inProcessRate).toFixed(2)} × model-only in-process (goal ≥ 0.90); RSS ${agents.startMb} → peak ${agents.peakMb} MB`,
    );
    console.log(
      `in-process, orphan calls: ${fmt(orphanRate)} spans/s = ${(orphanRate / inProcessRate).toFixed(2)} × model-only in-process (each batch looks up its calls' stored parents)`,
    );
    for (const run of otlp) {
      const goal = run.label.includes('json') ? 0.3 : 0.5;
      console.log(
        `${`${run.label}:`.padEnd(25)}${fmt(run.rate)} spans/s = ${ratio(run.rate)} (goal ≥ ${goal.toFixed(2)}); ${run.rss}; ${once_(run.stored)}`,
      );
    }
    for (const run of scale) {
      console.log(
        `${`${run.n} receiver process${run.n > 1 ? 'es' : ''}:`.padEnd(25)}${fmt(run.rate)} spans/s = ${ratio(run.rate)}; ${once_(run.stored)}`,
      );
    }
    console.log(
      `1,000 concurrent single-event JSON posts: all answered in ${fmt(allAnsweredMs)} ms (goal ≤ 5,000), slowest ${fmt(Math.max(...latencies))} ms; ${eventsStored.rows} stored${failures.size ? `; FAILED ${JSON.stringify(Object.fromEntries(failures))}` : ''}`,
    );

    if (memorySpans > 0) await memoryRun(db.pool, spillDir, memorySpans);
  } finally {
    await rm(spillDir, { recursive: true, force: true });
    await db.drop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await runIngestBench();
