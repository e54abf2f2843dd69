-- Alerting: per-org rules for the built-in engine, acknowledgement and notification state on alerts,
-- and one row per notification delivery.

CREATE TABLE IF NOT EXISTS alert_rules (
  id                  uuid PRIMARY KEY,
  org_id              text NOT NULL REFERENCES orgs(id),
  name                text NOT NULL,
  metric              text NOT NULL CHECK (metric IN ('error_rate', 'fallback_rate', 'p95_latency', 'cost', 'request_count')),
  model_name          text,
  operator            text NOT NULL CHECK (operator IN ('>', '>=', '<', '<=')),
  threshold           double precision NOT NULL,
  window_seconds      integer NOT NULL CHECK (window_seconds > 0),
  interval_seconds    integer NOT NULL CHECK (interval_seconds > 0),
  cooldown_seconds    integer NOT NULL DEFAULT 0 CHECK (cooldown_seconds >= 0),
  severity            text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
  channels            jsonb NOT NULL DEFAULT '[]'::jsonb,
  enabled             boolean NOT NULL DEFAULT true,
  next_evaluation_at  timestamptz NOT NULL DEFAULT now(),
  last_evaluated_at   timestamptz,
  last_value          double precision,
  last_fired_at       timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS alert_rules_org_name_idx ON alert_rules (org_id, name);
CREATE INDEX IF NOT EXISTS alert_rules_due_idx ON alert_rules (next_evaluation_at) WHERE enabled;

ALTER TABLE alerts ADD COLUMN IF NOT EXISTS rule_id uuid REFERENCES alert_rules(id) ON DELETE SET NULL;
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS value double precision;
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS acknowledged_by uuid;
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS acknowledged_at timestamptz;
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS notification_status text
  CHECK (notification_status IN ('pending', 'delivered', 'failed'));
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS notified_at timestamptz;
CREATE INDEX IF NOT EXISTS alerts_rule_open_idx ON alerts (rule_id) WHERE status <> 'resolved';

CREATE TABLE IF NOT EXISTS alert_notifications (
  id            uuid PRIMARY KEY,
  alert_id      uuid NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
  org_id        text NOT NULL REFERENCES orgs(id),
  channel_type  text NOT NULL CHECK (channel_type IN ('webhook', 'slack')),
  event         text NOT NULL CHECK (event IN ('firing', 'resolved')),
  status        text NOT NULL CHECK (status IN ('delivered', 'failed')),
  attempts      integer NOT NULL,
  http_status   integer,
  error         text,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS alert_notifications_alert_idx ON alert_notifications (alert_id, created_at);
