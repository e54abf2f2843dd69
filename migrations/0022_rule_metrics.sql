-- Built-in rules gain metrics over time (p95_ttft, issue 14): the list of allowed metrics lives where rules are
-- written (RuleMetricSchema, which every route validates against). A CHECK listing them here would have to be
-- rewritten by every migration that adds one, and the last one applied would drop the others' metrics.
ALTER TABLE alert_rules DROP CONSTRAINT IF EXISTS alert_rules_metric_check;
