import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAiMetrics, emptyDecisionContent, Ingest, LogIngest } from '@observatory/exporter-postgres';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { makeEvent } from '../../exporter-postgres/test/make-event.ts';
import { createTestDatabase } from '../../test-support/database.ts';
import { insertEvents } from '../../test-support/insert-events.ts';
import { createApp } from '../src/app.ts';
import { createDecisions } from '../src/decisions/decisions.ts';
import { LocalStorage } from '../src/exports/local-storage.ts';
import { createExportMetrics } from '../src/exports/metrics.ts';
import { DownloadSigner } from '../src/exports/signing.ts';
import { createKey } from '../src/keys/keys.ts';
import { StreamHub } from '../src/stream/hub.ts';

/**
 * Every route × every kind of caller → the status it must answer. The routes come from the app itself (built with
 * every optional part), so a route added without a row here fails the first test, and a row states its guard
 * for each caller. Callers of the other org use the first org's resource ids.
 */

const db = await createTestDatabase();
const logger = pino({ level: 'silent' });
const spillDir = await mkdtemp(join(tmpdir(), 'observatory-roles-'));
const exportDir = await mkdtemp(join(tmpdir(), 'observatory-roles-exports-'));
const metrics = createAiMetrics({ maxOrgs: 10, maxModels: 10 });
const ingest = new Ingest({ pool: db.pool, spillDir, metrics, flushIntervalMs: 10 });
await ingest.start();
const logs = new LogIngest({ pool: db.pool, spillDir: join(spillDir, 'logs'), flushIntervalMs: 10 });
await logs.start();
const hub = new StreamHub(db.url, db.pool);
await hub.start();
const ALERTMANAGER_TOKEN = randomBytes(24).toString('hex');
const decisions = createDecisions(db.pool);
const app = createApp({
  pool: db.pool,
  logger,
  decisions,
  alerting: { alertmanagerToken: ALERTMANAGER_TOKEN },
  exports: {
    storage: await new LocalStorage(exportDir).init(),
    signer: new DownloadSigner(randomBytes(32)),
    metrics: createExportMetrics(),
    rateLimitPerMinute: 10_000,
    urlTtlSeconds: 900,
  },
  ingest,
  logs,
  metrics,
  hub,
});

afterAll(async () => {
  await hub.stop();
  await ingest.shutdown();
  await logs.shutdown();
  await metrics.shutdown();
  await rm(spillDir, { recursive: true, force: true });
  await rm(exportDir, { recursive: true, force: true });
});

const CALLERS = ['none', 'ingest', 'viewer', 'org_admin', 'other_viewer', 'other_admin'] as const;
type Caller = (typeof CALLERS)[number];

const keys: Record<Exclude<Caller, 'none'>, string> = {
  ingest: (await createKey(db.pool, { orgId: 'acme', role: 'ingest' })).key,
  viewer: (await createKey(db.pool, { orgId: 'acme', role: 'viewer' })).key,
  org_admin: (await createKey(db.pool, { orgId: 'acme', role: 'org_admin' })).key,
  other_viewer: (await createKey(db.pool, { orgId: 'globex', role: 'viewer' })).key,
  other_admin: (await createKey(db.pool, { orgId: 'globex', role: 'org_admin' })).key,
};

// acme's resources, named by id in the paths every caller tries.
const event = makeEvent({
  org_id: 'acme',
  created_at: new Date(Date.now() - 60_000),
  trace_id: '0af7651916cd43dd8448eb211c80319c',
  span_id: 'b7ad6b7169203331',
  session_id: 'conversation-1',
});
await insertEvents(db.pool, [event]);
// The event's captured content, sealed with the app's keys, so its decision trace exists.
const [content] = await decisions.capture.seal([{ event, content: emptyDecisionContent() }]);
await db.pool.query(
  `INSERT INTO ai_event_content (org_id, created_at, event_id, ciphertext) VALUES ($1, $2, $3, decode($4, 'base64'))`,
  [content!.org_id, content!.created_at, content!.event_id, content!.ciphertext],
);
const acmeAdmin = { authorization: `Bearer ${keys.org_admin}`, 'content-type': 'application/json' };

async function newAlert(): Promise<string> {
  const id = randomUUID();
  await db.pool.query(
    `INSERT INTO alerts (id, org_id, source, fingerprint, name, severity, summary, status, labels, started_at)
     VALUES ($1, 'acme', 'prometheus', $2, 'HighErrorRate', 'critical', 'errors', 'active', '{}', now())`,
    [id, randomUUID()],
  );
  return id;
}

