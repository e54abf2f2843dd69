import type { SqlStatement } from '../db/sql-statement.ts';
import type { AlertmanagerAlert, AlertRuleInput, AlertStatus, Channel } from './schema.ts';

export const ALERT_COLUMNS = `id, name, source, severity, summary, description, status, labels, started_at, ended_at,
  acknowledged_by, acknowledged_at, rule_id, value, notification_status`;

const RULE_COLUMNS = `id, org_id, name, metric, model_name, operator, threshold, window_seconds, interval_seconds,
  cooldown_seconds, severity, channels, enabled, last_evaluated_at, last_value, last_fired_at, created_at, updated_at`;

/**
 * Firing alerts keep an acknowledgement; resolved ones end. Keyed by fingerprint and start, like Alertmanager.
 * Returns the status before this call (`previous_status`, NULL when new), since Alertmanager repeats itself.
 */
export function upsertPrometheusAlert(id: string, orgId: string | null, a: AlertmanagerAlert): SqlStatement {
  const ended = a.status === 'resolved' && a.endsAt && !a.endsAt.startsWith('0001') ? a.endsAt : null;
  return {
    text: `WITH previous AS (
             SELECT status FROM alerts WHERE source = 'prometheus' AND fingerprint = $3 AND started_at = $11
           )
           INSERT INTO alerts (id, org_id, source, fingerprint, name, severity, summary, description, status,
             labels, annotations, started_at, ended_at)
           VALUES ($1, $2, 'prometheus', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
           ON CONFLICT (source, fingerprint, started_at) DO UPDATE SET
             status = CASE WHEN EXCLUDED.status = 'resolved' THEN 'resolved'
                           WHEN alerts.status = 'acknowledged' THEN 'acknowledged'
                           ELSE 'active' END,
             ended_at = EXCLUDED.ended_at, severity = EXCLUDED.severity, summary = EXCLUDED.summary,
             description = EXCLUDED.description, labels = EXCLUDED.labels, annotations = EXCLUDED.annotations,
             updated_at = now()
           RETURNING ${ALERT_COLUMNS}, (SELECT status FROM previous) AS previous_status`,
    values: [
      id,
      orgId,
      a.fingerprint,
      a.labels.alertname ?? 'unnamed',
      a.labels.severity ?? 'warning',
      a.annotations.summary ?? null,
      a.annotations.description ?? null,
      a.status === 'firing' ? 'active' : 'resolved',
      a.labels,
      a.annotations,
      a.startsAt,
      a.status === 'resolved' ? (ended ?? new Date().toISOString()) : null,
    ],
  };
}

export function orgExists(orgId: string): SqlStatement {
  return { text: 'SELECT 1 FROM orgs WHERE id = $1', values: [orgId] };
}

export function listAlerts(
  orgId: string,
  filters: { status?: AlertStatus | undefined; severity?: string | undefined; limit: number },
): SqlStatement {
  return {
    text: `SELECT ${ALERT_COLUMNS} FROM alerts
           WHERE org_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR severity = $3)
           ORDER BY started_at DESC, id LIMIT $4`,
    values: [orgId, filters.status ?? null, filters.severity ?? null, filters.limit],
  };
}

/** Resolved alerts stay resolved; the first acknowledgement's author and time are kept. */
export function acknowledgeAlert(alertId: string, orgId: string, keyId: string): SqlStatement {
  return {
    text: `UPDATE alerts SET
             status = CASE WHEN status = 'active' THEN 'acknowledged' ELSE status END,
             acknowledged_by = coalesce(acknowledged_by, $3), acknowledged_at = coalesce(acknowledged_at, now()),
             updated_at = now()
           WHERE id = $1 AND org_id = $2
           RETURNING ${ALERT_COLUMNS}`,
    values: [alertId, orgId, keyId],
  };
}

export function insertAcknowledgement(
  id: string,
  alertId: string,
  orgId: string,
  keyId: string,
  note: string | null,
): SqlStatement {
  return {
    text: `INSERT INTO alert_acknowledgements (id, alert_id, org_id, acknowledged_by, note)
           VALUES ($1, $2, $3, $4, $5)`,
    values: [id, alertId, orgId, keyId, note],
  };
}

function ruleValues(rule: AlertRuleInput): unknown[] {
  return [
    rule.name,
    rule.metric,
    rule.model_name,
    rule.operator,
    rule.threshold,
    rule.window_seconds,
    rule.interval_seconds,
    rule.cooldown_seconds,
    rule.severity,
    JSON.stringify(rule.channels),
    rule.enabled,
  ];
}

export function insertRule(id: string, orgId: string, rule: AlertRuleInput): SqlStatement {
  return {
    text: `INSERT INTO alert_rules (id, org_id, name, metric, model_name, operator, threshold, window_seconds,
             interval_seconds, cooldown_seconds, severity, channels, enabled)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING ${RULE_COLUMNS}`,
    values: [id, orgId, ...ruleValues(rule)],
  };
}

export function updateRule(id: string, orgId: string, rule: AlertRuleInput): SqlStatement {
  return {
    text: `UPDATE alert_rules SET name = $3, metric = $4, model_name = $5, operator = $6, threshold = $7,
             window_seconds = $8, interval_seconds = $9, cooldown_seconds = $10, severity = $11, channels = $12,
             enabled = $13, next_evaluation_at = now(), updated_at = now()
           WHERE id = $1 AND org_id = $2 RETURNING ${RULE_COLUMNS}`,
    values: [id, orgId, ...ruleValues(rule)],
  };
}

