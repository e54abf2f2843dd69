import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServe, startServe } from '../../test-support/cli.ts';
import { createTestDatabase } from '../../test-support/database.ts';
import { natsServerInstalled, startNats } from '../../test-support/nats-server.ts';
import {
  otlpSpansRequest,
  type RunningWriter,
  sendSpans,
  startWriter,
} from '../../test-support/otlp-traffic.ts';
import { requireTool } from '../../test-support/system-tools.ts';
import { TcpProxy } from '../../test-support/tcp-proxy.ts';
import { BUFFER_STREAM, BUFFER_SUBJECTS } from '../src/buffer/connection.ts';
import { createKey } from '../src/keys/keys.ts';

// The JetStream ingest buffer on one nats-server, with real processes: `observatory serve` publishing and
// `observatory writer`s committing, both through a TCP proxy that can take PostgreSQL away from them.

const run = requireTool('nats-server', natsServerInstalled(), 'nats-server');
const ACK_MS = 3_000;
const OUTAGE_MS = 60_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.runIf(run)('the JetStream ingest buffer', async () => {
  const db = await createTestDatabase();
  let nats: Awaited<ReturnType<typeof startNats>>;
  let proxy: TcpProxy;
  let serve: RunningServe;
  let dataDir: string;
  let key: string;
  const writers: RunningWriter[] = [];

  const writerEnv = () => ({
    DATABASE_URL: proxy.urlFor(db.url),
    OBSERVATORY_INGEST_BUFFER: nats.urls.join(','),
    OBSERVATORY_INGEST_BUFFER_REPLICAS: '1',
    OBSERVATORY_INGEST_BUFFER_ACK_MS: String(ACK_MS),
    OBSERVATORY_DATA_DIR: dataDir,
  });
  const addWriter = async () => {
    const writer = await startWriter(writerEnv());
    writers.push(writer);
    return writer;
  };
  const storedSpanIds = async () =>
    new Set(
      (await db.pool.query<{ span_id: string }>('SELECT span_id FROM ai_events')).rows.map((r) => r.span_id),
    );
  async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(200);
    }
  }
  const post = (spanIds: string[]) =>
    fetch(`${serve.baseUrl}/v1/traces`, {
      method: 'POST',
      body: otlpSpansRequest(spanIds).body,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-protobuf' },
    });

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'observatory-buffer-'));
    nats = await startNats(1);
    proxy = new TcpProxy(new URL(db.url).hostname, Number(new URL(db.url).port || 5432));
    await proxy.start();
    key = (await createKey(db.pool, { orgId: 'acme', role: 'ingest' })).key;
    serve = await startServe({
      DATABASE_URL: proxy.urlFor(db.url),
      OBSERVATORY_DATA_DIR: dataDir,
      OBSERVATORY_WORKER: 'false',
      OBSERVATORY_INGEST_BUFFER: nats.urls.join(','),
      OBSERVATORY_INGEST_BUFFER_REPLICAS: '1',
      OBSERVATORY_INGEST_BUFFER_MAX_BYTES: String(4 * 1024 * 1024),
      OBSERVATORY_INGEST_BUFFER_ACK_MS: String(ACK_MS),
    });
  }, 90_000);

  afterAll(async () => {
    for (const w of writers) w.child.kill('SIGKILL');
    serve?.child.kill('SIGKILL');
    await serve?.exited;
    await proxy?.stop();
    await nats?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('answers 200 once JetStream holds a batch (spans or logs); a writer commits it, then tells the live stream', async () => {
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    const notified: string[] = [];
    listener.on('notification', (n) => notified.push(n.payload ?? ''));
    await listener.query('LISTEN observatory_events');
    try {
      const spanIds = ['a1a1a1a1a1a1a1a1', 'b2b2b2b2b2b2b2b2'];
      // No writer yet: the batch waits in the stream, not in PostgreSQL.
      expect((await post(spanIds)).status).toBe(200);
      await sleep(500);
      expect((await storedSpanIds()).size).toBe(0);
      await addWriter();
      const log = {
        resourceLogs: [
          {
            resource: { attributes: [] },
            scopeLogs: [
              {
                scope: { name: 'buffer' },
                logRecords: [
                  {
                    timeUnixNano: String(Date.now() * 1e6),
                    severityNumber: 9,
                    body: { stringValue: 'buffered' },
                  },
                ],
              },
            ],
          },
        ],
      };
      const logged = await fetch(`${serve.baseUrl}/v1/logs`, {
        method: 'POST',
        body: JSON.stringify(log),
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      });
      expect(logged.status).toBe(200);
      await until('the rows', async () => (await storedSpanIds()).size === 2);
      await until('the log line', async () => {
        const { rows } = await db.pool.query("SELECT 1 FROM structured_logs WHERE body = 'buffered'");
        return rows.length === 1;
      });
      await until('the notification naming the org', async () =>
        notified.some((payload) => payload.split(',').includes('acme')),
      );
      expect([...(await storedSpanIds())].sort()).toEqual(spanIds);
    } finally {
      await listener.end();
    }
  }, 90_000);

  it('loses and duplicates nothing when a writer is killed mid-batch while PostgreSQL is away for a minute', async () => {
    const second = await addWriter();
    const stop = new AbortController();
    const { traffic, done } = sendSpans({ urls: () => [serve.baseUrl], key, stop: stop.signal });
    await until('traffic to be written', async () => (await storedSpanIds()).size > 100);
    await proxy.cut();
    const cutAt = Date.now();
    // Both writers now hold fetched batches they cannot commit; the receiver, which cannot reach PostgreSQL either,
    // keeps answering 200 from the buffer (the key it checked before the outage is taken as it was).
    const nc = await connect({ servers: nats.urls });
    const jsm = await jetstreamManager(nc);
    await until('batches held unacknowledged', async () => {
      const info = await jsm.consumers.info(BUFFER_STREAM, BUFFER_SUBJECTS.rows.consumer);
      return info.num_ack_pending > 0;
    });
    const ackedBeforeKill = traffic.acked.size;
    writers[0]!.child.kill('SIGKILL');
    await writers[0]!.exited;
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - cutAt)));
    expect(traffic.acked.size, 'receivers answered 200 during the outage').toBeGreaterThan(ackedBeforeKill);
    await proxy.restore();
    await sleep(2_000);
    stop.abort();
    await done;
    expect(traffic.unexpected).toEqual([]);
    await until(
      'every acknowledged span',
      async () =>
        [...traffic.acked].every(
          (
            (s) => (id: string) =>
              s.has(id)
          )(await storedSpanIds()),
        ),
      60_000,
    );
    const { rows } = await db.pool.query<{ n: string; spans: string }>(
      'SELECT count(*) AS n, count(DISTINCT span_id) AS spans FROM ai_events',
    );
    expect(Number(rows[0]!.n)).toBe(Number(rows[0]!.spans));
    expect(Number(rows[0]!.n)).toBe(traffic.acked.size + 2);
    // What is left in the stream are copies of stored batches (redeliveries, republished 503s): it drains too.
    await until('the stream to drain', async () => {
      const info = await jsm.consumers.info(BUFFER_STREAM, BUFFER_SUBJECTS.rows.consumer);
      return info.num_pending + info.num_ack_pending === 0;
    });
    expect(Number((await db.pool.query('SELECT count(*) AS n FROM ai_events')).rows[0].n)).toBe(
      traffic.acked.size + 2,
    );
    await nc.close();
    expect(second.child.exitCode).toBeNull();
  }, 240_000);

  it('answers 429 with Retry-After when writers fall behind by the stream limit, and drains when they return', async () => {
    for (const w of writers) w.child.kill('SIGTERM');
    await Promise.all(writers.map((w) => w.exited));
    writers.length = 0;
    const acked: string[] = [];
    let refused: Response | undefined;
    for (let i = 0; i < 200 && !refused; i++) {
      const spanIds = Array.from(
        { length: 500 },
        (_, j) => `c${(i * 1000 + j).toString(16).padStart(15, '0')}`,
      );
      const res = await post(spanIds);
      if (res.status === 200) acked.push(...spanIds);
      else refused = res;
      await res.arrayBuffer();
    }
    expect(refused?.status).toBe(429);
    expect(refused?.headers.get('retry-after')).toBeTruthy();
    const before = (await storedSpanIds()).size;
    await addWriter();
    await until('the backlog', async () => {
      const stored = await storedSpanIds();
      return acked.every((id) => stored.has(id));
    });
    expect((await storedSpanIds()).size).toBe(before + acked.length);
  }, 120_000);

  it('answers 503 with Retry-After while JetStream cannot be reached', async () => {
    await nats.nodes[0]!.kill();
    const res = await post(['d4d4d4d4d4d4d4d4']);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBeTruthy();
    // The rest of the service is unaffected.
    expect((await fetch(`${serve.baseUrl}/health`)).status).toBe(200);
    expect(serve.child.exitCode).toBeNull();
  }, 60_000);
});