const ruleBody = () => ({
  name: `rule-${randomUUID()}`,
  metric: 'error_rate',
  threshold: 0.1,
  window_seconds: 300,
});

async function newRule(): Promise<string> {
  const res = await app.request('/api/telemetry/alert-rules', {
    method: 'POST',
    headers: acmeAdmin,
    body: JSON.stringify(ruleBody()),
  });
  return ((await res.json()) as { id: string }).id;
}

async function newExportJob(): Promise<string> {
  const res = await app.request('/api/telemetry/export', {
    method: 'POST',
    headers: acmeAdmin,
    body: JSON.stringify({ format: 'csv' }),
  });
  return ((await res.json()) as { job_id: string }).job_id;
}

async function newKey(): Promise<string> {
  return (await createKey(db.pool, { orgId: 'acme', role: 'viewer' })).id;
}

type Expected = Record<Caller, number>;

const statuses = (...s: number[]): Expected =>
  Object.fromEntries(CALLERS.map((caller, i) => [caller, s[i]!])) as Expected;

/** No caller needs a key; each gets the same answer. */
const publicRoute = (status: number) => statuses(...CALLERS.map(() => status));
/** viewer and org_admin of any org read their own org (an empty list for the other org). */
const orgRead = statuses(401, 403, 200, 200, 200, 200);
/** viewer and org_admin read this one resource of acme's; for the other org it does not exist. */
const resourceRead = statuses(401, 403, 200, 200, 404, 404);
/** org_admin only, on the caller's own org. */
const orgAdmin = (ok: number) => statuses(401, 403, 403, ok, 403, ok);
/** org_admin only, on one of acme's resources: the other org's admin is told it does not exist. */
const resourceAdmin = (ok: number) => statuses(401, 403, 403, ok, 403, 404);
/** Ingest keys only: they write, and nothing else. */
const ingestOnly = statuses(401, 200, 403, 403, 403, 403);

interface RouteCase {
  expected: Expected;
  /** The request to send; called once per caller, so a route that deletes gets a fresh resource each time. */
  request: () => Promise<{ path: string; init?: RequestInit }> | { path: string; init?: RequestInit };
}

const json = (method: string, body: unknown): RequestInit => ({
  method,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

const otlpJson = () =>
  json('POST', {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'roles' } }] },
        scopeSpans: [{ spans: [] }],
      },
    ],
  });

const envelope = () =>
  json('POST', {
    model_name: 'gpt-4o-mini',
    created_at: new Date().toISOString(),
    latency_ms: 100,
    success: true,
  });

