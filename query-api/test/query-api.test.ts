import type { AiEvent } from '@observatory/exporter-postgres';
import { parse } from 'csv-parse/sync';
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeEvent } from '../../exporter-postgres/test/make-event.ts';
import { createTestDatabase } from '../../test-support/database.ts';
import { insertEvents } from '../../test-support/insert-events.ts';
import { createApp } from '../src/app.ts';
import { createKey } from '../src/keys/keys.ts';
import { RELATIVE_ACCURACY } from '../src/query/histogram.ts';

const db = await createTestDatabase();
// Totals are asserted exactly: the count's time bound must not depend on how loaded the machine is.
const app = createApp({ pool: db.pool, logger: pino({ level: 'silent' }), eventCountBudgetMs: 30_000 });
const keys: Record<string, string> = {};
const now = Date.now();
const minutesAgo = (m: number) => new Date(now - m * 60_000);

// 60 events in acme over the last hour, 10 in globex; every field varies so each filter narrows.
const acme: AiEvent[] = Array.from({ length: 60 }, (_, i) =>
  makeEvent({
    org_id: 'acme',
    model_name: ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4'][i % 3]!,
    endpoint: i % 2 ? 'analyze' : 'infer',
    user_id: `user-${i % 4}`,
    request_id: `req-${i}`,
    trace_id: (i % 5).toString(16).padStart(32, 'a'),
    success: i % 6 !== 0,
    error_code: i % 6 === 0 ? (i % 12 === 0 ? 'timeout' : 'rate_limited') : null,
    error_message: i % 6 === 0 ? `failure ${i}` : null,
    fallback_used: i % 10 === 0,
    fallback_model: i % 10 === 0 ? 'gpt-4o-mini' : null,
    fallback_reason: i % 10 === 0 ? 'timeout' : null,
    latency_ms: 100 + i * 10,
    input_tokens: 100 + i,
    output_tokens: 10 + i,
    cost_usd: i % 7 === 0 ? null : `0.00${String(i + 10)}`,
    cost_source: i % 7 === 0 ? 'unpriced' : 'computed',
    created_at: minutesAgo(59 - i),
  }),
);
const globex = Array.from({ length: 10 }, (_, i) =>
  makeEvent({ org_id: 'globex', model_name: 'secret-model', created_at: minutesAgo(i) }),
);

beforeAll(async () => {
  await insertEvents(db.pool, [...acme, ...globex]);
  for (const role of ['viewer', 'org_admin', 'ingest'] as const) {
    keys[role] = (await createKey(db.pool, { orgId: 'acme', role })).key;
  }
  keys.globex = (await createKey(db.pool, { orgId: 'globex', role: 'org_admin' })).key;
});

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field below
async function get(path: string, key = keys.viewer!): Promise<{ status: number; type: string; body: any }> {
  const res = await app.request(path, { headers: { authorization: `Bearer ${key}` } });
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, type, body: type.includes('json') ? await res.json() : await res.text() };
}

const byNewest = (events: AiEvent[]) =>
  [...events].sort((a, b) => b.created_at.getTime() - a.created_at.getTime() || (b.id < a.id ? -1 : 1));

