import { z } from 'zod';
import { storableText } from '../http/storable-text.ts';

export const AlertStatusSchema = z.enum(['active', 'acknowledged', 'resolved']);
export type AlertStatus = z.infer<typeof AlertStatusSchema>;

export const SeveritySchema = z.enum(['info', 'warning', 'critical']);
export type Severity = z.infer<typeof SeveritySchema>;

/** One alert of Alertmanager's webhook payload (version 4). */
export const AlertmanagerAlertSchema = z.object({
  status: z.enum(['firing', 'resolved']),
  labels: z.record(z.string(), z.string()),
  annotations: z.record(z.string(), z.string()).default({}),
  startsAt: z.iso.datetime({ offset: true }),
  endsAt: z.string().optional(),
  generatorURL: z.string().optional(),
  fingerprint: z.string().min(1).max(200),
});

export const AlertmanagerPayloadSchema = z.object({
  version: z.literal('4'),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string().optional(),
  groupKey: z.string().optional(),
  alerts: z.array(AlertmanagerAlertSchema).max(1000),
});
export type AlertmanagerPayload = z.infer<typeof AlertmanagerPayloadSchema>;
export type AlertmanagerAlert = z.infer<typeof AlertmanagerAlertSchema>;

export const ListAlertsQuerySchema = z.object({
  status: AlertStatusSchema.optional(),
  severity: storableText.min(1).max(50).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export const AckBodySchema = z.object({ note: storableText.max(2000).optional() }).strict();

export const ChannelSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('webhook'), url: z.url() }).strict(),
  z.object({ type: z.literal('slack'), url: z.url() }).strict(),
]);
export type Channel = z.infer<typeof ChannelSchema>;

export const RuleMetricSchema = z.enum([
  'error_rate',
  'fallback_rate',
  'p95_latency',
  'p95_ttft',
  'cost',
  'request_count',
  'psi_latency',
  'psi_input_tokens',
  'psi_output_tokens',
  'psi_cost',
]);
export type RuleMetric = z.infer<typeof RuleMetricSchema>;

export const OperatorSchema = z.enum(['>', '>=', '<', '<=']);
export type Operator = z.infer<typeof OperatorSchema>;

/**
 * A built-in rule as an org admin writes it. Rates are fractions (0.05 = 5 %), p95_latency and p95_ttft (time to first
 * token of streamed calls) are in ms, cost in USD. psi_* metrics read the stored daily drift (see `drift/`): their
 * window is how recent that PSI must be.
 */
export const AlertRuleInputSchema = z
  .object({
    name: storableText.trim().min(1).max(200),
    metric: RuleMetricSchema,
    model_name: storableText.min(1).max(200).nullable().default(null),
    operator: OperatorSchema.default('>'),
    threshold: z.number().finite(),
    window_seconds: z
      .number()
      .int()
      .min(10)
      .max(31 * 86_400),
    interval_seconds: z.number().int().min(1).max(86_400).default(60),
    cooldown_seconds: z
      .number()
      .int()
      .min(0)
      .max(30 * 86_400)
      .default(900),
    severity: SeveritySchema.default('warning'),
    channels: z.array(ChannelSchema).max(10).default([]),
    enabled: z.boolean().default(true),
  })
  .strict();
export type AlertRuleInput = z.infer<typeof AlertRuleInputSchema>;

export interface AlertRule extends AlertRuleInput {
  id: string;
  org_id: string;
  last_evaluated_at: Date | null;
  last_value: number | null;
  last_fired_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** An alert as the API lists it. */
export interface AlertView {
  id: string;
  name: string;
  source: 'prometheus' | 'builtin';
  severity: string;
  summary: string | null;
  description: string | null;
  status: AlertStatus;
  labels: Record<string, string>;
  started_at: Date;
  ended_at: Date | null;
  acknowledged_by: string | null;
  acknowledged_at: Date | null;
  rule_id: string | null;
  value: number | null;
  notification_status: 'pending' | 'delivered' | 'failed' | null;
}
