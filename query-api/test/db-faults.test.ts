import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type RunningServe, startServe } from '../../test-support/cli.ts';
import { createTestDatabase } from '../../test-support/database.ts';
import { otlpSpansRequest } from '../../test-support/otlp-traffic.ts';
import { createKey } from '../src/keys/keys.ts';

// A real `observatory serve` whose PostgreSQL connections are all killed, again and again, as a failover, a pooler
// restart or an idle timeout would: under traffic and while idle.

const db = await createTestDatabase();
const KILLS = 10;
const KILL_INTERVAL_MS = 1500;
const HEALTHY_WITHIN_MS = 10_000;

let dataDir: string;
let serve: RunningServe;
let exitCode: number | null | undefined;
let ingestKey: string;
let viewerKey: string;
let admin: pg.Client;
let closeStream: (() => void) | undefined;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'observatory-faults-'));
  ingestKey = (await createKey(db.pool, { orgId: 'acme', role: 'ingest' })).key;
  viewerKey = (await createKey(db.pool, { orgId: 'acme', role: 'viewer' })).key;
  serve = await startServe({ DATABASE_URL: db.url, OBSERVATORY_DATA_DIR: dataDir, LOG_LEVEL: 'warn' });
  serve.exited.then((code) => {
    exitCode = code;
  });
  // Connected to the server's own maintenance database, so the kills never hit the killer.
  admin = new pg.Client({ connectionString: inject('testDb').adminUrl });
  admin.on('error', () => undefined);
  await admin.connect();
});

