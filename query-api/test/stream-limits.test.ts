import { Agent, get, type Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import type { AiEvent } from '@observatory/exporter-postgres';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { makeEvent } from '../../exporter-postgres/test/make-event.ts';
import { createTestDatabase } from '../../test-support/database.ts';
import { insertEvents } from '../../test-support/insert-events.ts';
import { connectSse, openRawStream, type RawStream, type SseClient } from '../../test-support/sse-client.ts';
import { until } from '../../test-support/until.ts';
import { createApp } from '../src/app.ts';
import { createKey, revokeKey } from '../src/keys/keys.ts';
import { sessionTokenHash } from '../src/keys/sessions.ts';
import { StreamHub } from '../src/stream/hub.ts';
import { publishCommitted } from '../src/stream/publish.ts';
import type { StreamOptions } from '../src/stream/sse-route.ts';

const db = await createTestDatabase();
const logger = pino({ level: 'silent' });
// The service's own pool settings: ten connections, and a wait for one fails after 5 s.
const pool = new pg.Pool({ connectionString: db.url, max: 10, connectionTimeoutMillis: 5000 });
pool.on('error', () => undefined);

interface Instance {
  hub: StreamHub;
  server: Server;
  url: string;
}
const instances: Instance[] = [];
const clients: SseClient[] = [];
const floods: RawStream[] = [];

async function replica(stream: StreamOptions = {}): Promise<Instance> {
  const hub = new StreamHub(db.url, pool);
  await hub.start();
  const app = createApp({ pool, logger, hub, stream });
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  // A backlog that holds the whole flood: connections dropped by a full accept queue retry only after seconds.
  await new Promise((r) => server.listen({ port: 0, host: '127.0.0.1', backlog: 2048 }, () => r(undefined)));
  const instance = { hub, server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
  instances.push(instance);
  return instance;
}

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  for (const s of floods) s.close();
  for (const i of instances) {
    i.server.closeAllConnections();
    await new Promise((r) => i.server.close(r));
    await i.hub.stop();
  }
  await pool.end();
});

