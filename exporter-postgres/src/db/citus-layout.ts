/**
 * How the schema would be laid out on Citus, in one place (docs/scale-out.md explains it; `citus-layout.test.ts`
 * checks the migrated schema against Citus's rules, since Citus itself cannot be installed here).
 *
 * Distributed by `org_id`: the tables that grow with traffic; every query the API makes on them names one org, so it
 * stays on one shard. Reference (a copy on every node): the small control-plane tables, each for a reason Citus
 * would otherwise refuse or slow down — lookups that do not know the org yet (a key or session by its hash), claims
 * across orgs with `FOR UPDATE SKIP LOCKED` (export jobs, retention), or tables the distributed ones point at.
 */
export const CITUS_LAYOUT = {
  distributed: [
    'ai_events',
    'ai_spans',
    'structured_logs',
    'ai_roll_org_hour',
    'ai_roll_org_day',
    'ai_roll_dim_hour',
    'ai_roll_dim_day',
    'ai_roll_error_hour',
    'ai_roll_error_day',
    'ai_roll_fallback_hour',
    'ai_roll_fallback_day',
    'ai_rollup_pending',
    'ai_traces',
    'ai_sessions',
    'ai_event_content',
    'model_versions',
    'model_drift',
  ],
  reference: {
    orgs: 'every per-org table points at it',
    api_keys: 'looked up by key hash before the org is known',
    sessions: 'looked up by token hash before the org is known',
    alert_rules: 'a few per org; alerts point at them; the rule engine reads every org’s',
    alerts: 'few rows; the engine and Alertmanager webhook upsert them across orgs',
    alert_acknowledgements: 'point at alerts',
    alert_notifications: 'point at alerts; delivery is claimed across orgs',
    exports: 'jobs claimed across orgs with FOR UPDATE SKIP LOCKED',
    archives: 'one row per archived file',
    audit_log: 'admin actions only; one hash chain per org, verified in order',
    audit_chain_heads: 'one row per audit chain',
    retention_pending: 'at most one row per org: a retention run in progress',
    retention_runs: 'one row per run',
    ai_rollup_state: 'one row: the backfill mark every rollup read takes',
    org_data_keys:
      'one wrapped data key per org; a master-key rotation re-wraps every org’s in one transaction',
    model_deployments: 'a few rows per model, by a single-column id',
  },
  /** Kept on the coordinator only: nothing joins them. */
  local: ['schema_migrations'],
} as const;
