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
  /** Held by the one replica computing model drift (PSI) for a pass. */
  drift: 7_246_016,
  /** Held (per transaction) by the one replica moving rollup deltas into the hourly and daily tables. */
  rollupCompactor: 7_246_140,
  /** Held (session-level) by the one replica running the retention job. */
  retention: 7_246_015,
  /** Per org and archived range (two-key form): one archive run at a time writes a range's files and manifests. */
  archiveRange: 7_246_153,
} as const;
