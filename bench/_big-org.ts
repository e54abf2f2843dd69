/**
 * Synthetic `ai_events` rows for the read-path benchmark, as COPY text made on demand: one big org holding most rows
 * plus a few noise orgs, in time order over the last `days` days, with the shapes the read paths care about: ids in
 * the service's UUIDv7 layout (1 in 1,000 a random UUIDv4, as a client may supply), traces of 1–3 calls sharing a
 * random trace id and request id, 5,000 users (10 % of calls without one), skewed endpoints, ~4 % failures with three
 * error codes, ~2.5 % fallbacks.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

export const BIG_ORG = 'big-org';

export const SEED_COLUMNS = [
  'id',
  'org_id',
  'user_id',
  'request_id',
  'trace_id',
  'span_id',
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
  'error_code',
  'fallback_used',
  'fallback_model',
  'created_at',
  'received_at',
] as const;

const ENDPOINTS = [
  ...Array(50).fill('/chat'),
  ...Array(25).fill('/search'),
  ...Array(15).fill('/summarize'),
  ...Array(9).fill('/classify'),
  '/admin/reindex',
] as string[];
const ERROR_CODES = ['timeout', 'rate_limited', 'server_error'];

/** mulberry32: a fast seeded PRNG, so every run makes the same rows. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export interface SeedSlice {
  /** Rows of the big org in this slice; noise orgs add `noiseShare` on top. */
  rows: number;
  fromMs: number;
  toMs: number;
  seed: number;
  noiseOrgs?: number;
  noiseShare?: number;
}

/** COPY text lines for one time slice, newest last, in chunks of ~1,000 rows. */
export function* seedLines(slice: SeedSlice): Generator<string> {
  const random = prng(slice.seed);
  const hex = (chars: number) => {
    let out = '';
    while (out.length < chars)
      out += Math.floor(random() * 4_294_967_296)
        .toString(16)
        .padStart(8, '0');
    return out.slice(0, chars);
  };
  const uuid = (h: string) =>
    `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  const noiseOrgs = slice.noiseOrgs ?? 4;
  const noiseShare = slice.noiseShare ?? 0.05;
  const total = Math.round(slice.rows * (1 + noiseShare));
  const step = (slice.toMs - slice.fromMs) / total;
  const receivedAt = new Date().toISOString();
  let trace = '';
  let request = '';
  let left = 0;
  let chunk = '';
  for (let i = 0; i < total; i++) {
    const ms = Math.floor(slice.fromMs + i * step);
    if (left-- <= 0) {
      trace = hex(32);
      request = `req-${hex(16)}`;
      left = Math.floor(random() * 3);
    }
    const org =
      random() < noiseShare / (1 + noiseShare) ? `noise-${Math.floor(random() * noiseOrgs)}` : BIG_ORG;
    const clientId = random() < 0.001;
    const id = clientId
      ? uuid(`${hex(12)}4${hex(3)}${'89ab'[Math.floor(random() * 4)]}${hex(15)}`)
      : uuid(`${ms.toString(16).padStart(12, '0')}7${hex(3)}${'89ab'[Math.floor(random() * 4)]}${hex(15)}`);
    const failed = random() < 0.04;
    const fallback = random() < 0.025;
    const model = `model-${Math.floor(random() * random() * 30)}`;
    const user = random() < 0.1 ? '\\N' : `user-${Math.floor(random() * 5000)}`;
    chunk += `${[
      id,
      org,
      user,
      request,
      trace,
      hex(16),
      'bench',
      ENDPOINTS[Math.floor(random() * ENDPOINTS.length)],
      'chat',
      'openai',
      model,
      200 + Math.floor(random() * 2000),
      20 + Math.floor(random() * 500),
      (50 + random() * 3000).toFixed(1),
      (random() / 100).toFixed(8),
      'computed',
      failed ? 'f' : 't',
      failed ? ERROR_CODES[Math.floor(random() * 3)] : '\\N',
      fallback ? 't' : 'f',
      fallback ? 'model-0' : '\\N',
      new Date(ms).toISOString(),
      receivedAt,
    ].join('\t')}\n`;
    if (i % 1000 === 999) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

/** COPYs the lines into `table` through one connection. */
export async function copyLines(pool: pg.Pool, table: string, lines: Iterable<string>): Promise<void> {
  const client = await pool.connect();
  try {
    const sink = client.query(copyFrom(`COPY ${table} (${SEED_COLUMNS.join(', ')}) FROM STDIN`));
    await pipeline(Readable.from(lines), sink);
  } finally {
    client.release();
  }
}

/**
 * Seeds `rows` big-org events (plus noise orgs) over the last `days` days, in `parallel` time slices COPYed at once.
 * Returns the wall time in seconds.
 */
export async function seedBigOrg(pool: pg.Pool, rows: number, days = 30, parallel = 2): Promise<number> {
  const t = performance.now();
  const now = Date.now();
  const span = days * 86_400_000;
  await Promise.all(
    Array.from({ length: parallel }, (_, p) =>
      copyLines(
        pool,
        'ai_events',
        seedLines({
          rows: Math.round(rows / parallel),
          fromMs: now - span + (p * span) / parallel,
          toMs: now - span + ((p + 1) * span) / parallel,
          seed: p + 1,
        }),
      ),
    ),
  );
  return (performance.now() - t) / 1000;
}
