import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createStoredRowWriter, type StoredRow } from '@observatory/exporter-postgres';
import { describe, expect, it } from 'vitest';
import { makeAiSpan, makeEvent } from '../../exporter-postgres/test/make-event.ts';
import { createTestDatabase } from '../../test-support/database.ts';
import { deleteTableBatch } from '../src/retention/sql.ts';
import { RETENTION_TABLES } from '../src/retention/tables.ts';

/**
 * `ai_traces` (migration 0030) against the rows it sums: whatever order and however often rows arrive, each trace's
 * summary equals a GROUP BY of its stored rows.
 */
const db = await createTestDatabase();
const writer = createStoredRowWriter(db.pool);

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

async function write(rows: StoredRow[]): Promise<void> {
  const result = await writer.write(rows);
  if (result.kind !== 'success' || result.rejected > 0) throw new Error(JSON.stringify(result));
}

/** Each trace's figures computed from the stored rows themselves. */
async function fromRows(orgId: string) {
  const { rows } = await db.pool.query(
    `SELECT trace_id, min(created_at) AS started_at, count(*)::int AS spans,
            count(*) FILTER (WHERE model)::int AS model_calls,
            coalesce(sum(input_tokens), 0)::int AS input_tokens, coalesce(sum(output_tokens), 0)::int AS output_tokens,
            coalesce(sum(cost_usd), 0)::numeric::text AS cost_usd,
            count(*) FILTER (WHERE model AND NOT success)::int AS errors,
            count(*) FILTER (WHERE NOT model AND NOT success)::int AS failed_spans
     FROM (SELECT trace_id, created_at, true AS model, input_tokens, output_tokens, cost_usd, success
             FROM ai_events WHERE org_id = $1
           UNION ALL
           SELECT trace_id, created_at, false, NULL, NULL, NULL, success FROM ai_spans WHERE org_id = $1) AS r
     WHERE trace_id IS NOT NULL GROUP BY trace_id ORDER BY trace_id`,
    [orgId],
  );
  return rows;
}

async function summaries(orgId: string) {
  const { rows } = await db.pool.query(
    `SELECT trace_id, started_at, spans, model_calls, input_tokens::int, output_tokens::int,
            cost_usd::numeric::text AS cost_usd, errors, failed_spans
     FROM ai_traces WHERE org_id = $1 ORDER BY trace_id`,
    [orgId],
  );
  return rows;
}

async function summary(orgId: string, traceId: string) {
  const { rows } = await db.pool.query('SELECT * FROM ai_traces WHERE org_id = $1 AND trace_id = $2', [
    orgId,
    traceId,
  ]);
  return rows[0];
}

