import { z } from 'zod';

/** What drift is measured on, named after the `ai_events` column each one reads. */
export const DRIFT_FEATURES = ['latency_ms', 'input_tokens', 'output_tokens', 'cost_usd'] as const;
export const DriftFeatureSchema = z.enum(DRIFT_FEATURES);
export type DriftFeature = z.infer<typeof DriftFeatureSchema>;

export const DriftReadingSchema = z.enum(['stable', 'moderate', 'significant', 'insufficient_data']);
export type DriftReading = z.infer<typeof DriftReadingSchema>;

const isoTime = z.iso.datetime();

export const DriftBinSchema = z.object({
  from: z.number().nullable().describe('lower edge, inclusive; null for the first bin'),
  to: z.number().nullable().describe('upper edge, exclusive; null for the last bin'),
  baseline_share: z.number().describe("the baseline's share of values in this bin (0–1)"),
  current_share: z.number().describe("the last 24 h's share of values in this bin (0–1)"),
});
export type DriftBin = z.infer<typeof DriftBinSchema>;

/** One model × feature's latest stored drift, as `action=drift` returns it. */
export const DriftItemSchema = z.object({
  model_name: z.string(),
  feature: DriftFeatureSchema,
  psi: z.number().nullable().describe('null when either window has fewer than 100 values'),
  reading: DriftReadingSchema.describe('< 0.1 stable, 0.1–0.25 moderate, > 0.25 significant'),
  computed_at: isoTime,
  window_start: isoTime.describe('the current window: the 24 h before window_end'),
  window_end: isoTime,
  baseline_start: isoTime,
  baseline_end: isoTime,
  baseline_n: z.number().int().describe("the baseline's values of this feature (priced calls only for cost)"),
  current_n: z.number().int(),
  bins: z.array(DriftBinSchema).describe("bins from the baseline's deciles, tied deciles merged"),
});
export type DriftItem = z.infer<typeof DriftItemSchema>;