describe('GET /api/telemetry/events', () => {
  it('returns the org newest first with the right total', async () => {
    const { status, body } = await get('/api/telemetry/events?limit=5');
    expect(status).toBe(200);
    expect(body.total).toBe(60);
    expect(body.total_is_estimate).toBe(false);
    expect(body.items.map((e: AiEvent) => e.id)).toEqual(
      byNewest(acme)
        .slice(0, 5)
        .map((e) => e.id),
    );
    expect(body.items[0]).toMatchObject({ org_id: 'acme', created_at: expect.stringMatching(/Z$/) });
  });

  it.each([
    ['model_name=gpt-4o', (e: AiEvent) => e.model_name === 'gpt-4o'],
    ['success=false', (e: AiEvent) => !e.success],
    ['fallback_used=true', (e: AiEvent) => e.fallback_used],
    ['endpoint=analyze', (e: AiEvent) => e.endpoint === 'analyze'],
    ['user_id=user-1', (e: AiEvent) => e.user_id === 'user-1'],
    ['request_id=req-7', (e: AiEvent) => e.request_id === 'req-7'],
    [`trace_id=${'3'.padStart(32, 'a')}`, (e: AiEvent) => e.trace_id === '3'.padStart(32, 'a')],
    ['error_code=timeout', (e: AiEvent) => e.error_code === 'timeout'],
    [
      `date_from=${minutesAgo(20).toISOString()}&date_to=${minutesAgo(10).toISOString()}`,
      (e: AiEvent) => e.created_at >= minutesAgo(20) && e.created_at <= minutesAgo(10),
    ],
    [
      'model_name=gpt-4o&success=false&endpoint=infer',
      (e: AiEvent) => e.model_name === 'gpt-4o' && !e.success && e.endpoint === 'infer',
    ],
  ])('narrows by %s', async (query, keep) => {
    const expected = byNewest(acme.filter(keep));
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.length).toBeLessThan(60);
    const { body } = await get(
      `/api/telemetry/events?limit=1000&${query.replace(/:/g, '%3A').replace(/\+/g, '%2B')}`,
    );
    expect(body.total).toBe(expected.length);
    expect(body.items.map((e: AiEvent) => e.id)).toEqual(expected.map((e) => e.id));
  });

  it('pages by cursor without skipping or repeating while new events arrive', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const { body } = await get(`/api/telemetry/events?limit=7${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...body.items.map((e: AiEvent) => e.id));
      cursor = body.next_cursor;
      // Newer events land between pages; they must not shift the pages already being read.
      await insertEvents(db.pool, [
        makeEvent({ org_id: 'acme', model_name: 'late', created_at: new Date() }),
      ]);
      pages++;
    } while (cursor && pages < 20);
    expect(seen).toEqual(byNewest(acme).map((e) => e.id));
    await db.pool.query("DELETE FROM ai_events WHERE model_name = 'late'");
  });

  it('pages by offset too', async () => {
    const { body } = await get('/api/telemetry/events?limit=10&offset=50');
    expect(body.items.map((e: AiEvent) => e.id)).toEqual(
      byNewest(acme)
        .slice(50)
        .map((e) => e.id),
    );
  });

  it('refuses bad input with problem+json naming the field, never 500', async () => {
    for (const [query, field] of [
      ['limit=0', 'limit'],
      ['limit=99999', 'limit'],
      ['date_from=yesterday', 'date_from'],
      ['offset=-1', 'offset'],
      ['offset=10001', 'offset'],
      ['success=maybe', 'success'],
      ['trace_id=xyz', 'trace_id'],
      ['cursor=bm9wZQ', 'cursor'],
      [`date_from=${minutesAgo(1).toISOString()}&date_to=${minutesAgo(5).toISOString()}`, 'date_from'],
    ]) {
      const res = await get(`/api/telemetry/events?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.type).toMatch(/application\/problem\+json/);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    }
  });

  it('finds one event by id, and answers 404 for another org event or none', async () => {
    expect((await get(`/api/telemetry/events/${acme[3]!.id}`)).body).toMatchObject({
      id: acme[3]!.id,
      request_id: 'req-3',
    });
    expect((await get(`/api/telemetry/events/${globex[0]!.id}`)).status).toBe(404);
    expect((await get('/api/telemetry/events/00000000-0000-7000-8000-000000000000')).status).toBe(404);
    expect((await get('/api/telemetry/events/not-a-uuid')).status).toBe(400);
  });
});

