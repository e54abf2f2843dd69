/**
 * Log search at scale: seeds BENCH_LOG_ROWS log lines (default 1,000,000; `BENCH_LOG_ROWS=10000000` for the budget's
 * figure) into one org over 30 days, plus 5 % in noise orgs, by COPY; VACUUM ANALYZE; then prints p50/p95 of
 * `GET /api/telemetry/logs` searches over a 24 h window through the HTTP API beside the budget (300 ms p95), the
 * same searches as SQL by pg_trgm (`ILIKE`, the trigram GIN index of 0021) and by full-text search (a
 * `to_tsvector('simple', body)` GIN index built here for the comparison), and raw COPY rows/s into the table with
 * each index set
 * (BENCH_LOG_COPY_ROWS rows per variant, default 200,000). `BENCH_ONLY=logs npm run bench` runs this file alone.
 */
import { loadavg } from 'node:os';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { ensurePartitions } from '@observatory/exporter-postgres';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { pino } from 'pino';
import { createApp } from '../query-api/src/app.ts';
import { createKey } from '../query-api/src/keys/keys.ts';
import { prng } from './_big-org.ts';
import { benchDatabase, fmt, timed } from './support.ts';

const ORG = 'log-org';
const DAY = 86_400_000;
const COLUMNS =
  'id, org_id, time, observed_time, received_at, severity_number, severity_text, service_name, scope_name, body, trace_id, span_id, attributes';
const VERBS = ['calling', 'retrying', 'received', 'cached', 'streaming', 'parsed', 'routed', 'scored'];
const NOUNS = ['completion', 'embedding', 'request', 'response', 'prompt', 'chunk', 'batch', 'tool call'];
const SERVICES = ['checkout-api', 'search-api', 'chat-api', 'ranker', 'ingest-worker'];
const SEVERITIES: [number, string][] = [
  [9, 'INFO'],
  [9, 'INFO'],
  [9, 'INFO'],
  [5, 'DEBUG'],
  [13, 'WARN'],
  [17, 'ERROR'],
];

const load = () =>
  `load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`;

/**
 * COPY text lines: log-like bodies from a small vocabulary, with a word of 1 % of lines (`timeout`), one of 0.01 %
 * (`deadlock`), and half the lines tied to a trace.
 */