function open(instance: Instance, headers: Record<string, string>, query = ''): SseClient {
  const client = connectSse(`${instance.url}/api/telemetry/stream${query}`, headers);
  clients.push(client);
  return client;
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const connected = (c: SseClient) => c.messages.some((m) => m.event === 'connected');
const answered = (c: SseClient) => c.messages.length > 0;

async function signIn(instance: Instance, key: string): Promise<{ cookie: string; token: string }> {
  const res = await fetch(`${instance.url}/api/session`, { method: 'POST', headers: bearer(key) });
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
  return { cookie, token: cookie.slice(cookie.indexOf('=') + 1) };
}

async function ingest(events: AiEvent[]) {
  await insertEvents(pool, events);
  await publishCommitted(pool, events);
}

let clock = Date.now();
function next(partial: Partial<AiEvent>): AiEvent {
  clock += 5;
  return makeEvent({ received_at: new Date(clock), created_at: new Date(clock), ...partial });
}

interface Closed {
  reason: string;
  detail: string;
  last_event_id: string | null;
}

describe('live stream limits', () => {
  let viewer: string;
  beforeAll(async () => {
    viewer = (await createKey(db.pool, { orgId: 'acme', role: 'viewer' })).key;
  });

  it('closes the streams of a revoked key, a signed-out session and an expired one within the re-check interval', async () => {
    const recheckMs = 400;
    const a = await replica({ recheckMs });
    const doomed = await createKey(db.pool, { orgId: 'acme', role: 'viewer' });
    const signedOut = await signIn(a, viewer);
    const expiring = await signIn(a, viewer);
    const onRevoked = open(a, bearer(doomed.key));
    const onSignedOut = open(a, { cookie: signedOut.cookie });
    const onExpired = open(a, { cookie: expiring.cookie });
    const onKept = open(a, bearer(viewer));
    const all = [onRevoked, onSignedOut, onExpired, onKept];
    await until('four connected streams', () => all.every(connected));
    await ingest([next({ org_id: 'acme', request_id: 'before' })]);
    await until('the first event on every stream', () => all.every((c) => c.data('telemetry').length === 1));

    const changed = Date.now();
    await revokeKey(db.pool, doomed.id);
    await fetch(`${a.url}/api/session`, { method: 'DELETE', headers: { cookie: signedOut.cookie } });
    await db.pool.query(
      "UPDATE sessions SET expires_at = now() - interval '1 second' WHERE token_hash = $1",
      [sessionTokenHash(expiring.token)],
    );
    const ending = [onRevoked, onSignedOut, onExpired];
    // At most one interval after the change, plus generous room for a loaded machine.
    await until('the three streams ended', () => ending.every((c) => c.ended()), {
      timeoutMs: 10 * recheckMs,
    });
    expect(Date.now() - changed).toBeLessThan(10 * recheckMs);
    expect(ending.map((c) => c.messages.at(-1)!.event)).toEqual(['closed', 'closed', 'closed']);
    expect(ending.map((c) => c.data<Closed>('closed')[0]!.reason)).toEqual([
      'key_revoked',
      'session_ended',
      'session_expired',
    ]);

    await ingest([next({ org_id: 'acme', request_id: 'after' })]);
    await until('the second event on the stream still allowed', () => onKept.data('telemetry').length === 2);
    for (const c of ending) expect(c.data<AiEvent>('telemetry').map((e) => e.request_id)).toEqual(['before']);
    expect(onKept.ended()).toBe(false);

    const again = [open(a, bearer(doomed.key)), open(a, { cookie: signedOut.cookie })];
    await until('answers to the revoked credentials', () => again.every(answered));
    expect(again.map((c) => c.messages[0]!.event)).toEqual(['http-401', 'http-401']);
    await onKept.close();
  });

  it('refuses a stream past the per-key or per-org cap with 429 and Retry-After, and admits again once one closes', async () => {
    const a = await replica({ maxPerKey: 2, maxPerOrg: 3 });
    const first = (await createKey(db.pool, { orgId: 'initech', role: 'viewer' })).key;
    const second = (await createKey(db.pool, { orgId: 'initech', role: 'org_admin' })).key;
    const elsewhere = (await createKey(db.pool, { orgId: 'umbrella', role: 'viewer' })).key;

    const firstTwo = [open(a, bearer(first)), open(a, bearer(first))];
    await until('two streams of the first key', () => firstTwo.every(connected));
    const overKey = open(a, bearer(first));
    const ofSecond = open(a, bearer(second));
    await until('the third stream of the key and one more', () => answered(overKey) && connected(ofSecond));
    const overOrg = open(a, bearer(second));
    const otherOrg = open(a, bearer(elsewhere));
    await until(
      'the fourth stream of the org and another org',
      () => answered(overOrg) && connected(otherOrg),
    );

    for (const [refused, cap] of [
      [overKey, 'key'],
      [overOrg, 'org'],
    ] as const) {
      expect(refused.messages[0]!.event).toBe('http-429');
      expect(refused.response()!.headers.get('content-type')).toBe('application/problem+json');
      expect(Number(refused.response()!.headers.get('retry-after'))).toBeGreaterThan(0);
      const problem = JSON.parse(refused.messages[0]!.data) as { status: number; detail: string };
      expect(problem.status).toBe(429);
      expect(problem.detail).toContain(`This ${cap} already has`);
    }

    await firstTwo[0]!.close();
    let replacement = open(a, bearer(first));
    // The server frees the slot once it notices the client went away; until then the cap still counts it.
    for (const deadline = Date.now() + 5000; ; ) {
      await until('an answer to the replacement stream', () => answered(replacement));
      if (connected(replacement) || Date.now() > deadline) break;
      replacement = open(a, bearer(first));
    }
    expect(replacement.messages[0]!.event).toBe('connected');
  });

  it('ends a stream at its maximum lifetime with the id to resume from, and the reconnect misses nothing', async () => {
    const maxLifetimeMs = 800;
    const a = await replica({ maxLifetimeMs });
    const opened = Date.now();
    const stream = open(a, bearer(viewer), '?model_name=lifetime');
    await until('connected', () => connected(stream));
    await ingest([next({ org_id: 'acme', model_name: 'lifetime', request_id: 'seen' })]);
    await until('the first event', () => stream.data('telemetry').length === 1);
    await until('the end of the stream', () => stream.ended(), { timeoutMs: 10 * maxLifetimeMs });
    expect(Date.now() - opened).toBeGreaterThanOrEqual(0.9 * maxLifetimeMs);
    const closed = stream.data<Closed>('closed');
    expect(closed).toHaveLength(1);
    expect(closed[0]!.reason).toBe('max_lifetime');
    expect(closed[0]!.detail).toContain('Last-Event-ID');
    expect(closed[0]!.last_event_id).toBe(stream.messages.find((m) => m.event === 'telemetry')!.id);

    await ingest([next({ org_id: 'acme', model_name: 'lifetime', request_id: 'missed' })]);
    const resumed = open(
      a,
      { ...bearer(viewer), 'last-event-id': closed[0]!.last_event_id! },
      '?model_name=lifetime',
    );
    await until('the replay after reconnecting', () => resumed.data('telemetry').length >= 1);
    expect(resumed.data<AiEvent>('telemetry').map((e) => e.request_id)).toEqual(['missed']);
    await resumed.close();
  });

  it('answers 503 with Retry-After, not 500, when the pool has no connection for the credential check', async () => {
    const tiny = new pg.Pool({ connectionString: db.url, max: 1, connectionTimeoutMillis: 200 });
    const busy = await tiny.connect();
    try {
      const app = createApp({ pool: tiny, logger, hub: new StreamHub(db.url, tiny) });
      const res = await app.request('/api/telemetry/stream', { headers: bearer(viewer) });
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      busy.release();
      await tiny.end();
    }
  });

  it('takes a flood of 1,100 streams from one key: 1,000 admitted, the rest 429, no 5xx, other orgs and /health unaffected', async () => {
    const recheckMs = 500;
    const a = await replica({ maxPerKey: 1000, maxPerOrg: 1000, recheckMs });
    const flooder = (await createKey(db.pool, { orgId: 'flood', role: 'viewer' })).key;
    const neighbour = (await createKey(db.pool, { orgId: 'neighbour', role: 'viewer' })).key;
    const other = open(a, bearer(neighbour));
    await until('the other org connected', () => connected(other));

    // /health over one kept-alive connection opened before the flood: the listen backlog the flood fills would
    // otherwise delay the probe's own connect, which is not what a user of an open connection sees.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const checkHealth = () =>
      new Promise<{ status: number; ms: number }>((resolve, reject) => {
        const started = Date.now();
        get(`${a.url}/health`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode!, ms: Date.now() - started }));
        }).on('error', reject);
      });
    await checkHealth();
    const flood: RawStream[] = [];
    const answeredAll = () => flood.length === 1100 && flood.every((s) => s.status() !== undefined);
    const health: { status: number; ms: number }[] = [];
    const probe = (async () => {
      while (!answeredAll()) {
        health.push(await checkHealth().catch(() => ({ status: 0, ms: Number.POSITIVE_INFINITY })));
        await new Promise((r) => setTimeout(r, 50));
      }
      agent.destroy();
    })();
    // Waves of 100 every 50 ms: 1,100 concurrent streams within about half a second, without all their sockets
    // landing in one tick of this process, which runs the clients as well as the service.
    const opening = (async () => {
      for (let wave = 0; wave < 11; wave++) {
        for (let i = 0; i < 100; i++)
          flood.push(openRawStream(`${a.url}/api/telemetry/stream`, bearer(flooder)));
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const joining = open(a, bearer(neighbour));
    await ingest([next({ org_id: 'neighbour', request_id: 'neighbour-event' })]);
    await until('the other org event during the flood', () => other.data('telemetry').length === 1, {
      timeoutMs: 30_000,
    });
    await opening;
    floods.push(...flood);
    await until('an answer to every stream of the flood', answeredAll, { timeoutMs: 30_000 });
    await probe;
    await until('a stream of the other org opened during the flood', () => connected(joining), {
      timeoutMs: 30_000,
    });

    const statuses = new Map<number, number>();
    for (const s of flood) statuses.set(s.status()!, (statuses.get(s.status()!) ?? 0) + 1);
    expect(Object.fromEntries(statuses)).toEqual({ 200: 1000, 429: 100 });
    expect(health.length).toBeGreaterThan(0);
    expect(health.every((h) => h.status === 200)).toBe(true);
    // What this guards against is /health queued behind the flood's credential checks for a pool connection (waits
    // of up to 5 s; 20 s was seen). Accepting 1,100 streams alone keeps this shared two-core machine's event loop busy
    // for up to about a second, which is the margin above that.
    expect(Math.max(...health.map((h) => h.ms))).toBeLessThan(2000);

    await ingest([next({ org_id: 'flood', request_id: 'flood-event' })]);
    const admitted = flood.filter((s) => s.status() === 200);
    await until(
      'the event on every admitted stream',
      () => admitted.every((s) => s.text().includes('flood-event')),
      { timeoutMs: 15_000 },
    );
    expect(other.data<AiEvent>('telemetry').map((e) => e.request_id)).toEqual(['neighbour-event']);
    await joining.close();

    // Idle streams hold no connection, and their credentials are re-checked in one query per interval.
    await until('every connection idle', () => pool.idleCount === pool.totalCount && pool.waitingCount === 0);
    const query = vi.spyOn(pool, 'query');
    const statusQueries = () =>
      query.mock.calls.filter(([q]) => typeof q === 'string' && q.includes('FROM sessions')).length;
    const watching = Date.now();
    await until('three re-checks', () => statusQueries() >= 3, { timeoutMs: 20 * recheckMs });
    expect(Date.now() - watching).toBeGreaterThanOrEqual(2 * recheckMs * 0.9);
    expect(statusQueries()).toBe(3);
    query.mockRestore();
    for (const s of flood) s.close();
    await other.close();
  });
});