describe('GET /api/telemetry aggregates', () => {
  const percentile = (values: number[], p: number) => {
    const sorted = [...values].sort((a, b) => a - b);
    const rank = p * (sorted.length - 1);
    const lo = Math.floor(rank);
    return sorted[lo]! + (sorted[Math.min(lo + 1, sorted.length - 1)]! - sorted[lo]!) * (rank - lo);
  };

  // Percentiles come from the rollups' log-scale histograms: within 2 % of the exact value.
  const expectWithinBound = (actual: number, exact: number) =>
    expect(Math.abs(actual - exact)).toBeLessThanOrEqual(RELATIVE_ACCURACY * exact + 1e-9);

  it('overview matches values computed here', async () => {
    const { body } = await get('/api/telemetry?action=overview&range=1h');
    const latencies = acme.map((e) => e.latency_ms);
    expect(body).toMatchObject({
      requests: 60,
      errors: acme.filter((e) => !e.success).length,
      fallbacks: acme.filter((e) => e.fallback_used).length,
      unpriced_calls: acme.filter((e) => e.cost_source === 'unpriced').length,
      input_tokens: acme.reduce((s, e) => s + e.input_tokens!, 0),
      output_tokens: acme.reduce((s, e) => s + e.output_tokens!, 0),
      bucket: 'minute',
    });
    expect(body.error_rate).toBeCloseTo(acme.filter((e) => !e.success).length / 60, 10);
    for (const [name, p] of [
      ['p50', 0.5],
      ['p90', 0.9],
      ['p95', 0.95],
      ['p99', 0.99],
    ] as const) {
      expectWithinBound(body.latency_ms[name], percentile(latencies, p));
    }
    const cost = acme.reduce((s, e) => s + (e.cost_usd ? Number(e.cost_usd) : 0), 0);
    expect(Number(body.cost_usd)).toBeCloseTo(cost, 10);
    expect(body.series.reduce((s: number, b: { requests: number }) => s + b.requests, 0)).toBe(60);
  });

  it('models, errors and fallbacks match values computed here', async () => {
    const models = (await get('/api/telemetry?action=models&range=24h')).body.items;
    const mini = acme.filter((e) => e.model_name === 'gpt-4o-mini');
    expect(models.find((m: { model_name: string }) => m.model_name === 'gpt-4o-mini')).toMatchObject({
      calls: mini.length,
      unpriced_calls: mini.filter((e) => e.cost_source === 'unpriced').length,
    });
    expectWithinBound(
      models.find((m: { model_name: string }) => m.model_name === 'gpt-4o-mini').p95_latency_ms,
      percentile(
        mini.map((e) => e.latency_ms),
        0.95,
      ),
    );
    expect(models.map((m: { model_name: string }) => m.model_name)).not.toContain('secret-model');

    const errors = (await get('/api/telemetry?action=errors&range=24h')).body.items;
    const failed = acme.filter((e) => !e.success);
    const timeouts = failed.filter((e) => e.error_code === 'timeout');
    expect(errors.find((e: { error_code: string }) => e.error_code === 'timeout')).toMatchObject({
      count: timeouts.length,
      share: timeouts.length / failed.length,
      example_message: byNewest(timeouts)[0]!.error_message,
    });

    const fallbacks = (await get('/api/telemetry?action=fallbacks&range=24h')).body.items;
    const gpt4o = acme.filter((e) => e.model_name === 'gpt-4o');
    const fromGpt4o = gpt4o.filter((e) => e.fallback_used);
    expect(fallbacks.find((f: { primary_model: string }) => f.primary_model === 'gpt-4o')).toMatchObject({
      fallback_model: 'gpt-4o-mini',
      fallback_reason: 'timeout',
      count: fromGpt4o.length,
      rate: fromGpt4o.length / gpt4o.length,
    });
  });

  it('refuses an unknown action or range, and another org', async () => {
    expect((await get('/api/telemetry?action=nope')).status).toBe(400);
    expect((await get('/api/telemetry?action=overview&range=2y')).status).toBe(400);
    expect((await get('/api/telemetry?action=overview&org_id=globex')).status).toBe(403);
  });
});

describe('tenant isolation and roles', () => {
  const reads = [
    '/api/telemetry/events',
    '/api/telemetry/events/stream',
    '/api/telemetry?action=overview',
    '/api/telemetry?action=models',
    '/api/telemetry?action=errors',
    '/api/telemetry?action=fallbacks',
  ];

  it('never shows one org the other org data, with any role', async () => {
    for (const path of reads) {
      for (const key of [keys.viewer!, keys.org_admin!]) {
        const { status, body } = await get(path, key);
        expect(status, path).toBe(200);
        expect(JSON.stringify(body)).not.toContain('secret-model');
      }
      const globexView = await get(path, keys.globex);
      expect(JSON.stringify(globexView.body)).not.toContain('claude-sonnet-4');
    }
  });

  it('refuses an org_id filter naming another org (403), ingest keys (403) and no key (401)', async () => {
    expect((await get('/api/telemetry/events?org_id=globex')).status).toBe(403);
    expect((await get('/api/telemetry/events?org_id=acme')).status).toBe(200);
    for (const path of [...reads, '/api/keys']) {
      expect((await get(path, keys.ingest)).status, path).toBe(403);
      expect((await app.request(path)).status, path).toBe(401);
    }
  });
});