function* logLines(rows: number, fromMs: number, toMs: number, seed: number): Generator<string> {
  const random = prng(seed);
  const hex = (chars: number) => {
    let out = '';
    while (out.length < chars)
      out += Math.floor(random() * 4_294_967_296)
        .toString(16)
        .padStart(8, '0');
    return out.slice(0, chars);
  };
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  const total = Math.round(rows * 1.05);
  const step = (toMs - fromMs) / total;
  const received = new Date().toISOString();
  let chunk = '';
  for (let i = 0; i < total; i++) {
    const ms = Math.floor(fromMs + i * step);
    const at = new Date(ms).toISOString();
    const h = `${ms.toString(16).padStart(12, '0')}7${hex(3)}8${hex(15)}`;
    const id = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    const org = random() < 0.05 ? `noise-${Math.floor(random() * 4)}` : ORG;
    const r = random();
    const extra = r < 0.0001 ? ' after a deadlock' : r < 0.01 ? ' after a timeout' : '';
    const body = `${pick(VERBS)} ${pick(NOUNS)} for order ${Math.floor(random() * 1e6)} in ${Math.floor(random() * 3000)} ms${extra}`;
    const [severity, text] = pick(SEVERITIES);
    const traced = random() < 0.5;
    chunk += `${[
      id,
      org,
      at,
      at,
      received,
      severity,
      text,
      pick(SERVICES),
      'app.logger',
      body,
      traced ? hex(32) : '\\N',
      traced ? hex(16) : '\\N',
      '{"http.route":"/answer"}',
    ].join('\t')}\n`;
    if (i % 1000 === 999) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

async function copyInto(pool: pg.Pool, table: string, lines: Iterable<string>): Promise<void> {
  const client = await pool.connect();
  try {
    await pipeline(Readable.from(lines), client.query(copyFrom(`COPY ${table} (${COLUMNS}) FROM STDIN`)));
  } finally {
    client.release();
  }
}

async function seed(pool: pg.Pool, rows: number): Promise<void> {
  const now = Date.now();
  const half = 15 * DAY;
  await Promise.all(
    [0, 1].map((p) =>
      copyInto(
        pool,
        'structured_logs',
        logLines(Math.round(rows / 2), now - 30 * DAY + p * half, now - 30 * DAY + (p + 1) * half, p + 1),
      ),
    ),
  );
}

/** Raw COPY into a fresh partitioned copy of structured_logs with `indexes` (CREATE INDEX texts on `probe`). */
async function copyRate(pool: pg.Pool, indexes: string[], lines: string[], rows: number): Promise<number> {
  await pool.query('DROP TABLE IF EXISTS probe');
  await pool.query(
    'CREATE TABLE probe (LIKE structured_logs INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE (time)',
  );
  await pool.query('CREATE TABLE probe_all PARTITION OF probe FOR VALUES FROM (MINVALUE) TO (MAXVALUE)');
  for (const index of indexes) await pool.query(index);
  await pool.query('CHECKPOINT');
  const t = performance.now();
  await copyInto(pool, 'probe', lines);
  const rate = rows / ((performance.now() - t) / 1000);
  await pool.query('DROP TABLE probe');
  return rate;
}

async function copyComparison(pool: pg.Pool, rows: number): Promise<void> {
  const lines = [...logLines(rows, Date.now() - DAY, Date.now(), 99)];
  const pk = 'ALTER TABLE probe ADD PRIMARY KEY (org_id, time, id)';
  const trace = 'CREATE INDEX ON probe (org_id, trace_id) WHERE trace_id IS NOT NULL';
  const fts = "CREATE INDEX ON probe USING gin (to_tsvector('simple', body))";
  const trgm = 'CREATE INDEX ON probe USING gin (body gin_trgm_ops)';
  const variants: [string, string[]][] = [
    ['no index', []],
    ['primary key (org_id, time, id)', [pk]],
    ['+ (org_id, trace_id)', [pk, trace]],
    ['+ trigram GIN (migration 0021 as it is)', [pk, trace, trgm]],
    ['+ full-text GIN instead of trigram', [pk, trace, fts]],
  ];
  console.log(`raw COPY of ${fmt(rows * 1.05)} rows into structured_logs, by index set (${load()})`);
  // A first pass warms the connection, the COPY path and the WAL: otherwise the first variant pays for that.
  await copyRate(pool, [], lines, rows * 1.05);
  let base = 0;
  for (const [label, indexes] of variants) {
    const rate = await copyRate(pool, indexes, lines, rows * 1.05);
    base ||= rate;
    console.log(
      `  ${label.padEnd(46)} ${fmt(rate).padStart(8)} rows/s   ${(rate / base).toFixed(2)}× of no index`,
    );
  }
}

export async function runLogsBench(): Promise<void> {
  const rows = Number(process.env.BENCH_LOG_ROWS ?? 1_000_000);
  const copyRows = Number(process.env.BENCH_LOG_COPY_ROWS ?? 200_000);
  const db = await benchDatabase('logs');
  try {
    await copyComparison(db.pool, copyRows);

    for (const at of [new Date(Date.now() - 31 * DAY), new Date()]) await ensurePartitions(db.pool, at, 0);
    console.log(`seeding ${fmt(rows)} log lines in ${ORG} over 30 days (+5 % in noise orgs) (${load()})`);
    let t = performance.now();
    await seed(db.pool, rows);
    const seconds = (performance.now() - t) / 1000;
    console.log(
      `seeded in ${seconds.toFixed(0)} s (${fmt((rows * 1.05) / seconds)} rows/s with every index)`,
    );
    t = performance.now();
    await db.pool.query('VACUUM ANALYZE structured_logs');
    console.log(`VACUUM ANALYZE in ${((performance.now() - t) / 1000).toFixed(0)} s`);

    t = performance.now();
    await db.pool.query("CREATE INDEX bench_fts ON structured_logs USING gin (to_tsvector('simple', body))");
    await db.pool.query('ANALYZE structured_logs');
    console.log(
      `full-text GIN index for the comparison built in ${((performance.now() - t) / 1000).toFixed(0)} s`,
    );

    const app = createApp({ pool: db.pool, logger: pino({ level: 'silent' }) });
    const key = (await createKey(db.pool, { orgId: ORG, role: 'viewer' })).key;
    // A different 24 h window for each call, spread over the month, so no answer is served from warm pages alone.
    const windowOf = (i: number) => {
      const to = Date.now() - ((i * 7) % 28) * DAY - 3_600_000;
      return { from: new Date(to - DAY), to: new Date(to) };
    };
    const runs = 20;
    const searches: [string, string | undefined, string][] = [
      ['newest page, no text', undefined, ''],
      ['word in 1 % of lines (timeout)', 'timeout', 'timeout'],
      ['word in 0.01 % of lines (deadlock)', 'deadlock', 'deadlock'],
      ['phrase ("tool call")', '"tool call"', 'tool call'],
      ['word in no line (zyzzyva)', 'zyzzyva', 'zyzzyva'],
    ];
    console.log(`24 h window, 100 lines a page, p50/p95 of ${runs} calls (budget: p95 ≤ 300 ms) (${load()})`);
    console.log(
      `  ${'search'.padEnd(38)} ${'HTTP API (trgm)'.padStart(18)} ${'SQL pg_trgm'.padStart(18)} ${'SQL FTS'.padStart(18)}`,
    );
    const ms = ({ p50, p95 }: { p50: number; p95: number }) =>
      `${p50.toFixed(0)} / ${p95.toFixed(0)} ms`.padStart(18);
    for (const [label, q, like] of searches) {
      const api = await timed(runs, async (i) => {
        const { from, to } = windowOf(i);
        const query = new URLSearchParams({ date_from: from.toISOString(), date_to: to.toISOString() });
        if (q) query.set('q', q);
        const res = await app.request(`/api/telemetry/logs?${query}`, {
          headers: { authorization: `Bearer ${key}` },
        });
        if (res.status !== 200) throw new Error(`${res.status} ${await res.text()}`);
        await res.arrayBuffer();
      });
      const sql = (where: string, value: string) =>
        timed(runs, async (i) => {
          const { from, to } = windowOf(i);
          await db.pool.query(
            `SELECT id FROM structured_logs WHERE org_id = $1 AND time >= $2 AND time <= $3 ${where}
             ORDER BY time DESC, id DESC LIMIT 100`,
            q ? [ORG, from, to, value] : [ORG, from, to],
          );
        });
      const fts = q
        ? await sql("AND to_tsvector('simple', body) @@ websearch_to_tsquery('simple', $4)", q)
        : undefined;
      const trgm = q ? await sql('AND body ILIKE $4', `%${like}%`) : undefined;
      console.log(
        `  ${label.padEnd(38)} ${ms(api)} ${trgm ? ms(trgm) : '-'.padStart(18)} ${fts ? ms(fts) : '-'.padStart(18)}`,
      );
    }
    const { rows: sizes } = await db.pool.query<{ name: string; mb: number }>(
      `SELECT i.relname AS name, sum(pg_relation_size(c.oid)) / 1048576 AS mb
         FROM pg_inherits h JOIN pg_index x ON x.indrelid = h.inhrelid
         JOIN pg_class c ON c.oid = x.indexrelid
         JOIN pg_index xp ON true JOIN pg_class i ON i.oid = xp.indexrelid AND xp.indrelid = 'structured_logs'::regclass
        WHERE h.inhparent = 'structured_logs'::regclass AND c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = i.oid)
        GROUP BY i.relname ORDER BY 1`,
    );
    console.log(`index sizes: ${sizes.map((s) => `${s.name} ${Number(s.mb).toFixed(0)} MiB`).join(', ')}`);
  } finally {
    await db.drop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await runLogsBench();