afterAll(async () => {
  closeStream?.();
  await admin?.end().catch(() => undefined);
  if (serve && exitCode === undefined) {
    serve.child.kill('SIGTERM');
    const drained = await Promise.race([serve.exited.then(() => true), sleep(10_000).then(() => false)]);
    if (!drained) serve.child.kill('SIGKILL');
  }
  await rm(dataDir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the service logged at error level (a 500's cause). */
const errorLines = () =>
  (serve.output().stdout + serve.output().stderr)
    .split('\n')
    .filter((l) => l.includes('"level":50'))
    .join('\n');

/** Terminates every backend of the service's database; returns how many there were. */
async function killConnections(): Promise<number> {
  const { rows } = await admin.query(
    'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
    [db.name],
  );
  return rows.length;
}

/** `KILLS` kills, `KILL_INTERVAL_MS` apart; resolves with the time of the last one. */
async function killRepeatedly(): Promise<{ lastKill: number; killed: number }> {
  let killed = 0;
  let lastKill = 0;
  for (let i = 0; i < KILLS; i++) {
    if (i > 0) await sleep(KILL_INTERVAL_MS);
    killed += await killConnections();
    lastKill = Date.now();
  }
  return { lastKill, killed };
}

/** Polls /health until it answers 200; resolves with when it did. */
async function healthyAgain(deadline: number): Promise<number> {
  while (Date.now() < deadline) {
    const ok = await fetch(`${serve.baseUrl}/health`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return Date.now();
    await sleep(100);
  }
  throw new Error('/health did not answer 200 in time');
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

interface Traffic {
  acked: Set<string>;
  /** Every status other than 200, 429 and 503 an OTLP client or the query loop got, with where. */
  unexpected: string[];
  retried: number;
}

/** Sends spans until `stop` is aborted, retrying 429/503 (and refused connections) as OTLP exporters do. */
async function otlpClient(
  format: 'json' | 'protobuf',
  stop: AbortSignal,
  traffic: Traffic,
  batches = Infinity,
) {
  for (let sent = 0; sent < batches && !stop.aborted; sent++) {
    const spanIds = Array.from({ length: 5 }, () => hex(8));
    const { body, type } = otlpSpansRequest(spanIds, { format, service: 'faults' });
    for (let attempt = 0; ; attempt++) {
      if (attempt > 50) {
        traffic.unexpected.push('POST /v1/traces: a batch was never acknowledged');
        return;
      }
      const res = await fetch(`${serve.baseUrl}/v1/traces`, {
        method: 'POST',
        body,
        headers: { authorization: `Bearer ${ingestKey}`, 'content-type': type },
      }).catch(() => undefined);
      if (res?.status === 200) {
        await res.arrayBuffer();
        for (const id of spanIds) traffic.acked.add(id);
        break;
      }
      if (res && res.status !== 429 && res.status !== 503) {
        traffic.unexpected.push(`POST /v1/traces ${res.status} ${await res.text()}`);
        break;
      }
      await res?.arrayBuffer();
      traffic.retried++;
      await sleep(Number(res?.headers.get('retry-after') ?? 1) * 100);
    }
    await sleep(100);
  }
}

async function queryLoop(stop: AbortSignal, traffic: Traffic): Promise<number> {
  const paths = ['/api/telemetry/events?limit=20', '/api/telemetry?action=models&range=1h', '/api/whoami'];
  let answered = 0;
  while (!stop.aborted) {
    for (const path of paths) {
      const res = await fetch(`${serve.baseUrl}${path}`, {
        headers: { authorization: `Bearer ${viewerKey}` },
      }).catch(() => undefined);
      if (!res) {
        traffic.unexpected.push(`GET ${path}: no answer`);
        return answered;
      }
      await res.arrayBuffer();
      answered++;
      if (res.status !== 200 && res.status !== 503) traffic.unexpected.push(`GET ${path} ${res.status}`);
      if (res.status === 503 && !res.headers.get('retry-after')) {
        traffic.unexpected.push(`GET ${path} 503 without Retry-After`);
      }
    }
    await sleep(50);
  }
  return answered;
}

/** A live-stream client collecting the span ids of every telemetry event it receives (duplicates included). */
function streamClient() {
  const controller = new AbortController();
  const received: string[] = [];
  const statuses: number[] = [];
  const failures: string[] = [];
  const done = (async () => {
    const res = await fetch(`${serve.baseUrl}/api/telemetry/stream`, {
      headers: { authorization: `Bearer ${viewerKey}` },
      signal: controller.signal,
    });
    statuses.push(res.status);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const lines = buffer.slice(0, end).split('\n');
        buffer = buffer.slice(end + 2);
        if (!lines.includes('event: telemetry')) continue;
        const data = lines.find((l) => l.startsWith('data: '));
        if (data) received.push((JSON.parse(data.slice(6)) as { span_id: string }).span_id);
      }
    }
  })().catch((err: Error) => {
    if (err.name !== 'AbortError') failures.push(err.message);
  });
  return { received, statuses, failures, close: () => controller.abort(), done };
}

async function storedCounts(spanIds: string[]): Promise<Map<string, number>> {
  const { rows } = await db.pool.query<{ span_id: string; n: number }>(
    'SELECT span_id, count(*)::int AS n FROM ai_events WHERE span_id = ANY($1) GROUP BY span_id',
    [spanIds],
  );
  return new Map(rows.map((r) => [r.span_id, r.n]));
}

describe('database faults', () => {
  it('keeps serving through killed connections, under load and idle, losing and doubling nothing', async () => {
    const stream = streamClient();
    closeStream = stream.close;
    await waitFor('the stream to connect', () => stream.statuses.length > 0);
    expect(stream.statuses).toEqual([200]);

    // Under load: three OTLP clients, a query loop and the stream while every connection is killed ten times.
    const traffic: Traffic = { acked: new Set(), unexpected: [], retried: 0 };
    const stop = new AbortController();
    const clients = Promise.all([
      otlpClient('json', stop.signal, traffic),
      otlpClient('json', stop.signal, traffic),
      otlpClient('protobuf', stop.signal, traffic),
    ]);
    const queries = queryLoop(stop.signal, traffic);
    const underLoad = await killRepeatedly();
    expect(underLoad.killed).toBeGreaterThanOrEqual(KILLS);
    stop.abort();
    await clients;
    const answered = await queries;
    expect(await healthyAgain(underLoad.lastKill + HEALTHY_WITHIN_MS)).toBeLessThanOrEqual(
      underLoad.lastKill + HEALTHY_WITHIN_MS,
    );
    expect(exitCode).toBeUndefined();
    expect(traffic.unexpected, `the service logged:\n${errorLines()}`).toEqual([]);
    expect(answered).toBeGreaterThan(0);
    expect(traffic.acked.size).toBeGreaterThan(0);

    // Idle: only the service's own background work (alert engine, LISTEN, export worker) is hit.
    const idle = await killRepeatedly();
    expect(await healthyAgain(idle.lastKill + HEALTHY_WITHIN_MS)).toBeLessThanOrEqual(
      idle.lastKill + HEALTHY_WITHIN_MS,
    );
    expect(exitCode).toBeUndefined();

    // After the kills: new spans are taken, and the stream that stayed open through it all delivers them.
    const after: Traffic = { acked: new Set(), unexpected: [], retried: 0 };
    await otlpClient('json', new AbortController().signal, after, 2);
    expect(after.unexpected).toEqual([]);
    expect(after.acked.size).toBe(10);
    await waitFor('the stream to deliver the spans sent after the kills', () =>
      [...after.acked].every((id) => stream.received.includes(id)),
    );

    // Every acknowledged span is stored exactly once (spilled ones once replayed) and streamed exactly once.
    const acked = [...traffic.acked, ...after.acked];
    await waitFor(
      'every acknowledged span to be stored',
      async () => (await storedCounts(acked)).size === acked.length,
    );
    expect([...(await storedCounts(acked)).values()].every((n) => n === 1)).toBe(true);
    await waitFor('the stream to deliver every acknowledged span', () => {
      const streamed = new Set(stream.received);
      return acked.every((id) => streamed.has(id));
    });
    expect(stream.received.length).toBe(new Set(stream.received).size);

    expect(exitCode).toBeUndefined();
    expect(serve.output().stderr).not.toMatch(/Unhandled|uncaught/i);
    expect(stream.failures).toEqual([]);
    stream.close();
    await stream.done;
  }, 90_000);
});
