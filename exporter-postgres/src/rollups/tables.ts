/**
 * The rollup tables of `migrations/0014_rollups.sql`, described once for the compactor, the read paths and the
 * retention job. Two families: the main one (org × model × endpoint × service × provider) and the per-user one
 * (org × user, for cost attribution). Each has an append-only delta table the insert trigger fills and an hourly and a
 * daily table the compactor fills; every one of them keys time by `bucket` (the start of its hour or UTC day).
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

export interface RollupFamily {
  name: 'main' | 'user';
  /** Append-only, filled by the trigger, emptied by the compactor. */
  delta: string;
  hour: string;
  day: string;
  /** The key after `org_id` and `bucket`. */
  dimensions: readonly string[];
  /** jsonb count maps, merged by adding per key. */
  maps: readonly string[];
}

export const MAIN_ROLLUP: RollupFamily = {
  name: 'main',
  delta: 'ai_rollup_delta',
  hour: 'ai_rollup_hour',
  day: 'ai_rollup_day',
  dimensions: ['model_name', 'endpoint', 'service_name', 'provider'],
  maps: ['latency_hist', 'ttft_hist', 'errors_by_code', 'fallbacks_by'],
};

export const USER_ROLLUP: RollupFamily = {
  name: 'user',
  delta: 'ai_rollup_user_delta',
  hour: 'ai_rollup_user_hour',
  day: 'ai_rollup_user_day',
  dimensions: ['user_id'],
  maps: ['latency_hist', 'ttft_hist'],
};

export const ROLLUP_FAMILIES = [MAIN_ROLLUP, USER_ROLLUP] as const;

/**
 * Every table holding rollup figures, with its time column, for retention: deleting rows older than a cut-off from
 * each of them (deltas included) removes those buckets' figures and nothing else. Deleting raw `ai_events` rows
 * never changes a rollup.
 */
export const ROLLUP_TABLES: readonly { table: string; timeColumn: 'bucket'; grain: 'hour' | 'day' }[] =
  ROLLUP_FAMILIES.flatMap((f) => [
    { table: f.delta, timeColumn: 'bucket' as const, grain: 'hour' as const },
    { table: f.hour, timeColumn: 'bucket' as const, grain: 'hour' as const },
    { table: f.day, timeColumn: 'bucket' as const, grain: 'day' as const },
  ]);
