/**
 * The rollup tables of `migrations/0024_narrow_rollups.sql`, described once for the compactor, the backfill, the read
 * paths and the retention job. Every table keys time by `bucket` (the start of its hour or UTC day) after `org_id`.
 */

/** Figures that add up: counts, token sums, exact cost. */
export const ROLLUP_SUMS = [
  'calls',
  'errors',
  'fallbacks',
  'input_tokens',
  'output_tokens',
  'cached_input_tokens',
  'reasoning_tokens',
  'cost_usd',
  'unpriced_calls',
  'ttft_calls',
] as const;

/** The packed latency and TTFT histograms every org and dimension row carries. */
export const ROLLUP_HISTOGRAMS = ['latency_hist', 'ttft_hist'] as const;

/** The dimensions `ai_roll_dim_*` holds, each its own rows (`dim` = the column name). */
export const ROLLUP_DIMENSIONS = ['model_name', 'endpoint', 'service_name', 'provider', 'user_id'] as const;
export type RollupDimension = (typeof ROLLUP_DIMENSIONS)[number];

export type RollupGrain = 'hour' | 'day';

/** The four rollups, each an hourly and a daily table named `${base}_hour` / `${base}_day`. */
export const ROLLUPS = ['ai_roll_org', 'ai_roll_dim', 'ai_roll_error', 'ai_roll_fallback'] as const;
export type Rollup = (typeof ROLLUPS)[number];

export const rollupTable = (rollup: Rollup, grain: RollupGrain) => `${rollup}_${grain}`;

/** Keys of events committed but not yet added into the rollups (the insert trigger's). */
export const PENDING = 'ai_rollup_pending';

/**
 * Every table holding rollup figures, with its time column, for retention: deleting rows older than a cut-off from
 * each of them removes those buckets' figures and nothing else. Deleting raw `ai_events` rows never changes a rollup.
 */
export const ROLLUP_TABLES: readonly { table: string; timeColumn: 'bucket'; grain: RollupGrain }[] = [
  ...ROLLUPS.flatMap((r) => [
    { table: rollupTable(r, 'hour'), timeColumn: 'bucket' as const, grain: 'hour' as const },
    { table: rollupTable(r, 'day'), timeColumn: 'bucket' as const, grain: 'day' as const },
  ]),
];