const ROUTES: Record<string, RouteCase> = {
  // Public: no key needed, or a credential of their own that API keys do not replace.
  'GET /health': { expected: publicRoute(200), request: () => ({ path: '/health' }) },
  'GET /metrics': { expected: publicRoute(200), request: () => ({ path: '/metrics' }) },
  'GET /': { expected: publicRoute(200), request: () => ({ path: '/' }) },
  'GET /favicon.ico': { expected: publicRoute(200), request: () => ({ path: '/favicon.ico' }) },
  'GET /console/:file': { expected: publicRoute(200), request: () => ({ path: '/console/main.js' }) },
  'GET /console/pages/:file': {
    expected: publicRoute(200),
    request: () => ({ path: '/console/pages/explore.js' }),
  },
  'GET /console/lib/:file': { expected: publicRoute(200), request: () => ({ path: '/console/lib/api.js' }) },
  'GET /console/vendor/:file': {
    expected: publicRoute(200),
    request: () => ({ path: '/console/vendor/preact.js' }),
  },
  'GET /api/console/config': { expected: publicRoute(200), request: () => ({ path: '/api/console/config' }) },
  'GET /openapi.json': { expected: publicRoute(200), request: () => ({ path: '/openapi.json' }) },
  'GET /docs': { expected: publicRoute(200), request: () => ({ path: '/docs' }) },
  'DELETE /api/session': {
    expected: publicRoute(204),
    request: () => ({ path: '/api/session', init: { method: 'DELETE' } }),
  },
  // Console sign-in: open to anyone with a key to exchange, but an ingest key gets no session.
  'POST /api/session': {
    expected: orgRead,
    request: () => ({ path: '/api/session', init: { method: 'POST' } }),
  },
  'POST /api/telemetry/alerts/webhook': {
    // Its own token (OBSERVATORY_ALERTMANAGER_TOKEN); an API key is not it.
    expected: publicRoute(401),
    request: () => ({
      path: '/api/telemetry/alerts/webhook',
      init: json('POST', { version: '4', status: 'firing', alerts: [] }),
    }),
  },
  'GET /api/telemetry/export/:job_id/download': {
    // The signed URL is the credential; without a signature, no key opens it.
    expected: publicRoute(403),
    request: async () => ({ path: `/api/telemetry/export/${await newExportJob()}/download` }),
  },

  // Ingest keys write, and only that.
  'POST /v1/traces': { expected: ingestOnly, request: () => ({ path: '/v1/traces', init: otlpJson() }) },
  'POST /v1/logs': {
    expected: ingestOnly,
    request: () => ({ path: '/v1/logs', init: json('POST', { resourceLogs: [{ scopeLogs: [] }] }) }),
  },
  'POST /api/telemetry/events': {
    expected: ingestOnly,
    request: () => ({ path: '/api/telemetry/events', init: envelope() }),
  },

  // Reading: viewer and org_admin, always within their own org.
  'GET /api/whoami': { expected: orgRead, request: () => ({ path: '/api/whoami' }) },
  'GET /api/telemetry/events': { expected: orgRead, request: () => ({ path: '/api/telemetry/events' }) },
  'GET /api/telemetry/logs': { expected: orgRead, request: () => ({ path: '/api/telemetry/logs' }) },
  'GET /api/telemetry/events/stream': {
    expected: orgRead,
    request: () => ({ path: '/api/telemetry/events/stream' }),
  },
  'GET /api/telemetry/events/:id': {
    expected: resourceRead,
    request: () => ({ path: `/api/telemetry/events/${event.id}` }),
  },
  'GET /api/telemetry': {
    expected: orgRead,
    request: () => ({ path: '/api/telemetry?action=overview' }),
  },
  'GET /api/telemetry/alerts': { expected: orgRead, request: () => ({ path: '/api/telemetry/alerts' }) },
  'GET /api/telemetry/traces': { expected: orgRead, request: () => ({ path: '/api/telemetry/traces' }) },
  'GET /api/telemetry/traces/:trace_id': {
    expected: resourceRead,
    request: () => ({ path: `/api/telemetry/traces/${event.trace_id}` }),
  },
  'GET /api/telemetry/sessions': { expected: orgRead, request: () => ({ path: '/api/telemetry/sessions' }) },
  'GET /api/telemetry/sessions/:session_id': {
    expected: resourceRead,
    request: () => ({ path: `/api/telemetry/sessions/${event.session_id}` }),
  },
  'GET /api/telemetry/stream': { expected: orgRead, request: () => ({ path: '/api/telemetry/stream' }) },
  'GET /api/telemetry/settings': { expected: orgRead, request: () => ({ path: '/api/telemetry/settings' }) },
  'GET /api/telemetry/model-versions': {
    expected: orgRead,
    request: () => ({ path: '/api/telemetry/model-versions' }),
  },
  // Content: org_admin, or a viewer key holding traces:read (test/decision-traces.test.ts); a plain viewer key is refused.
  'GET /api/telemetry/events/:id/trace': {
    expected: statuses(401, 403, 403, 200, 403, 404),
    request: () => ({ path: `/api/telemetry/events/${event.id}/trace` }),
  },

  // Managing: org_admin of the org.
  'POST /api/telemetry/alerts/:alert_id/ack': {
    expected: resourceAdmin(200),
    request: async () => ({
      path: `/api/telemetry/alerts/${await newAlert()}/ack`,
      init: json('POST', { note: 'on it' }),
    }),
  },
  'GET /api/telemetry/alert-rules': {
    expected: orgAdmin(200),
    request: () => ({ path: '/api/telemetry/alert-rules' }),
  },
  'POST /api/telemetry/alert-rules': {
    expected: orgAdmin(201),
    request: () => ({ path: '/api/telemetry/alert-rules', init: json('POST', ruleBody()) }),
  },
  'GET /api/telemetry/alert-rules/:rule_id': {
    expected: resourceAdmin(200),
    request: async () => ({ path: `/api/telemetry/alert-rules/${await newRule()}` }),
  },
  'PUT /api/telemetry/alert-rules/:rule_id': {
    expected: resourceAdmin(200),
    request: async () => ({
      path: `/api/telemetry/alert-rules/${await newRule()}`,
      init: json('PUT', ruleBody()),
    }),
  },
  'DELETE /api/telemetry/alert-rules/:rule_id': {
    expected: resourceAdmin(204),
    request: async () => ({
      path: `/api/telemetry/alert-rules/${await newRule()}`,
      init: { method: 'DELETE' },
    }),
  },
  'POST /api/telemetry/export': {
    expected: orgAdmin(202),
    request: () => ({ path: '/api/telemetry/export', init: json('POST', { format: 'csv' }) }),
  },
  'GET /api/telemetry/exports': {
    expected: orgAdmin(200),
    request: () => ({ path: '/api/telemetry/exports' }),
  },
  'GET /api/telemetry/export/:job_id': {
    expected: resourceAdmin(200),
    request: async () => ({ path: `/api/telemetry/export/${await newExportJob()}` }),
  },
  'PUT /api/telemetry/settings': {
    expected: orgAdmin(200),
    request: () => ({ path: '/api/telemetry/settings', init: json('PUT', { archive: true }) }),
  },
  'POST /api/telemetry/model-versions': {
    expected: orgAdmin(201),
    request: () => ({
      path: '/api/telemetry/model-versions',
      init: json('POST', { model_name: 'gpt-4o', version: '2024-08-06', note: 'roles' }),
    }),
  },
  'POST /api/keys': {
    expected: orgAdmin(201),
    request: () => ({ path: '/api/keys', init: json('POST', { role: 'viewer' }) }),
  },
  'GET /api/keys': { expected: orgAdmin(200), request: () => ({ path: '/api/keys' }) },
  'GET /api/audit': { expected: orgAdmin(200), request: () => ({ path: '/api/audit' }) },
  'DELETE /api/keys/:key_id': {
    expected: resourceAdmin(200),
    request: async () => ({ path: `/api/keys/${await newKey()}`, init: { method: 'DELETE' } }),
  },
};

