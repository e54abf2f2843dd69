import { z } from 'zod';
import type { EventContentRow } from './content/content-row.ts';
import type { AiEvent } from './event.ts';
import { storedHexIdSchema } from './hex-id.ts';
import { OrgIdSchema } from './org-id.ts';

/**
 * What a stored span that is not a model call does. Model calls are `ai_events` rows (kind `model` in a trace's
 * tree); OpenInference's RERANKER is a `retriever`, OpenLLMetry's `task` a `chain`, the AI SDK's outer
 * `ai.generateText`-like spans (which wrap a model call and its tool calls) a `chain`.
 */
export const SpanKindSchema = z.enum([
  'agent',
  'tool',
  'retriever',
  'chain',
  'guardrail',
  'evaluator',
  'workflow',
]);
export type SpanKind = z.infer<typeof SpanKindSchema>;

const id = z.string().min(1).max(256);
const text = z.string().max(1024);

/** Attribute values kept on a span row: scalars only, strings cut and scrubbed. */
export const SpanAttributesSchema = z.record(
  z.string().max(128),
  z.union([z.string().max(256), z.number(), z.boolean()]),
);

/**
 * One agent, tool, retriever, chain, guardrail, evaluator or workflow span: a row of `ai_spans`. Field names are
 * the column names. No content: the name, the agent and tool names and a bounded set of attributes only.
 */
export const AiSpanSchema = z.object({
  id: z.uuid(),
  org_id: OrgIdSchema,
  span_kind: SpanKindSchema,
  name: z.string().min(1).max(256),
  agent_name: id.nullable(),
  tool_name: id.nullable(),
  success: z.boolean(),
  error_code: text.nullable(),
  latency_ms: z.number().min(0),
  trace_id: storedHexIdSchema(16).nullable(),
  span_id: storedHexIdSchema(8).nullable(),
  parent_span_id: storedHexIdSchema(8).nullable(),
  service_name: text.nullable(),
  endpoint: text.nullable(),
  user_id: id.nullable(),
  session_id: id.nullable(),
  attributes: SpanAttributesSchema.nullable(),
  /** When the span started. */
  created_at: z.date(),
  received_at: z.date(),
});

export type AiSpan = z.infer<typeof AiSpanSchema>;

/** Column order used by every writer and reader of `ai_spans`. */
export const AI_SPAN_COLUMNS = Object.keys(AiSpanSchema.shape) as (keyof AiSpan)[];

/** PostgreSQL type of each `ai_spans` column, for the writer's `unnest` arrays. */
export const AI_SPAN_PG_TYPES: Record<keyof AiSpan, string> = {
  id: 'uuid',
  org_id: 'text',
  span_kind: 'text',
  name: 'text',
  agent_name: 'text',
  tool_name: 'text',
  success: 'bool',
  error_code: 'text',
  latency_ms: 'float8',
  trace_id: 'text',
  span_id: 'text',
  parent_span_id: 'text',
  service_name: 'text',
  endpoint: 'text',
  user_id: 'text',
  session_id: 'text',
  attributes: 'jsonb',
  created_at: 'timestamptz',
  received_at: 'timestamptz',
};

/**
 * What the write pipeline carries: model calls (`ai_events`), the spans around them (`ai_spans`) and captured
 * content, already encrypted (`ai_event_content`).
 */
export type StoredRow = AiEvent | AiSpan | EventContentRow;

/** A model call, not a span around one nor content. */
export const isModelCall = (row: StoredRow): row is AiEvent =>
  !('span_kind' in row) && !('ciphertext' in row);

export const isAiSpan = (row: StoredRow): row is AiSpan => 'span_kind' in row;
