import { beforeAll, describe, expect, it } from 'vitest';
import { eventId } from '../../../exporter-postgres/src/mapping/event-id.ts';
import { createTestDatabase } from '../../../test-support/database.ts';
import type { SqlStatement } from '../db/sql-statement.ts';
import {
  cappedCountQuery,
  encodeCursor,
  eventByIdQuery,
  getEvent,
  listEvents,
  pageQuery,
  TOTAL_COUNT_CAP,
} from './events-sql.ts';
import type { ScopedFilters } from './filters.ts';

const db = await createTestDatabase();
const ROWS = 20_000;
const org = (filters: Partial<ScopedFilters> = {}): ScopedFilters => ({ org_id: 'acme', ...filters });
const page = { limit: 100, offset: 0 };

let partition = '';
let sample: { id: string; created_at: Date; trace_id: string; request_id: string; user_id: string };
let clientId = '';

// Enough rows, ANALYZEd, that the planner weighs the indexes against real statistics: a plan that stops using one
// is a regression these tests see. Ids follow the service's UUIDv7 layout, except 1 in 1,000 (a client's UUIDv4).
beforeAll(async () => {
  await db.pool.query(
    `INSERT INTO ai_events (id, org_id, user_id, request_id, trace_id, endpoint, model_name, latency_ms, cost_source,
       success, error_code, fallback_used, created_at)
     SELECT CASE WHEN i % 1000 = 1 THEN gen_random_uuid()
                 ELSE (lpad(to_hex(floor(extract(epoch FROM t) * 1000)::bigint), 12, '0') || '7'
                       || substr(md5(i::text), 1, 3) || '8' || substr(md5(i::text), 4, 15))::uuid END,
            CASE WHEN i % 10 = 0 THEN 'globex' ELSE 'acme' END, 'user-' || (i % 500), 'req-' || (i / 2),
            md5('trace' || (i / 2)), CASE WHEN i % 2 = 0 THEN 'infer' ELSE 'analyze' END, 'model-' || (i % 20),
            100, 'computed', i % 25 <> 0, CASE WHEN i % 25 = 0 THEN 'timeout' END, i % 40 = 0, t
       FROM generate_series(1, $1::int) AS i,
            LATERAL (SELECT date_trunc('month', now()) + i * interval '50 ms' AS t) AS at`,
    [ROWS],
  );
  await db.pool.query('ANALYZE ai_events');
  const { rows } = await db.pool.query(
    `SELECT tableoid::regclass::text AS partition, id, created_at, trace_id, request_id, user_id FROM ai_events
      WHERE org_id = 'acme' AND ai_event_id_matches_time(id, created_at) ORDER BY created_at LIMIT 1 OFFSET 8765`,
  );
  partition = rows[0].partition;
  sample = rows[0];
  clientId = (
    await db.pool.query(
      "SELECT id FROM ai_events WHERE org_id = 'acme' AND NOT ai_event_id_matches_time(id, created_at) LIMIT 1",
    )
  ).rows[0].id;
});

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

/** How the populated partition is read: 'Seq Scan', or the name of the ai_events index whose partition is used. */
async function accessPaths(query: SqlStatement): Promise<string[]> {
  const { rows } = await db.pool.query(`EXPLAIN (FORMAT JSON) ${query.text}`, query.values);
  const { rows: parents } = await db.pool.query<{ child: string; parent: string }>(
    `SELECT c.relname AS child, p.relname AS parent FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent WHERE c.relkind = 'i'`,
  );
  const parentOf = new Map(parents.map((r) => [r.child, r.parent]));
  const paths: string[] = [];
  const walk = (node: PlanNode) => {
    if (node['Relation Name'] === partition)
      paths.push(
        node['Index Name'] ? (parentOf.get(node['Index Name']) ?? node['Index Name']) : node['Node Type'],
      );
    for (const child of node.Plans ?? []) walk(child);
  };
  walk(rows[0]['QUERY PLAN'][0].Plan);
  return paths;
}

describe('read paths use an index (EXPLAIN on an analysed table)', () => {
  it.each([
    ['the newest page', () => pageQuery(org(), page), 'ai_events_pkey'],
    [
      'a deep page by cursor',
      () => pageQuery(org(), { ...page, cursor: { createdAt: sample.created_at, id: sample.id } }),
      'ai_events_pkey',
    ],
    [
      'all events of a trace, no dates',
      () => pageQuery(org({ trace_id: sample.trace_id }), page),
      'ai_events_org_trace_idx',
    ],
    [
      'all events of a request, no dates',
      () => pageQuery(org({ request_id: sample.request_id }), page),
      'ai_events_org_request_idx',
    ],
    [
      "one user's page",
      () => pageQuery(org({ user_id: sample.user_id }), page),
      'ai_events_org_user_time_idx',
    ],
    [
      "one endpoint's page",
      () => pageQuery(org({ endpoint: 'analyze' }), page),
      'ai_events_org_endpoint_time_idx',
    ],
    [
      'an endpoint matching nothing',
      () => pageQuery(org({ endpoint: 'no-such-endpoint' }), page),
      'ai_events_org_endpoint_time_idx',
    ],
    ['failures', () => pageQuery(org({ success: false }), page), 'ai_events_failures_idx'],
    ['an error code', () => pageQuery(org({ error_code: 'timeout' }), page), 'ai_events_error_code_idx'],
    ['fallbacks', () => pageQuery(org({ fallback_used: true }), page), 'ai_events_fallbacks_idx'],
    [
      "one model's page",
      () => pageQuery(org({ model_name: 'model-7' }), page),
      'ai_events_org_model_time_idx',
    ],
    [
      "one model's failures",
      () => pageQuery(org({ model_name: 'model-5', success: false }), page),
      'ai_events_model_failures_idx',
    ],
    [
      "a deep page of one user's events by cursor",
      () =>
        pageQuery(org({ user_id: sample.user_id }), {
          ...page,
          cursor: { createdAt: sample.created_at, id: sample.id },
        }),
      'ai_events_org_user_time_idx',
    ],
    // `total` counts up to the cap on the same index as the page, so a selective filter's count never scans the org.
    [
      "a user's capped count",
      () => cappedCountQuery(org({ user_id: sample.user_id })),
      'ai_events_org_user_time_idx',
    ],
    [
      "a trace's capped count",
      () => cappedCountQuery(org({ trace_id: sample.trace_id })),
      'ai_events_org_trace_idx',
    ],
  ])('%s', async (_name, query, index) => {
    expect(await accessPaths(query())).toEqual([index]);
  });

  it('one event by a service id: the primary key within its millisecond, then the client-id index', async () => {
    expect(await accessPaths(eventByIdQuery('acme', sample.id))).toEqual([
      'ai_events_pkey',
      'ai_events_foreign_id_idx',
    ]);
  });

  it('one event by an id a client supplied: the partial index of such ids', async () => {
    expect(await accessPaths(eventByIdQuery('acme', clientId))).toEqual(['ai_events_foreign_id_idx']);
  });
});

