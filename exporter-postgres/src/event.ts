import { z } from 'zod';
import { storedHexIdSchema } from './hex-id.ts';
import { OrgIdSchema } from './org-id.ts';

/**
 * Where `cost_usd` came from: `provided` by the span itself, `computed` from the operator's own prices (an org's
 * or the price file's), `catalog` from the maintained price catalogue; `unpriced` when no price applies (cost
 * null, never $0).
 */
export const CostSourceSchema = z.enum(['provided', 'computed', 'catalog', 'unpriced']);
export type CostSource = z.infer<typeof CostSourceSchema>;

const id = z.string().min(1).max(256);
const text = z.string().max(1024);
const count = z.number().int().min(0).max(2_147_483_647);
const bytes = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const json = z.record(z.string(), z.unknown());

/**
 * One model call: a row of `ai_events`. Field names are the column names, so the same shape is the
 * database row, the API item, the CSV columns and the live-stream payload.
 */
export const AiEventSchema = z.object({
  id: z.uuid(),
  org_id: OrgIdSchema,
  client_id: id.nullable(),
  user_id: id.nullable(),
  /** The conversation or thread the call belongs to; identifiers holding personal data become pseudonyms. */
  session_id: id.nullable(),
  request_id: id.nullable(),
  trace_id: storedHexIdSchema(16).nullable(),
  span_id: storedHexIdSchema(8).nullable(),
  parent_span_id: storedHexIdSchema(8).nullable(),
  service_name: text.nullable(),
  endpoint: text.nullable(),
  operation: text.nullable(),
  provider: text.nullable(),
  model_name: z.string().min(1).max(256),
  model_version: text.nullable(),
  adapter_id: text.nullable(),
  input_tokens: count.nullable(),
  output_tokens: count.nullable(),
  cached_input_tokens: count.nullable(),
  reasoning_tokens: count.nullable(),
  input_size_bytes: bytes.nullable(),
  output_size_bytes: bytes.nullable(),
  latency_ms: z.number().min(0),
  compute_ms: z.number().min(0).nullable(),
  /** Time to first token or chunk of a streamed response; null when the call did not stream or did not say. */
  ttft_ms: z.number().min(0).nullable(),
  /** Decimal string, exact (numeric in PostgreSQL); null when unpriced. */
  cost_usd: z
    .string()
    .regex(/^\d{1,10}(\.\d{1,10})?$/)
    .nullable(),
  cost_source: CostSourceSchema,
  success: z.boolean(),
  error_code: text.nullable(),
  error_message: z.string().max(1000).nullable(),
  fallback_used: z.boolean(),
  fallback_reason: text.nullable(),
  fallback_model: text.nullable(),
  provenance: json.nullable(),
  tags: json.nullable(),
  consent: z.boolean(),
  /** Event time: when the model call started. */
  created_at: z.date(),
  received_at: z.date(),
});

export type AiEvent = z.infer<typeof AiEventSchema>;

/** Column order used by every writer and reader of `ai_events`. */
export const AI_EVENT_COLUMNS = Object.keys(AiEventSchema.shape) as (keyof AiEvent)[];

/**
 * The PostgreSQL type of each column, as array casts and archive schemas name it. `numeric` is numeric(20, 10) in the
 * table (exact to 1e-10 dollars, up to 1e10).
 */
export const AI_EVENT_PG_TYPES = {
  id: 'uuid',
  org_id: 'text',
  client_id: 'text',
  user_id: 'text',
  session_id: 'text',
  request_id: 'text',
  trace_id: 'text',
  span_id: 'text',
  parent_span_id: 'text',
  service_name: 'text',
  endpoint: 'text',
  operation: 'text',
  provider: 'text',
  model_name: 'text',
  model_version: 'text',
  adapter_id: 'text',
  input_tokens: 'int4',
  output_tokens: 'int4',
  cached_input_tokens: 'int4',
  reasoning_tokens: 'int4',
  input_size_bytes: 'int8',
  output_size_bytes: 'int8',
  latency_ms: 'float8',
  compute_ms: 'float8',
  ttft_ms: 'float8',
  cost_usd: 'numeric',
  cost_source: 'text',
  success: 'bool',
  error_code: 'text',
  error_message: 'text',
  fallback_used: 'bool',
  fallback_reason: 'text',
  fallback_model: 'text',
  provenance: 'jsonb',
  tags: 'jsonb',
  consent: 'bool',
  created_at: 'timestamptz',
  received_at: 'timestamptz',
} as const satisfies Record<keyof AiEvent, string>;
