import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEvent } from '../../exporter-postgres/test/make-event.ts';
import { type RunningServe, startServe } from '../../test-support/cli.ts';
import { createTestDatabase } from '../../test-support/database.ts';
import { insertEvents } from '../../test-support/insert-events.ts';
import { createKey } from '../src/keys/keys.ts';

/**
 * Hostile input through a real `observatory serve`: each request is refused with a 400 problem naming the field,
 * never a 500, and nothing about it reaches stderr as a stack trace.
 */

const db = await createTestDatabase();
let serve: RunningServe;
let admin: string;
const alertId = randomUUID();

beforeAll(async () => {
  admin = (await createKey(db.pool, { orgId: 'acme', role: 'org_admin' })).key;
  await insertEvents(
    db.pool,
    [1, 2, 3].map((m) => makeEvent({ org_id: 'acme', created_at: new Date(Date.now() - m * 60_000) })),
  );
  await db.pool.query(
    `INSERT INTO alerts (id, org_id, source, fingerprint, name, severity, summary, status, labels, started_at)
     VALUES ($1, 'acme', 'prometheus', $2, 'HighErrorRate', 'critical', 'errors', 'active', '{}', now())`,
    [alertId, randomUUID()],
  );
  serve = await startServe({ DATABASE_URL: db.url, OBSERVATORY_WORKER: 'false', LOG_LEVEL: 'info' });
});

afterAll(async () => {
  serve.child.kill('SIGTERM');
  await serve.exited;
});

interface Answer {
  status: number;
  type: string;
  body: { errors?: { field: string }[] };
}

async function send(path: string, init: RequestInit = {}): Promise<Answer> {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${admin}`);
  if (init.body) headers.set('content-type', 'application/json');
  const res = await fetch(serve.baseUrl + path, { ...init, headers, signal: AbortSignal.timeout(10_000) });
  const type = res.headers.get('content-type') ?? '';
  if (type.includes('json')) return { status: res.status, type, body: (await res.json()) as Answer['body'] };
  await res.body?.cancel();
  return { status: res.status, type, body: {} };
}

function expectRefused(answer: Answer, field: string, what: string): void {
  expect(answer.status, what).toBe(400);
  expect(answer.type, what).toBe('application/problem+json');
  expect(
    answer.body.errors?.map((e) => e.field),
    what,
  ).toContain(field);
}

const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

describe('small doors', () => {
  it('refuse NUL and invalid UTF-8 in query parameters with 400 naming the parameter', async () => {
    const cases: [path: string, field: string][] = [
      ['/api/telemetry/events?model_name=%00', 'model_name'],
      ['/api/telemetry/events?model_name=gpt%C3%28', 'model_name'],
      ['/api/telemetry/events?limit=5&user_id=a%00b', 'user_id'],
      ['/api/telemetry/events?%C3%28=1', '%C3%28'],
      ['/api/telemetry/events/stream?endpoint=%00', 'endpoint'],
      ['/api/telemetry?action=overview&org_id=%00', 'org_id'],
      ['/api/telemetry/alerts?severity=%00', 'severity'],
      ['/api/telemetry/stream?model_name=%C3%28', 'model_name'],
      ['/api/telemetry/exports?limit=%FF', 'limit'],
    ];
    for (const [path, field] of cases) expectRefused(await send(path), field, path);
  });

  it('take back the cursors the service issued and refuse every other one with 400', async () => {
    const first = await send('/api/telemetry/events?limit=1');
    const issued = (first.body as { next_cursor: string }).next_cursor;
    expect((await send(`/api/telemetry/events?limit=1&cursor=${issued}`)).status).toBe(200);

    const forged = [
      cursorOf(['2026-01-01T00:00:00.000Z', '-'.repeat(36)]),
      cursorOf(['-271821-04-20T00:00:00.000Z', ZERO_UUID]),
      cursorOf(['+275760-09-13T00:00:00.000Z', ZERO_UUID]),
      cursorOf([1, ZERO_UUID]),
      cursorOf(['2026-01-01', ZERO_UUID]),
      cursorOf({ created_at: '2026-01-01T00:00:00.000Z', id: ZERO_UUID }),
      cursorOf(['2026-01-01T00:00:00.000Z', ZERO_UUID, 'extra']),
      `${issued}A`,
      'not a cursor',
    ];
    for (const cursor of forged) {
      expectRefused(
        await send(`/api/telemetry/events?cursor=${encodeURIComponent(cursor)}`),
        'cursor',
        cursor,
      );
    }
    for (const lastEventId of [`-200000-01-01T00:00:00.000Z_${'-'.repeat(36)}`, `2026-01-01_${ZERO_UUID}`]) {
      expectRefused(
        await send('/api/telemetry/stream', { headers: { 'last-event-id': lastEventId } }),
        'Last-Event-ID',
        lastEventId,
      );
    }
  });

  it('refuse NUL in stored text of JSON bodies, and malformed JSON, with 400', async () => {
    const cases: [path: string, body: unknown, field: string][] = [
      ['/api/keys', { role: 'viewer', name: 'ci\u0000' }, 'name'],
      [
        '/api/telemetry/alert-rules',
        { name: 'errors\u0000', metric: 'error_rate', threshold: 0.1, window_seconds: 300 },
        'name',
      ],
      [`/api/telemetry/alerts/${alertId}/ack`, { note: '\u0000' }, 'note'],
      ['/api/telemetry/export', { format: 'csv', filters: { model_name: '\u0000' } }, 'filters.model_name'],
    ];
    for (const [path, body, field] of cases) {
      expectRefused(await send(path, { method: 'POST', body: JSON.stringify(body) }), field, path);
    }
    const malformed = await send('/api/keys', { method: 'POST', body: '{"role":' });
    expect(malformed.status).toBe(400);
    expect(malformed.type).toBe('application/problem+json');
  });

  it('log no stack trace and no error for any of these client errors', async () => {
    const marker = randomUUID();
    await send('/api/telemetry/events?model_name=%00', { headers: { 'x-request-id': marker } });
    // The request line is written once the answer has gone out; wait for it rather than for a fixed time.
    const deadline = Date.now() + 10_000;
    while (!serve.output().stdout.includes(marker) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const { stdout, stderr } = serve.output();
    const lines = stdout.split('\n').filter((l) => l.startsWith('{'));
    const logged = lines.map((l) => JSON.parse(l) as { msg: string; status?: number; level: number });
    expect(logged.filter((l) => l.msg === 'request' && l.status === 400).length).toBeGreaterThan(20);
    expect(logged.filter((l) => l.level >= 50)).toEqual([]);
    expect(stdout).not.toMatch(/"stack"/);
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});
