import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServe, startServe } from '../../test-support/cli.ts';
import { createTestDatabase } from '../../test-support/database.ts';
import { natsServerInstalled, startNats } from '../../test-support/nats-server.ts';
import { type RunningWriter, sendSpans, startWriter } from '../../test-support/otlp-traffic.ts';
import { requireTool } from '../../test-support/system-tools.ts';
import { BUFFER_STREAM } from '../src/buffer/connection.ts';
import { createKey } from '../src/keys/keys.ts';

// Three nats-servers clustered on loopback, the stream at R=3: SIGKILL the server leading the stream under traffic.

const run = requireTool('nats-server', natsServerInstalled(), 'nats-server');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.runIf(run)('the JetStream ingest buffer on a three-node cluster', async () => {
  const db = await createTestDatabase();
  let nats: Awaited<ReturnType<typeof startNats>>;
  let serve: RunningServe;
  let writer: RunningWriter;
  let dataDir: string;
  let key: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'observatory-buffer-cluster-'));
    nats = await startNats(3);
    key = (await createKey(db.pool, { orgId: 'acme', role: 'ingest' })).key;
    const env = {
      DATABASE_URL: db.url,
      OBSERVATORY_DATA_DIR: dataDir,
      OBSERVATORY_INGEST_BUFFER: nats.urls.join(','),
      OBSERVATORY_INGEST_BUFFER_REPLICAS: '3',
      OBSERVATORY_INGEST_BUFFER_ACK_MS: '3000',
    };
    serve = await startServe({ ...env, OBSERVATORY_WORKER: 'false' });
    writer = await startWriter(env);
  }, 120_000);

  afterAll(async () => {
    writer?.child.kill('SIGKILL');
    serve?.child.kill('SIGKILL');
    await serve?.exited;
    await nats?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps three copies and loses nor duplicates anything when the stream leader is killed', async () => {
    const nc = await connect({ servers: nats.urls });
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(BUFFER_STREAM);
    expect(info.config.num_replicas).toBe(3);
    expect((info.cluster?.replicas ?? []).length).toBe(2);
    const leader = nats.nodes.find((n) => n.name === info.cluster?.leader)!;
    await nc.close();

    const stop = new AbortController();
    const { traffic, done } = sendSpans({ urls: () => [serve.baseUrl], key, stop: stop.signal });
    const stored = async () => Number((await db.pool.query('SELECT count(*) AS n FROM ai_events')).rows[0].n);
    const deadline = Date.now() + 30_000;
    while ((await stored()) < 200 && Date.now() < deadline) await sleep(200);
    await leader.kill();
    const ackedAtKill = traffic.acked.size;
    await sleep(8_000);
    stop.abort();
    await done;
    expect(traffic.unexpected).toEqual([]);
    expect(traffic.acked.size, 'the two remaining servers took batches').toBeGreaterThan(ackedAtKill);

    const acked = [...traffic.acked];
    const settled = Date.now() + 40_000;
    let ids = new Set<string>();
    while (Date.now() < settled) {
      ids = new Set(
        (await db.pool.query('SELECT span_id FROM ai_events')).rows.map((r) => r.span_id as string),
      );
      if (acked.every((id) => ids.has(id))) break;
      await sleep(300);
    }
    expect(acked.filter((id) => !ids.has(id))).toEqual([]);
    const { rows } = await db.pool.query(
      'SELECT count(*) AS n, count(DISTINCT span_id) AS spans FROM ai_events',
    );
    expect(Number(rows[0].n)).toBe(Number(rows[0].spans));
    // A batch answered 503 can still have been stored: its client retried it with the same span ids.
    expect(Number(rows[0].n)).toBe(acked.length);
  }, 120_000);
});
