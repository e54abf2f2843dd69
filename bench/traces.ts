/**
 * Trace and session lists at scale (issue 18). Seeds BENCH_TRACE_EVENTS model calls (default 1,000,000) into one org
 * over the last 24 hours, in traces of an agent span and 1–3 model calls, 60 % of traces in sessions of about four
 * traces, 5,000 users, through COPY (so `ai_traces` is filled by its triggers, as ingest fills it), then prints p50/p95
 * of the lists through the HTTP app beside the 300 ms goal, and the same lists computed the pre-0030 way (grouping
 * the window's ai_events and ai_spans rows) in the same run as the baseline. The database is dropped at the end.
 * `BENCH_ONLY=traces npm run bench`.
 */
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import type pg from 'pg';
import { pino } from 'pino';
import { createApp } from '../query-api/src/app.ts';
import { createKey } from '../query-api/src/keys/keys.ts';
import { copyLines, prng } from './_big-org.ts';
import { benchDatabase, fmt, timed } from './support.ts';

const ORG = 'big-org';
const HOUR = 3_600_000;
const CALLS = 20;
/** Model calls per COPY statement: each firing of the summary trigger aggregates a bounded set. */
const SLICE = 100_000;

const EVENT_COLUMNS = [
  'id',
  'org_id',
  'user_id',
  'session_id',
  'trace_id',
  'span_id',
  'parent_span_id',
  'service_name',
  'endpoint',
  'operation',
  'provider',
  'model_name',
  'input_tokens',
  'output_tokens',
  'latency_ms',
  'cost_usd',
  'cost_source',
  'success',
  'created_at',
];
const SPAN_COLUMNS = [
  'id',
  'org_id',
  'span_kind',
  'name',
  'agent_name',
  'success',
  'latency_ms',
  'trace_id',
  'span_id',
  'service_name',
  'endpoint',
  'user_id',
  'session_id',
  'created_at',
];

/** COPY text of `calls` model calls from `fromMs` to `toMs`, with their traces' agent spans. */
function slice(seed: number, calls: number, fromMs: number, toMs: number) {
  const random = prng(seed);
  const hex = (chars: number) => {
    let out = '';
    while (out.length < chars)
      out += Math.floor(random() * 4_294_967_296)
        .toString(16)
        .padStart(8, '0');
    return out.slice(0, chars);
  };
  const events: string[] = [];
  const spans: string[] = [];
  const step = (toMs - fromMs) / calls;
  let session = '\\N';
  let sessionLeft = 0;
  for (let i = 0; i < calls; ) {
    const at = fromMs + i * step;
    const trace = hex(32);
    const agent = hex(16);
    const user = `user-${Math.floor(random() * 5000)}`;
    if (sessionLeft-- <= 0) {
      session = random() < 0.6 ? `conv-${hex(12)}` : '\\N';
      sessionLeft = 3 + Math.floor(random() * 3);
    }
    const endpoint = random() < 0.7 ? '/chat' : '/agent';
    const n = 1 + Math.floor(random() * 3);
    const failed = random() < 0.04;
    spans.push(
      [
        randomUUID(),
        ORG,
        'agent',
        'invoke_agent planner',
        'planner',
        failed ? 'f' : 't',
        (n * 900).toFixed(1),
        trace,
        agent,
        'bench',
        endpoint,
        user,
        session,
        new Date(at).toISOString(),
      ].join('\t'),
    );
    for (let k = 0; k < n && i < calls; k++, i++) {
      events.push(
        [
          randomUUID(),
          ORG,
          user,
          session,
          trace,
          hex(16),
          agent,
          'bench',
          endpoint,
          'chat',
          'openai',
          `model-${Math.floor(random() * random() * 30)}`,
          200 + Math.floor(random() * 2000),
          20 + Math.floor(random() * 500),
          (50 + random() * 800).toFixed(1),
          (random() / 100).toFixed(8),
          'computed',
          failed && k === n - 1 ? 'f' : 't',
          new Date(at + 1 + k * 900).toISOString(),
        ].join('\t'),
      );
    }
  }
  return { events: `${events.join('\n')}\n`, spans: `${spans.join('\n')}\n` };
}

async function seed(pool: pg.Pool, calls: number, now: number): Promise<number> {
  const t = performance.now();
  const slices = Math.ceil(calls / SLICE);
  const span = 24 * HOUR - 60_000;
  for (let s = 0; s < slices; s++) {
    const from = now - span + (s * span) / slices;
    const part = slice(s + 1, Math.min(SLICE, calls - s * SLICE), from, from + span / slices);
    await Promise.all([
      copyLines(pool, 'ai_events', [part.events], EVENT_COLUMNS),
      copyLines(pool, 'ai_spans', [part.spans], SPAN_COLUMNS),
    ]);
  }
  await pool.query('VACUUM ANALYZE ai_events, ai_spans, ai_traces, ai_sessions');
  return (performance.now() - t) / 1000;
}