describe('GET /api/telemetry/events/stream (CSV)', () => {
  it('streams every matching row with a header, RFC 4180 quoting and formula neutralisation', async () => {
    const tricky = [
      makeEvent({
        org_id: 'acme',
        model_name: 'csv-test',
        endpoint: '=HYPERLINK("http://evil")',
        created_at: minutesAgo(1),
      }),
      makeEvent({
        org_id: 'acme',
        model_name: 'csv-test',
        endpoint: '+1, "two"\nthree',
        created_at: minutesAgo(2),
      }),
      makeEvent({
        org_id: 'acme',
        model_name: 'csv-test',
        endpoint: '@sum',
        error_message: '-2',
        success: false,
        error_code: 'unknown',
        created_at: minutesAgo(3),
      }),
    ];
    await insertEvents(db.pool, tricky);
    const { status, type, body } = await get('/api/telemetry/events/stream?model_name=csv-test');
    expect(status).toBe(200);
    expect(type).toMatch(/text\/csv/);
    const records = parse(body, { columns: true }) as Record<string, string>[];
    expect(records.map((r) => r.endpoint)).toEqual([
      `'=HYPERLINK("http://evil")`,
      `'+1, "two"\nthree`,
      "'@sum",
    ]);
    expect(records[2]!.error_message).toBe("'-2");
    expect(Object.keys(records[0]!)).toContain('cost_usd');
    expect(records[0]!.org_id).toBe('acme');
    await db.pool.query("DELETE FROM ai_events WHERE model_name = 'csv-test'");
  });

  it('honours limit (default 1000) and streams a large result without buffering it whole', async () => {
    const many = Array.from({ length: 3000 }, (_, i) =>
      makeEvent({ org_id: 'acme', model_name: 'bulk', created_at: new Date(now - 3_600_000 - i) }),
    );
    await insertEvents(db.pool, many);
    const limited = await get('/api/telemetry/events/stream?model_name=bulk&limit=10');
    expect((parse(limited.body, { columns: true }) as unknown[]).length).toBe(10);
    expect(
      (
        parse((await get('/api/telemetry/events/stream?model_name=bulk')).body, {
          columns: true,
        }) as unknown[]
      ).length,
    ).toBe(1000);

    const res = await app.request('/api/telemetry/events/stream?model_name=bulk&limit=3000', {
      headers: { authorization: `Bearer ${keys.viewer}` },
    });
    const reader = res.body!.getReader();
    let chunks = 0;
    let bytes = 0;
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      chunks++;
      bytes += r.value.byteLength;
    }
    // Many chunks: rows flow as the cursor reads batches instead of one buffered body.
    expect(chunks).toBeGreaterThan(3);
    expect(bytes).toBeGreaterThan(3000 * 200);
    await db.pool.query("DELETE FROM ai_events WHERE model_name = 'bulk'");
  });
});

describe('API keys routes', () => {
  it('lets an org_admin create, list and revoke keys of its own org, with audit rows', async () => {
    const created = await app.request('/api/keys', {
      method: 'POST',
      headers: { authorization: `Bearer ${keys.org_admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'viewer', name: 'dashboards' }),
    });
    expect(created.status).toBe(201);
    const key = (await created.json()) as { id: string; key: string };
    expect((await get('/api/telemetry/events?limit=1', key.key)).status).toBe(200);
    const listed = await get('/api/keys', keys.org_admin);
    expect(JSON.stringify(listed.body)).toContain(key.id);
    expect(JSON.stringify(listed.body)).not.toContain(key.key);

    const otherOrg = await app.request(`/api/keys/${key.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${keys.globex}` },
    });
    expect(otherOrg.status).toBe(404);
    const revoked = await app.request(`/api/keys/${key.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${keys.org_admin}` },
    });
    expect(revoked.status).toBe(200);
    expect((await get('/api/telemetry/events?limit=1', key.key)).status).toBe(401);
    expect((await get('/api/keys', keys.viewer)).status).toBe(403);

    const { rows } = await db.pool.query(
      'SELECT action, target, org_id, ip FROM audit_log WHERE target = $1 ORDER BY id',
      [key.id],
    );
    expect(rows.map((r) => r.action)).toEqual(['keys.create', 'keys.revoke']);
    expect(rows[0].org_id).toBe('acme');
  });

  it('refuses a bad role with the field named', async () => {
    const res = await app.request('/api/keys', {
      method: 'POST',
      headers: { authorization: `Bearer ${keys.org_admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'root' }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { errors: { field: string }[] }).errors[0]!.field).toBe('role');
  });
});

describe('OpenAPI', () => {
  // The document as a whole (validity, every route of a fully configured app) is checked in routes/docs.test.ts.
  it('documents the event filters, and /docs serves the reference', async () => {
    const doc = (await get('/openapi.json')).body;
    const events = doc.paths['/api/telemetry/events'].get;
    expect(events.parameters.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining(['model_name', 'date_from', 'limit', 'cursor']),
    );
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    // /docs renders the document with a script of this origin (the browser test renders it offline).
    const docs = await app.request('/docs');
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain('src="/console/docs.js"');
    const script = await app.request('/console/docs.js');
    expect(script.status).toBe(200);
    expect(await script.text()).toMatch(/openapi\.json/);
  });
});