/**
 * The app's routes as `METHOD /path`. Middleware mounted with `use` shows up as method ALL under a named
 * `…Middleware` function (the codebase's convention) and is not a route.
 */
function appRoutes(): string[] {
  const routes = app.routes.filter((r) => !(r.method === 'ALL' && r.handler.name.endsWith('Middleware')));
  return [...new Set(routes.map((r) => `${r.method} ${r.path}`))].sort();
}

async function call(
  route: RouteCase,
  caller: Caller,
): Promise<{ status: number; type: string; body: string }> {
  const { path, init = {} } = await route.request();
  const headers = new Headers(init.headers);
  if (caller !== 'none') headers.set('authorization', `Bearer ${keys[caller]}`);
  const res = await app.request(path, { ...init, headers });
  const type = res.headers.get('content-type') ?? '';
  // The live stream never ends by itself: its status and first bytes are enough.
  if (type.startsWith('text/event-stream')) {
    const reader = res.body!.getReader();
    const first = await reader.read();
    await reader.cancel();
    return { status: res.status, type, body: new TextDecoder().decode(first.value) };
  }
  return { status: res.status, type, body: await res.text() };
}

describe('route × role', () => {
  it('has a row for every route the app serves, and no row for a route it does not', () => {
    expect(appRoutes()).toEqual(Object.keys(ROUTES).sort());
  });

  it.each(Object.entries(ROUTES))('%s answers each caller as its row says', async (_name, route) => {
    const actual: Partial<Expected> = {};
    for (const caller of CALLERS) {
      const { status, type, body } = await call(route, caller);
      actual[caller] = status;
      if (caller.startsWith('other_') && status < 300) {
        // Whatever the other org is allowed, it sees none of acme's data.
        expect(body, `${caller} got acme data`).not.toMatch(/acme/);
        expect(body, `${caller} got acme's event`).not.toContain(event.id);
      }
      if (status >= 400)
        expect(type, `${caller}: ${status} as problem+json`).toBe('application/problem+json');
    }
    expect(actual).toEqual(route.expected);
  });
});

describe('path parameters', () => {
  const withParams = appRoutes().filter((route) => route.includes('/:'));

  it.each(withParams)(
    '%s refuses NUL and invalid UTF-8 in each parameter with 400 naming it',
    async (route) => {
      const [method, template] = route.split(' ') as [string, string];
      for (const param of template.match(/:\w+/g)!) {
        for (const bad of ['%00', 'a%C3%28']) {
          const path = template.replace(param, bad).replace(/:\w+/g, randomUUID());
          const res = await app.request(path, {
            method,
            headers: { authorization: `Bearer ${keys.org_admin}` },
          });
          expect(res.status, path).toBe(400);
          const problem = (await res.json()) as { errors: { field: string }[] };
          expect(problem.errors.map((e) => e.field)).toContain(param.slice(1));
        }
      }
    },
  );
});
