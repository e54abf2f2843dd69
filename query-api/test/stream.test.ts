import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import type { AiEvent } from '@observatory/exporter-postgres';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventId } from '../../exporter-postgres/src/mapping/event-id.ts';
import { makeEvent } from '../../exporter-postgres/test/make-event.ts';
import { createTestDatabase } from '../../test-support/database.ts';
import { insertEvents } from '../../test-support/insert-events.ts';
import { connectSse } from '../../test-support/sse-client.ts';
import { until } from '../../test-support/until.ts';
import { createApp } from '../src/app.ts';
import { createKey } from '../src/keys/keys.ts';
import { StreamHub, type StreamMessage } from '../src/stream/hub.ts';
import { publishCommitted } from '../src/stream/publish.ts';

const db = await createTestDatabase();
const logger = pino({ level: 'silent' });

interface Instance {
  hub: StreamHub;
  server: Server;
  url: string;
}
const instances: Instance[] = [];
let acmeKey: string;
let globexKey: string;

/** A service replica of its own: app, hub with its own LISTEN connection, HTTP server. */
async function replica(stream = {}): Promise<Instance> {
  const hub = new StreamHub(db.url, db.pool);
  await hub.start();
  const app = createApp({ pool: db.pool, logger, hub, stream });
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
  await new Promise((r) => server.once('listening', r));
  const instance = { hub, server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
  instances.push(instance);
  return instance;
}

beforeAll(async () => {
  acmeKey = (await createKey(db.pool, { orgId: 'acme', role: 'viewer' })).key;
  globexKey = (await createKey(db.pool, { orgId: 'globex', role: 'viewer' })).key;
});
afterAll(async () => {
  for (const i of instances) {
    i.server.closeAllConnections();
    await new Promise((r) => i.server.close(r));
    await i.hub.stop();
  }
});

/** The shared SSE client, with the telemetry events parsed. */
function connect(url: string, headers: Record<string, string>) {
  const client = connectSse(url, headers);
  return { ...client, telemetry: () => client.data<AiEvent>('telemetry') };
}

/** What the ingest pipeline does on commit: rows first, then the notification. */
async function ingest(events: AiEvent[]) {
  await insertEvents(db.pool, events);
  await publishCommitted(db.pool, events);
}

/**
 * A write transaction on a connection of its own, left open: what it inserts commits (and is notified, as ingest
 * does) only at `commit`, so a test decides in which order two batches start, write and commit.
 */
async function openTransaction() {
  const client = await db.pool.connect();
  await client.query('BEGIN');
  const inTransaction = { query: client.query.bind(client) } as unknown as pg.Pool;
  let inserted: AiEvent[] = [];
  return {
    async insert(events: AiEvent[]) {
      await insertEvents(inTransaction, events);
      inserted = events;
    },
    async commit() {
      await client.query('COMMIT');
      client.release();
      await publishCommitted(db.pool, inserted);
    },
  };
}

const requestIds = (client: ReturnType<typeof connect>) => client.telemetry().map((e) => e.request_id);

let clock = Date.now();
/** The next event; like ingest's ids, its id sorts by time, which is the stream's order within one batch. */
function next(partial: Partial<AiEvent>): AiEvent {
  clock += 5;
  const at = new Date(clock);
  return makeEvent({ id: eventId(randomUUID(), '', clock), received_at: at, created_at: at, ...partial });
}

describe('GET /api/telemetry/stream', () => {
  it('delivers new events in order on every replica, and never another org events', async () => {
    const [a, b] = [await replica(), await replica()];
    const onA = connect(`${a.url}/api/telemetry/stream`, { authorization: `Bearer ${acmeKey}` });
    const onB = connect(`${b.url}/api/telemetry/stream`, { authorization: `Bearer ${acmeKey}` });
    const globex = connect(`${b.url}/api/telemetry/stream`, { authorization: `Bearer ${globexKey}` });
    await until('connected', () =>
      [onA, onB, globex].every((c) => c.messages.some((m) => m.event === 'connected')),
    );
    const events = Array.from({ length: 5 }, (_, i) => next({ org_id: 'acme', request_id: `live-${i}` }));
    for (const e of events) await ingest([e]);
    await ingest([next({ org_id: 'globex', model_name: 'globex-only' })]);
    await until(
      'five events on both replicas',
      () => onA.telemetry().length >= 5 && onB.telemetry().length >= 5,
    );
    for (const client of [onA, onB])
      expect(client.telemetry().map((e) => e.request_id)).toEqual(events.map((e) => e.request_id));
    await until('the globex event', () => globex.telemetry().length >= 1);
    expect(globex.telemetry().map((e) => e.model_name)).toEqual(['globex-only']);
    expect(JSON.stringify(onA.messages)).not.toContain('globex-only');
    await Promise.all([onA.close(), onB.close(), globex.close()]);
  });

  it('replays exactly the missed events after Last-Event-ID, then goes on live', async () => {
    const a = await replica();
    const first = connect(`${a.url}/api/telemetry/stream`, { authorization: `Bearer ${acmeKey}` });
    await until('connected', () => first.messages.some((m) => m.event === 'connected'));
    const seen = next({ org_id: 'acme', request_id: 'seen' });
    await ingest([seen]);
    await until('the first event', () => first.telemetry().length === 1);
    const lastId = first.messages.find((m) => m.event === 'telemetry')!.id!;
    await first.close();

    const missed = [
      next({ org_id: 'acme', request_id: 'missed-1' }),
      next({ org_id: 'acme', request_id: 'missed-2' }),
    ];
    await ingest(missed);
    const again = connect(`${a.url}/api/telemetry/stream`, {
      authorization: `Bearer ${acmeKey}`,
      'last-event-id': lastId,
    });
    await until('the replay', () => again.telemetry().length >= 2);
    await ingest([next({ org_id: 'acme', request_id: 'after' })]);
    await until('the live event after the replay', () => again.telemetry().length >= 3);
    expect(again.telemetry().map((e) => e.request_id)).toEqual(['missed-1', 'missed-2', 'after']);
    await again.close();
  });

  it('applies filters, sends heartbeats, and refuses a missing, invalid or expired session', async () => {
    const a = await replica({ heartbeatMs: 100 });
    const filtered = connect(`${a.url}/api/telemetry/stream?model_name=wanted&success=false`, {
      authorization: `Bearer ${acmeKey}`,
    });
    await until('connected', () => filtered.messages.some((m) => m.event === 'connected'));
    await ingest([
      next({ org_id: 'acme', model_name: 'wanted', success: true }),
      next({ org_id: 'acme', model_name: 'wanted', success: false, error_code: 'timeout' }),
      next({ org_id: 'acme', model_name: 'other', success: false }),
    ]);
    await until(
      'a match and a heartbeat',
      () => filtered.telemetry().length >= 1 && filtered.messages.some((m) => m.event === 'heartbeat'),
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(filtered.telemetry().map((e) => [e.model_name, e.success])).toEqual([['wanted', false]]);
    await filtered.close();

    const anonymous = connect(`${a.url}/api/telemetry/stream`, {});
    const forged = connect(`${a.url}/api/telemetry/stream`, { cookie: 'obs_session=forged' });
    const session = await fetch(`${a.url}/api/session`, {
      method: 'POST',
      headers: { authorization: `Bearer ${acmeKey}` },
    });
    const cookie = session.headers.get('set-cookie')!.split(';')[0]!;
    expect(session.headers.get('set-cookie')).toMatch(/HttpOnly/i);
    const withSession = connect(`${a.url}/api/telemetry/stream`, { cookie });
    await until('a session-authenticated stream', () =>
      withSession.messages.some((m) => m.event === 'connected'),
    );
    await withSession.close();
    await db.pool.query("UPDATE sessions SET expires_at = now() - interval '1 second'");
    const expired = connect(`${a.url}/api/telemetry/stream`, { cookie });
    await until('refusals', () => [anonymous, forged, expired].every((c) => c.messages.length > 0));
    for (const c of [anonymous, forged, expired]) expect(c.messages[0]!.event).toBe('http-401');
  });

  it('drops a client that cannot keep up, with a final message, while the others get everything', async () => {
    const a = await replica({ maxBuffered: 1500 });
    const healthy = connect(`${a.url}/api/telemetry/stream`, { authorization: `Bearer ${acmeKey}` });
    const slowResponse = await fetch(`${a.url}/api/telemetry/stream`, {
      headers: { authorization: `Bearer ${acmeKey}` },
    });
    const slow = slowResponse.body!.getReader();
    await until('connected', () => healthy.messages.some((m) => m.event === 'connected'));
    // Some 20 MB while the slow client reads nothing: its socket fills, then its own small buffer.
    const burst = Array.from({ length: 6000 }, (_, i) =>
      next({ org_id: 'acme', request_id: `burst-${i}`, provenance: { padding: 'x'.repeat(3000) } }),
    );
    for (let i = 0; i < burst.length; i += 500) await ingest(burst.slice(i, i + 500));
    await until('the whole burst on the healthy client', () => healthy.telemetry().length >= 6000, {
      timeoutMs: 20_000,
    });

    let text = '';
    const decoder = new TextDecoder();
    for (let r = await slow.read(); !r.done; r = await slow.read())
      text += decoder.decode(r.value, { stream: true });
    const slowEvents = text.split('\n\n').filter((b) => b.startsWith('event: telemetry')).length;
    expect(slowEvents).toBeLessThan(6000);
    expect(text.trimEnd().split('\n\n').at(-1)).toMatch(/^event: overflow/);
    await healthy.close();
  });

  it('resumes after a batch that committed first without losing one received earlier that committed later', async () => {
    const [a, b] = [await replica(), await replica()];
    const watcher = connect(`${a.url}/api/telemetry/stream`, { authorization: `Bearer ${acmeKey}` });
    const first = connect(`${a.url}/api/telemetry/stream`, { authorization: `Bearer ${acmeKey}` });
    await until('connected', () =>
      [watcher, first].every((c) => c.messages.some((m) => m.event === 'connected')),
    );
    // Batch A is received (and its transaction started) first; batch B commits first.
    const earlier = next({ org_id: 'acme', request_id: 'earlier-committed-later' });
    const later = next({ org_id: 'acme', request_id: 'later-committed-first' });
    const txA = await openTransaction();
    await ingest([later]);
    await until('the batch that committed first', () => first.telemetry().length === 1);
    const lastId = first.messages.find((m) => m.event === 'telemetry')!.id!;
    await first.close();

    await txA.insert([earlier]);
    await txA.commit();
    const resumed = connect(`${b.url}/api/telemetry/stream`, {
      authorization: `Bearer ${acmeKey}`,
      'last-event-id': lastId,
    });
    await until('the replay', () => resumed.telemetry().length >= 1);
    await ingest([next({ org_id: 'acme', request_id: 'after' })]);
    await until('the live event', () => resumed.telemetry().length >= 2 && watcher.telemetry().length >= 3);
    expect(requestIds(resumed)).toEqual(['earlier-committed-later', 'after']);
    expect(requestIds(watcher)).toEqual(['later-committed-first', 'earlier-committed-later', 'after']);
    await Promise.all([watcher.close(), resumed.close()]);
  });

  it('holds a batch back while one that wrote before it is still open, then sends both in order, once', async () => {
    const a = await replica();
    const watcher = connect(`${a.url}/api/telemetry/stream`, { authorization: `Bearer ${acmeKey}` });
    await until('connected', () => watcher.messages.some((m) => m.event === 'connected'));
    await ingest([next({ org_id: 'acme', request_id: 'marker' })]);
    await until('the marker', () => watcher.telemetry().length === 1);
    const markerId = watcher.messages.find((m) => m.event === 'telemetry')!.id!;

    const txA = await openTransaction();
    await txA.insert([next({ org_id: 'acme', request_id: 'wrote-first' })]);
    await ingest([next({ org_id: 'acme', request_id: 'committed-first' })]);
    // Resuming while A is open: B is committed but must not be sent before A, which would then come after it.
    const resumed = connect(`${a.url}/api/telemetry/stream`, {
      authorization: `Bearer ${acmeKey}`,
      'last-event-id': markerId,
    });
    await until('the resumed stream', () => resumed.messages.some((m) => m.event === 'connected'));
    await txA.commit();
    await ingest([next({ org_id: 'acme', request_id: 'after' })]);
    await until(
      'everything on both',
      () => watcher.telemetry().length >= 4 && resumed.telemetry().length >= 3,
    );
    expect(requestIds(watcher)).toEqual(['marker', 'wrote-first', 'committed-first', 'after']);
    expect(requestIds(resumed)).toEqual(['wrote-first', 'committed-first', 'after']);
    await Promise.all([watcher.close(), resumed.close()]);
  });

  it('is not held back by a write transaction left open in another database of the same server', async () => {
    const elsewhere = await createTestDatabase();
    const other = await elsewhere.pool.connect();
    try {
      await other.query('BEGIN');
      await other.query('SELECT pg_current_xact_id()');
      const a = await replica();
      const watcher = connect(`${a.url}/api/telemetry/stream`, { authorization: `Bearer ${acmeKey}` });
      await until('connected', () => watcher.messages.some((m) => m.event === 'connected'));
      await ingest([next({ org_id: 'acme', request_id: 'while-another-database-writes' })]);
      await until('the event', () => watcher.telemetry().length === 1);
      expect(requestIds(watcher)).toEqual(['while-another-database-writes']);
      await watcher.close();
    } finally {
      await other.query('ROLLBACK');
      other.release();
    }
  });

  it('still resumes from an id of the earlier format, from the time it names', async () => {
    const a = await replica();
    const before = next({ org_id: 'acme', request_id: 'old-format-seen' });
    const missed = next({ org_id: 'acme', request_id: 'old-format-missed' });
    await ingest([before, missed]);
    const resumed = connect(`${a.url}/api/telemetry/stream`, {
      authorization: `Bearer ${acmeKey}`,
      'last-event-id': `${before.received_at.toISOString()}_${before.id}`,
    });
    await until('the replay', () => resumed.telemetry().length >= 1);
    await ingest([next({ org_id: 'acme', request_id: 'old-format-after' })]);
    await until('the live event', () => resumed.telemetry().length >= 2);
    expect(requestIds(resumed)).toEqual(['old-format-missed', 'old-format-after']);
    expect(resumed.messages.find((m) => m.event === 'telemetry')!.id).toMatch(/^[0-9]+_[0-9a-f-]{36}$/);
    await resumed.close();
  });
});

describe('the stream hub', () => {
  const telemetryOf = (messages: StreamMessage[]) =>
    messages.flatMap((m) => (m.kind === 'telemetry' ? [m.event.request_id] : []));

  it('delivers every event of an org whose first subscriber joined while a read waited for a connection', async () => {
    const tiny = new pg.Pool({ connectionString: db.url, max: 1 });
    const hub = new StreamHub(db.url, tiny);
    try {
      await hub.start();
      const acme: StreamMessage[] = [];
      const globex: StreamMessage[] = [];
      hub.subscribe('acme', (m) => acme.push(m));
      const held = await tiny.connect();
      await ingest([next({ org_id: 'acme', request_id: 'acme-while-held' })]);
      // The hub's read, for acme alone, now waits for the pool's one connection.
      await until('the read to wait', () => tiny.waitingCount === 1);
      hub.subscribe('globex', (m) => globex.push(m));
      await ingest([next({ org_id: 'globex', request_id: 'globex-after-joining' })]);
      held.release();
      await until('the acme event', () => acme.length === 1);
      await ingest([next({ org_id: 'globex', request_id: 'globex-later' })]);
      await until('both globex events', () => telemetryOf(globex).includes('globex-later'));
      expect(telemetryOf(globex)).toEqual(['globex-after-joining', 'globex-later']);
      expect(telemetryOf(acme)).toEqual(['acme-while-held']);
    } finally {
      await hub.stop();
      await tiny.end();
    }
  });

  it('delivers a backlog larger than one turn in full, in order, in turns', async () => {
    const hub = new StreamHub(db.url, db.pool, undefined, { maxCatchUp: 1000 });
    try {
      await hub.start();
      const got: StreamMessage[] = [];
      hub.subscribe('acme', (m) => got.push(m));
      const backlog = Array.from({ length: 2500 }, (_, i) =>
        next({ org_id: 'acme', request_id: `backlog-${i}` }),
      );
      await ingest(backlog);
      await until('the whole backlog', () => got.length >= backlog.length);
      expect(telemetryOf(got)).toEqual(backlog.map((e) => e.request_id));
    } finally {
      await hub.stop();
    }
  });
});