describe('ai_traces', () => {
  it('sums a trace once however often its rows are re-delivered', async () => {
    const trace_id = hex(16);
    const t = Date.now() - 60_000;
    const agent = makeAiSpan({ org_id: 'once', trace_id, created_at: new Date(t), latency_ms: 900 });
    const calls = [1, 2, 3].map((i) =>
      makeEvent({
        org_id: 'once',
        trace_id,
        span_id: hex(8),
        parent_span_id: agent.span_id,
        input_tokens: 10 * i,
        output_tokens: i,
        cost_usd: `0.00${i}`,
        success: i !== 2,
        created_at: new Date(t + 100 * i),
      }),
    );
    await write([agent, ...calls]);
    await write([agent, ...calls]);
    await write([calls[0]!]);
    expect(await summary('once', trace_id)).toMatchObject({
      root_name: 'invoke_agent planner',
      spans: 4,
      model_calls: 3,
      input_tokens: '60',
      output_tokens: '6',
      cost_usd: '0.0060000000',
      errors: 1,
      failed_spans: 0,
      session_id: 'conv-1',
      user_id: 'u-1',
      model_names: ['gpt-4o'],
    });
    expect(await summaries('once')).toEqual(await fromRows('once'));
  });

  it('takes late rows in: a later child extends the trace, an earlier root replaces the root', async () => {
    const trace_id = hex(16);
    const t = Date.now() - 60_000;
    const call = makeEvent({ org_id: 'late', trace_id, span_id: hex(8), created_at: new Date(t + 50) });
    await write([call]);
    expect(await summary('late', trace_id)).toMatchObject({ root_name: 'chat gpt-4o', root_is_model: true });

    const root = makeAiSpan({
      org_id: 'late',
      trace_id,
      name: 'invoke_workflow',
      span_kind: 'workflow',
      created_at: new Date(t),
      latency_ms: 2000,
      success: false,
      session_id: null,
    });
    const later = makeEvent({
      org_id: 'late',
      trace_id,
      span_id: hex(8),
      model_name: 'claude-sonnet-4',
      created_at: new Date(t + 1500),
      latency_ms: 1000,
    });
    await write([root]);
    await write([later]);
    const after = await summary('late', trace_id);
    expect(after).toMatchObject({
      root_name: 'invoke_workflow',
      root_is_model: false,
      spans: 3,
      model_calls: 2,
      failed_spans: 1,
      model_names: ['claude-sonnet-4', 'gpt-4o'],
    });
    expect(after.started_at).toEqual(new Date(t));
    expect(after.ended_at).toEqual(new Date(t + 2500));
    expect(await summaries('late')).toEqual(await fromRows('late'));
  });

  it('keeps the same trace id of two orgs apart', async () => {
    const trace_id = hex(16);
    await write([makeEvent({ org_id: 'org-a', trace_id, input_tokens: 7 })]);
    await write([makeEvent({ org_id: 'org-b', trace_id, input_tokens: 9 })]);
    expect((await summary('org-a', trace_id)).input_tokens).toBe('7');
    expect((await summary('org-b', trace_id)).input_tokens).toBe('9');
  });

  it('matches its rows after concurrent writers deliver overlapping batches of the same traces', async () => {
    const traces = Array.from({ length: 40 }, () => hex(16));
    const t = Date.now() - 3_600_000;
    const rows: StoredRow[] = [];
    for (let i = 0; i < 1200; i++) {
      const trace_id = traces[i % traces.length]!;
      const at = new Date(t + i * 1000);
      rows.push(
        i % 5 === 0
          ? makeAiSpan({ org_id: 'busy', trace_id, created_at: at, success: i % 7 !== 0 })
          : makeEvent({
              org_id: 'busy',
              trace_id,
              input_tokens: i,
              cost_usd: (i / 1e6).toFixed(6),
              success: i % 11 !== 0,
              created_at: at,
            }),
      );
    }
    // Batches of 100 written four at a time, then every batch again (a client retrying after a lost answer).
    const batches = Array.from({ length: 12 }, (_, b) => rows.slice(b * 100, b * 100 + 100));
    for (const round of [batches, [...batches].reverse()]) {
      for (let i = 0; i < round.length; i += 4) await Promise.all(round.slice(i, i + 4).map(write));
    }
    const sums = await fromRows('busy');
    expect(sums).toHaveLength(40);
    expect(sums.reduce((n, r) => n + r.spans, 0)).toBe(1200);
    expect(await summaries('busy')).toEqual(sums);
  });

  it('sums each session over its traces, a trace counting from the moment it learns its session', async () => {
    const t = Date.now() - 3_600_000;
    const rows: StoredRow[] = [];
    const traces = Array.from({ length: 30 }, (_, i) => ({
      id: hex(16),
      session: `s-${i % 7}`,
      user: `u-${i % 4}`,
    }));
    for (let i = 0; i < 600; i++) {
      const trace = traces[i % traces.length]!;
      // The first round of each trace states no session: it arrives with a later row.
      const session_id = i < traces.length ? null : trace.session;
      const at = new Date(t + i * 1000);
      rows.push(
        i % 4 === 0
          ? makeAiSpan({
              org_id: 'talk',
              trace_id: trace.id,
              session_id,
              user_id: trace.user,
              created_at: at,
            })
          : makeEvent({
              org_id: 'talk',
              trace_id: trace.id,
              session_id,
              user_id: trace.user,
              input_tokens: i,
              cost_usd: (i / 1e6).toFixed(6),
              success: i % 13 !== 0,
              created_at: at,
            }),
      );
    }
    const batches = Array.from({ length: 6 }, (_, b) => rows.slice(b * 100, b * 100 + 100));
    for (const round of [batches, batches]) await Promise.all(round.map(write));

    const expected = await db.pool.query(
      `SELECT t.session_id, count(*)::int AS traces, sum(f.model_calls)::int AS model_calls,
              sum(f.input_tokens)::int AS input_tokens, sum(f.cost_usd)::numeric::text AS cost_usd,
              sum(f.errors)::int AS errors, min(f.started_at) AS first_seen
       FROM (SELECT DISTINCT trace_id, first_value(session_id) OVER w AS session_id
             FROM (SELECT trace_id, session_id, created_at FROM ai_events WHERE org_id = 'talk'
                   UNION ALL SELECT trace_id, session_id, created_at FROM ai_spans WHERE org_id = 'talk') r
             WHERE session_id IS NOT NULL
             WINDOW w AS (PARTITION BY trace_id ORDER BY created_at)) t
       JOIN LATERAL (
         SELECT count(*) FILTER (WHERE model) AS model_calls, coalesce(sum(input_tokens), 0) AS input_tokens,
                coalesce(sum(cost_usd), 0) AS cost_usd, count(*) FILTER (WHERE model AND NOT success) AS errors,
                min(created_at) AS started_at
         FROM (SELECT true AS model, input_tokens, cost_usd, success, created_at FROM ai_events
                 WHERE org_id = 'talk' AND trace_id = t.trace_id
               UNION ALL SELECT false, NULL, NULL, success, created_at FROM ai_spans
                 WHERE org_id = 'talk' AND trace_id = t.trace_id) x) f ON true
       GROUP BY t.session_id ORDER BY t.session_id`,
    );
    const { rows: kept } = await db.pool.query(
      `SELECT session_id, traces, model_calls, input_tokens::int, cost_usd::numeric::text AS cost_usd, errors, first_seen
       FROM ai_sessions WHERE org_id = 'talk' ORDER BY session_id`,
    );
    expect(expected.rows).toHaveLength(7);
    expect(kept).toEqual(expected.rows);
  });

  it('does not count rows again when a late partition moves them out of the default partition', async () => {
    const trace_id = hex(16);
    // Far enough ahead that no monthly partition holds it yet.
    const at = new Date(Date.UTC(2031, 4, 5));
    await write([
      makeEvent({ org_id: 'moved', trace_id, created_at: at }),
      makeAiSpan({ org_id: 'moved', trace_id, created_at: at }),
    ]);
    await db.pool.query('SELECT ai_events_ensure_partition($1), ai_spans_ensure_partition($1)', [at]);
    expect(await summary('moved', trace_id)).toMatchObject({ spans: 2, model_calls: 1 });
  });

  it('is filled from the rows stored before the migrations, once, sessions too', async () => {
    const before = await db.pool.query('SELECT * FROM ai_traces ORDER BY org_id, trace_id');
    expect(before.rows.length).toBeGreaterThan(40);
    const sessions = await db.pool.query('SELECT * FROM ai_sessions ORDER BY org_id, session_id');
    expect(sessions.rows.length).toBeGreaterThan(7);
    await db.pool.query('TRUNCATE ai_traces, ai_sessions');
    const migrations = ['0030_ai_traces.sql', '0031_ai_sessions.sql'].map((file) =>
      readFileSync(new URL(`../../migrations/${file}`, import.meta.url), 'utf8'),
    );
    for (const migration of [...migrations, ...migrations]) await db.pool.query(migration);
    const after = await db.pool.query('SELECT * FROM ai_traces ORDER BY org_id, trace_id');
    expect(after.rows).toEqual(before.rows);
    const sessionsAfter = await db.pool.query('SELECT * FROM ai_sessions ORDER BY org_id, session_id');
    expect(sessionsAfter.rows).toEqual(sessions.rows);
  });

  it('is under the retention job, by trace start', async () => {
    const entry = RETENTION_TABLES.find((e) => e.table === 'ai_traces')!;
    expect(entry.setting).toBe('retention_days');
    const old = hex(16);
    await write([
      makeEvent({ org_id: 'kept', trace_id: old, created_at: new Date(Date.now() - 40 * 86_400_000) }),
    ]);
    await write([makeEvent({ org_id: 'kept', trace_id: hex(16) })]);
    await db.pool.query(deleteTableBatch(entry, 'kept', new Date(Date.now() - 30 * 86_400_000), 100));
    const { rows } = await db.pool.query("SELECT trace_id FROM ai_traces WHERE org_id = 'kept'");
    expect(rows).toHaveLength(1);
    expect(rows[0].trace_id).not.toBe(old);
  });
});