export function listRules(orgId: string): SqlStatement {
  return {
    text: `SELECT ${RULE_COLUMNS} FROM alert_rules WHERE org_id = $1 ORDER BY name, id`,
    values: [orgId],
  };
}

export function getRule(id: string, orgId: string): SqlStatement {
  return {
    text: `SELECT ${RULE_COLUMNS} FROM alert_rules WHERE id = $1 AND org_id = $2`,
    values: [id, orgId],
  };
}

export function deleteRule(id: string, orgId: string): SqlStatement {
  return { text: 'DELETE FROM alert_rules WHERE id = $1 AND org_id = $2 RETURNING id', values: [id, orgId] };
}

/** Rules due now, locked so that a second evaluator (if the advisory lock ever let one in) skips them. */
export function claimDueRules(limit: number): SqlStatement {
  return {
    text: `SELECT ${RULE_COLUMNS} FROM alert_rules WHERE enabled AND next_evaluation_at <= now()
           ORDER BY next_evaluation_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
    values: [limit],
  };
}

/**
 * Every metric a rule can watch, over one org's events in the window. Rates and p95 are NULL without
 * traffic, so no traffic never fires a rate or latency rule.
 */
export function measureWindow(orgId: string, modelName: string | null, windowSeconds: number): SqlStatement {
  return {
    text: `SELECT count(*)::float8 AS request_count,
             (count(*) FILTER (WHERE NOT success))::float8 / nullif(count(*), 0) AS error_rate,
             (count(*) FILTER (WHERE fallback_used))::float8 / nullif(count(*), 0) AS fallback_rate,
             percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95_latency,
             -- Aggregates skip nulls: streamed calls only, and null (no firing) when none streamed.
             percentile_cont(0.95) WITHIN GROUP (ORDER BY ttft_ms) AS p95_ttft,
             coalesce(sum(cost_usd), 0)::float8 AS cost
           FROM ai_events
           WHERE org_id = $1 AND ($2::text IS NULL OR model_name = $2)
             AND created_at > now() - make_interval(secs => $3) AND created_at <= now()`,
    values: [orgId, modelName, windowSeconds],
  };
}

export function openRuleAlert(ruleId: string): SqlStatement {
  return {
    text: `SELECT ${ALERT_COLUMNS} FROM alerts WHERE rule_id = $1 AND status <> 'resolved'
           ORDER BY started_at DESC LIMIT 1`,
    values: [ruleId],
  };
}

export function insertBuiltinAlert(
  id: string,
  rule: {
    id: string;
    org_id: string;
    name: string;
    severity: string;
    metric: string;
    model_name: string | null;
  },
  summary: string,
  description: string,
  value: number,
  notify: boolean,
): SqlStatement {
  return {
    text: `INSERT INTO alerts (id, org_id, source, fingerprint, name, severity, summary, description, status, labels,
             started_at, rule_id, value, notification_status)
           VALUES ($1, $2, 'builtin', $3, $4, $5, $6, $7, 'active', $8, now(), $11, $9, $10)
           RETURNING ${ALERT_COLUMNS}`,
    values: [
      id,
      rule.org_id,
      rule.id,
      rule.name,
      rule.severity,
      summary,
      description,
      { alertname: rule.name, org_id: rule.org_id, metric: rule.metric, model_name: rule.model_name ?? '' },
      value,
      notify ? 'pending' : null,
      rule.id,
    ],
  };
}

export function resolveAlert(alertId: string, value: number | null): SqlStatement {
  return {
    text: `UPDATE alerts SET status = 'resolved', ended_at = now(), value = coalesce($2, value), updated_at = now()
           WHERE id = $1 RETURNING ${ALERT_COLUMNS}`,
    values: [alertId, value],
  };
}

export function updateAlertValue(alertId: string, value: number): SqlStatement {
  return { text: 'UPDATE alerts SET value = $2, updated_at = now() WHERE id = $1', values: [alertId, value] };
}

export function recordEvaluation(ruleId: string, value: number | null, fired: boolean): SqlStatement {
  return {
    text: `UPDATE alert_rules SET last_evaluated_at = now(), last_value = $2,
             last_fired_at = CASE WHEN $3 THEN now() ELSE last_fired_at END,
             next_evaluation_at = now() + make_interval(secs => interval_seconds)
           WHERE id = $1`,
    values: [ruleId, value, fired],
  };
}

export function insertNotification(
  id: string,
  alertId: string,
  orgId: string,
  channel: Channel,
  event: 'firing' | 'resolved',
  outcome: { ok: boolean; attempts: number; httpStatus: number | null; error: string | null },
): SqlStatement {
  return {
    text: `INSERT INTO alert_notifications (id, alert_id, org_id, channel_type, event, status, attempts, http_status, error)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    values: [
      id,
      alertId,
      orgId,
      channel.type,
      event,
      outcome.ok ? 'delivered' : 'failed',
      outcome.attempts,
      outcome.httpStatus,
      outcome.error,
    ],
  };
}

export function recordNotificationOutcome(alertId: string, ok: boolean): SqlStatement {
  return {
    text: `UPDATE alerts SET notification_status = $2, notified_at = CASE WHEN $2 = 'delivered' THEN now() ELSE notified_at END
           WHERE id = $1`,
    values: [alertId, ok ? 'delivered' : 'failed'],
  };
}