/** The pre-0030 lists: every row of the window grouped by trace or session (ids, then totals of the page's traces). */
const BASELINE = {
  traces: `SELECT trace_id, min(created_at) AS started_at FROM (
      SELECT trace_id, created_at FROM ai_events WHERE org_id = $1 AND created_at >= $2 AND created_at < $3 AND trace_id IS NOT NULL
      UNION ALL
      SELECT trace_id, created_at FROM ai_spans WHERE org_id = $1 AND created_at >= $2 AND created_at < $3 AND trace_id IS NOT NULL) r
    GROUP BY trace_id ORDER BY started_at DESC, trace_id DESC LIMIT 50`,
  sessions: `SELECT session_id, max(created_at) AS last_seen, count(DISTINCT trace_id), count(*) FILTER (WHERE model_call),
      sum(input_tokens), sum(cost_usd), count(DISTINCT user_id) FROM (
      SELECT session_id, trace_id, created_at, user_id, true AS model_call, input_tokens, cost_usd FROM ai_events
        WHERE org_id = $1 AND session_id IS NOT NULL AND created_at >= $2 AND created_at < $3
      UNION ALL
      SELECT session_id, trace_id, created_at, user_id, false, NULL, NULL FROM ai_spans
        WHERE org_id = $1 AND session_id IS NOT NULL AND created_at >= $2 AND created_at < $3) r
    GROUP BY session_id ORDER BY last_seen DESC, session_id DESC LIMIT 50`,
};

/** A warm-up call, then CALLS timed ones. */
async function measured(call: () => Promise<unknown>): Promise<{ p50: number; p95: number }> {
  await call();
  return timed(CALLS, call);
}

export async function runTracesBench(): Promise<void> {
  const calls = Number(process.env.BENCH_TRACE_EVENTS ?? 1_000_000);
  const db = await benchDatabase('traces');
  try {
    const now = Date.now();
    const seconds = await seed(db.pool, calls, now);
    const counts = await db.pool.query(
      `SELECT (SELECT count(*) FROM ai_events)::int AS events, (SELECT count(*) FROM ai_spans)::int AS spans,
              (SELECT count(*) FROM ai_traces)::int AS traces,
              (SELECT count(DISTINCT session_id) FROM ai_traces)::int AS sessions`,
    );
    const { events, spans, traces, sessions } = counts.rows[0];
    console.log(
      `seeded ${fmt(events)} model calls + ${fmt(spans)} agent spans in one org over 24 h: ${fmt(traces)} traces, ${fmt(sessions)} sessions (${seconds.toFixed(0)} s)`,
    );

    await db.pool.query('INSERT INTO orgs (id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING', [ORG]);
    const key = (await createKey(db.pool, { orgId: ORG, role: 'viewer' })).key;
    const app = createApp({ pool: db.pool, logger: pino({ level: 'silent' }) });
    const get = async (path: string) => {
      const res = await app.request(path, { headers: { authorization: `Bearer ${key}` } });
      if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as { items: Record<string, string>[]; next_cursor: string | null };
    };
    const first = await get('/api/telemetry/traces');
    const deep = await get(`/api/telemetry/traces?cursor=${first.next_cursor}`);
    const aSession = (await get('/api/telemetry/sessions')).items[0]!.session_id!;
    const window = [ORG, new Date(now - 24 * HOUR), new Date(now + 60_000)];

    const rows: [string, { p50: number; p95: number }, { p50: number; p95: number } | undefined][] = [];
    const baselineTraces = await measured(() => db.pool.query(BASELINE.traces, window));
    const baselineSessions = await measured(() => db.pool.query(BASELINE.sessions, window));
    const paths: [string, string, { p50: number; p95: number } | undefined][] = [
      ['traces: newest 50 of 24 h', '/api/telemetry/traces', baselineTraces],
      ['traces: page 3 (cursor)', `/api/telemetry/traces?cursor=${deep.next_cursor}`, undefined],
      ['traces: one user, 24 h', '/api/telemetry/traces?user_id=user-17', undefined],
      ['traces: with errors, 24 h', '/api/telemetry/traces?has_errors=true', undefined],
      ['traces: one rare model, 24 h', '/api/telemetry/traces?model_name=model-29', undefined],
      ['sessions: newest 50 of 24 h', '/api/telemetry/sessions', baselineSessions],
      ['sessions: one user, 24 h', '/api/telemetry/sessions?user_id=user-17', undefined],
      ['sessions: one session', `/api/telemetry/sessions/${aSession}`, undefined],
    ];
    for (const [name, path, baseline] of paths) rows.push([name, await measured(() => get(path)), baseline]);

    console.log(
      `${CALLS} calls each, through the HTTP app; load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
    console.log(
      'path                              p50 ms   p95 ms   goal   baseline p95 (pre-0030 grouping)   ratio',
    );
    for (const [name, { p50, p95 }, baseline] of rows) {
      console.log(
        `${name.padEnd(33)} ${p50.toFixed(1).padStart(6)} ${p95.toFixed(1).padStart(8)}   ${p95 <= 300 ? ' ok ' : 'OVER'}   ${
          baseline
            ? `${baseline.p95.toFixed(1).padStart(10)} ms${' '.repeat(21)}${(p95 / baseline.p95).toFixed(3)}`
            : ''
        }`,
      );
    }
  } finally {
    await db.drop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await runTracesBench();
