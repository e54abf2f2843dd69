-- Built-in alert rules every org starts with (seed 004's critical alerts), the metrics they need, and the email
-- notification channel.

-- The set of rule metrics is the service's RuleMetricSchema, which validates every rule written through the API
-- (0022 says the same); dropped here already because the defaults below use p99_latency and cost_per_hour.
ALTER TABLE alert_rules DROP CONSTRAINT IF EXISTS alert_rules_metric_check;

ALTER TABLE alert_notifications DROP CONSTRAINT IF EXISTS alert_notifications_channel_type_check;
ALTER TABLE alert_notifications ADD CONSTRAINT alert_notifications_channel_type_check
  CHECK (channel_type IN ('webhook', 'slack', 'email'));

-- The defaults, created enabled and without channels: they fire into the console (and the live stream) until an
-- org admin adds a channel or changes them. The cost amount is per org: each org edits its own rule's threshold.
-- Existing names are left alone, so running it again (or on an org that already has such a rule) changes nothing.
CREATE OR REPLACE FUNCTION observatory_create_default_rules(org text) RETURNS void
LANGUAGE sql AS $$
  INSERT INTO alert_rules (id, org_id, name, metric, operator, threshold, window_seconds, interval_seconds,
                           cooldown_seconds, severity)
  SELECT gen_random_uuid(), org, d.name, d.metric, '>', d.threshold, d.window_seconds, 60, 900, d.severity
  FROM (VALUES
    ('Error rate above 5%',      'error_rate',    0.05,    300,  'critical'),
    ('p99 latency above 10 s',   'p99_latency',   10000,   600,  'critical'),
    ('Fallback rate above 10%',  'fallback_rate', 0.10,    1800, 'warning'),
    ('Cost per hour above 100 USD', 'cost_per_hour', 100, 3600, 'warning')
  ) AS d (name, metric, threshold, window_seconds, severity)
  ON CONFLICT (org_id, name) DO NOTHING;
$$;

-- Orgs that existed before this migration get them once too.
SELECT observatory_create_default_rules(id) FROM orgs;
