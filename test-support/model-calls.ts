import type pg from 'pg';

const HOUR_MS = 3_600_000;

export interface ModelCalls {
  orgId: string;
  model: string;
  /** One call per value, spread evenly over the window. */
  latencies: readonly number[];
  /** Per call (same length as `latencies`), or one value for every call; null for none. */
  inputTokens?: readonly (number | null)[] | number | null;
  outputTokens?: readonly (number | null)[] | number | null;
  /** USD per call; null makes the calls unpriced. */
  costUsd?: readonly (number | null)[] | number | null;
  /** The window, in hours back from now: [now − fromHoursAgo, now − toHoursAgo). */
  fromHoursAgo: number;
  toHoursAgo: number;
}

// A column's values: the array given, or one value (null included) for every call, or the default when omitted.
const column = <T>(value: readonly T[] | T | undefined, n: number, fallback: T): T[] =>
  Array.isArray(value) ? [...value] : new Array<T>(n).fill((value === undefined ? fallback : value) as T);

/** Inserts one `ai_events` row per latency for one org × model, in one statement. */
export async function insertModelCalls(pool: pg.Pool, calls: ModelCalls): Promise<void> {
  const n = calls.latencies.length;
  const now = Date.now();
  const from = now - calls.fromHoursAgo * HOUR_MS;
  const step = ((calls.fromHoursAgo - calls.toHoursAgo) * HOUR_MS) / n;
  const times = calls.latencies.map((_, i) => new Date(from + i * step).toISOString());
  const cost = column(calls.costUsd, n, 0.01 as number | null);
  await pool.query(
    `INSERT INTO ai_events (id, org_id, model_name, latency_ms, input_tokens, output_tokens, cost_usd, cost_source,
       success, created_at)
     SELECT gen_random_uuid(), $1, $2, l, i, o, c, CASE WHEN c IS NULL THEN 'unpriced' ELSE 'computed' END, true, t
     FROM unnest($3::float8[], $4::int[], $5::int[], $6::numeric[], $7::timestamptz[]) AS u(l, i, o, c, t)`,
    [
      calls.orgId,
      calls.model,
      calls.latencies,
      column(calls.inputTokens, n, 100 as number | null),
      column(calls.outputTokens, n, 50 as number | null),
      cost,
      times,
    ],
  );
}

/** mulberry32: seeded, so a test's "random" sample is the same every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** `n` log-normal latencies around `medianMs` (σ = 0.5), like real model-call latencies. */
export function logNormalLatencies(random: () => number, n: number, medianMs: number): number[] {
  return Array.from({ length: n }, () => {
    const u = 1 - random();
    const v = random();
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    return Math.round(medianMs * Math.exp(0.5 * z) * 10) / 10;
  });
}
