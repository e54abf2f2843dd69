/**
 * Every PostgreSQL advisory lock id Observatory takes, in one place so that no two uses can collide. Any fixed
 * numbers work; they only have to be the same in every process that shares the database.
 */
export const ADVISORY_LOCKS = {
  /** Held while migrations run, so that concurrent starts migrate once. */
  migrate: 7_246_001,
  /** Held while the first start creates the `default` org and its keys. */
  bootstrap: 7_246_002,
  /** Per org (two-key form, with `hashtext(org_id)`): serialises export-job creation for the rate limit. */
  exportCreate: 7_246_004,
  /** Held by the one replica that evaluates alert rules. */
  alertEngine: 7_246_007,
  /** Held (per transaction) by the one replica moving rollup deltas into the hourly and daily tables. */
  rollupCompactor: 7_246_140,
} as const;