describe('read paths answer correctly', () => {
  it('finds events by service id and by client id, and not from another org', async () => {
    expect((await getEvent(db.pool, 'acme', sample.id))?.id).toBe(sample.id);
    expect((await getEvent(db.pool, 'acme', clientId))?.id).toBe(clientId);
    expect(await getEvent(db.pool, 'globex', sample.id)).toBeUndefined();
  });

  it('finds an event whose id the service made from its span', async () => {
    const at = new Date();
    const id = eventId('ab'.repeat(16), 'cd'.repeat(8), at.getTime());
    await db.pool.query(
      `INSERT INTO ai_events (id, org_id, model_name, latency_ms, cost_source, success, created_at)
       VALUES ($1, 'acme', 'm', 1, 'computed', true, $2)`,
      [id, new Date(Math.floor(at.getTime()))],
    );
    expect((await getEvent(db.pool, 'acme', id))?.id).toBe(id);
    await db.pool.query('DELETE FROM ai_events WHERE id = $1', [id]);
  });

  it('counts exactly up to the cap, and estimates beyond it', async () => {
    const few = await listEvents(db.pool, org({ request_id: sample.request_id }), page);
    expect(few).toMatchObject({ total: few.items.length, total_is_estimate: false });
    const all = await listEvents(db.pool, org(), page, 30_000);
    const actual = (await db.pool.query("SELECT count(*)::int AS n FROM ai_events WHERE org_id = 'acme'"))
      .rows[0].n;
    expect(all.total_is_estimate).toBe(true);
    expect(all.total).toBeGreaterThan(TOTAL_COUNT_CAP);
    // The planner's estimate after ANALYZE: close, not exact.
    expect(Math.abs(all.total - actual) / actual).toBeLessThan(0.2);
  });

  it("gives a trace's exact total from its page, and counts a trace's deeper pages", async () => {
    const all = await listEvents(db.pool, org({ trace_id: sample.trace_id }), page);
    expect(all).toMatchObject({ total: all.items.length, total_is_estimate: false, next_cursor: null });
    expect(all.items.length).toBeGreaterThan(0);
    const first = await listEvents(db.pool, org({ trace_id: sample.trace_id }), { limit: 1, offset: 0 });
    expect(first).toMatchObject({ total: all.items.length, total_is_estimate: false });
    expect(first.items).toHaveLength(1);
  });

  it('a cursor page continues exactly after the previous one', async () => {
    const first = await listEvents(db.pool, org({ user_id: sample.user_id }), { limit: 5, offset: 0 });
    const next = await listEvents(db.pool, org({ user_id: sample.user_id }), {
      limit: 5,
      offset: 0,
      cursor: { createdAt: first.items[4]!.created_at, id: first.items[4]!.id },
    });
    const both = await listEvents(db.pool, org({ user_id: sample.user_id }), { limit: 10, offset: 0 });
    expect([...first.items, ...next.items].map((e) => e.id)).toEqual(both.items.map((e) => e.id));
    expect(first.next_cursor).toBe(encodeCursor(first.items[4]!));
  });
});

describe('session and service filters', () => {
  it('list the events of one session or one service of the caller’s org, and nothing else', async () => {
    // Three sessions over six traces in two services, and the same session id in another org.
    await db.pool.query(
      `INSERT INTO ai_events (id, org_id, session_id, service_name, trace_id, model_name, latency_ms, cost_source,
         success, fallback_used, created_at)
       SELECT gen_random_uuid(), o, 's-' || (i % 3), 'svc-' || (i % 2), md5(o || (i % 6)), 'm', 10, 'computed', true,
              false, now() - i * interval '1 s'
         FROM generate_series(1, 60) AS i, unnest(ARRAY['sess', 'other']) AS o`,
    );
    const sessionOne = await listEvents(db.pool, { org_id: 'sess', session_id: 's-1' }, page);
    expect(sessionOne.items).toHaveLength(20);
    expect(new Set(sessionOne.items.map((e) => `${e.org_id}/${e.session_id}`))).toEqual(
      new Set(['sess/s-1']),
    );
    const service = await listEvents(db.pool, { org_id: 'sess', service_name: 'svc-0' }, page);
    expect(service.items).toHaveLength(30);
    expect(new Set(service.items.map((e) => e.service_name))).toEqual(new Set(['svc-0']));
    expect((await listEvents(db.pool, { org_id: 'sess', session_id: 's-9' }, page)).items).toEqual([]);
  });
});
