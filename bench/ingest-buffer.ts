/**
 * The ingest path with and without the JetStream buffer, as separate processes on one machine: `observatory serve`
 * (receiver), `observatory writer`, one nats-server, and the PostgreSQL backends serving them. Prints throughput and
 * CPU per span of each process (from /proc), so docs/scale-out.md can size each tier. Needs /usr/sbin/nats-server.
 * BENCH_INGEST_EVENTS (default 100,000).
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type pg from 'pg';
import { createKey } from '../query-api/src/keys/keys.ts';
import { startServe } from '../test-support/cli.ts';
import { natsServerInstalled, startNats } from '../test-support/nats-server.ts';
import { startWriter } from '../test-support/otlp-traffic.ts';
import { backendsCpu, processCpu, spentByBackends } from '../test-support/proc-cpu.ts';
import { otlpRun } from './_otlp-run.ts';
import { benchDatabase, fmt } from './support.ts';

/** CPU seconds (user + system) a process has used so far; 0 once it is gone. */
async function cpuSeconds(pid: number | undefined): Promise<number> {
  return pid === undefined ? 0 : ((await processCpu(pid))?.own ?? 0);
}

async function post(url: string, key: string, count: number): Promise<void> {
  await otlpRun({ urls: [url], key, count, concurrency: 8, format: 'protobuf' });
}

async function rowsStored(pool: pg.Pool, count: number): Promise<void> {
  for (;;) {
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM ai_events');
    if (rows[0].n >= count) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function runIngestBufferBench(
  count = Number(process.env.BENCH_INGEST_EVENTS ?? 100_000),
): Promise<void> {
  if (!natsServerInstalled()) {
    console.log('nats-server is not installed (apt-get install nats-server): skipped');
    return;
  }
  const db = await benchDatabase('buffer');
  const database = new URL(db.url).pathname.slice(1);
  const dataDir = await mkdtemp(join(tmpdir(), 'observatory-bench-buffer-'));
  const nats = await startNats(1);
  const key = (await createKey(db.pool, { orgId: 'bench', role: 'ingest' })).key;
  const base = { DATABASE_URL: db.url, OBSERVATORY_DATA_DIR: dataDir, OBSERVATORY_WORKER: 'false' };
  try {
    // Direct: the receiver maps and commits before answering.
    const direct = await startServe(base);
    await post(`${direct.baseUrl}/v1/traces`, key, 1000);
    await db.pool.query('TRUNCATE ai_events');
    let serveCpu = await cpuSeconds(direct.child.pid);
    let backends = await backendsCpu(db.pool, database);
    let t = performance.now();
    await post(`${direct.baseUrl}/v1/traces`, key, count);
    await rowsStored(db.pool, count);
    const directS = (performance.now() - t) / 1000;
    const directServe = (await cpuSeconds(direct.child.pid)) - serveCpu;
    const directPg = spentByBackends(backends, await backendsCpu(db.pool, database));
    direct.child.kill('SIGTERM');
    await direct.exited;
    await db.pool.query('TRUNCATE ai_events');

    // Buffered: the receiver answers after JetStream's ack; a writer process commits.
    const buffered = {
      ...base,
      OBSERVATORY_INGEST_BUFFER: nats.urls[0],
      OBSERVATORY_INGEST_BUFFER_REPLICAS: '1',
    };
    const receiver = await startServe(buffered);
    const writer = await startWriter(buffered);
    await post(`${receiver.baseUrl}/v1/traces`, key, 1000);
    await rowsStored(db.pool, 1000);
    await db.pool.query('TRUNCATE ai_events');
    serveCpu = await cpuSeconds(receiver.child.pid);
    const writerCpu = await cpuSeconds(writer.child.pid);
    const natsCpu = await cpuSeconds(nats.nodes[0]!.pid);
    backends = await backendsCpu(db.pool, database);
    t = performance.now();
    await post(`${receiver.baseUrl}/v1/traces`, key, count);
    const ackedS = (performance.now() - t) / 1000;
    await rowsStored(db.pool, count);
    const storedS = (performance.now() - t) / 1000;
    const bufServe = (await cpuSeconds(receiver.child.pid)) - serveCpu;
    const bufWriter = (await cpuSeconds(writer.child.pid)) - writerCpu;
    const bufNats = (await cpuSeconds(nats.nodes[0]!.pid)) - natsCpu;
    const bufPg = spentByBackends(backends, await backendsCpu(db.pool, database));
    writer.child.kill('SIGTERM');
    receiver.child.kill('SIGTERM');
    await Promise.all([writer.exited, receiver.exited]);

    const us = (cpu: number) => `${((cpu / count) * 1e6).toFixed(1)} µs/span`;
    console.log(
      `spans: ${fmt(count)}, OTLP/protobuf, 1,000 per request, 8 in flight; CPU from /proc (user + system)`,
    );
    console.log(
      `direct:   ${fmt(count / directS)} spans/s stored; serve ${us(directServe)}, PostgreSQL backends ${us(directPg)}`,
    );
    console.log(
      `buffered: ${fmt(count / ackedS)} spans/s acknowledged, ${fmt(count / storedS)} spans/s stored = ${(directS / storedS).toFixed(2)} × direct; serve ${us(bufServe)}, writer ${us(bufWriter)}, nats-server (R=1) ${us(bufNats)}, PostgreSQL backends ${us(bufPg)}`,
    );
  } finally {
    await nats.stop();
    await rm(dataDir, { recursive: true, force: true });
    await db.drop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await runIngestBufferBench();
