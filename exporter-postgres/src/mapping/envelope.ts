import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { computeCost } from '../cost/cost.ts';
import type { PriceTable } from '../cost/price-table.ts';
import type { AiEvent } from '../event.ts';
import { hexIdSchema } from '../hex-id.ts';
import { normaliseErrorCode } from './error-codes.ts';
import { eventId } from './event-id.ts';
import { type PseudonymKey, protectIdentifiers } from './identifiers.ts';
import { scrubJson, scrubToLength } from './scrub.ts';

const id = z.string().min(1).max(256);
const text = z.string().max(1024);
const tokens = z.number().int().min(0).max(2_147_483_647);
const bytes = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const json = z.record(z.string(), z.unknown());

/**
 * One model call as sent to `POST /api/telemetry/events` by a service that does not use OpenTelemetry. The same
 * fields as an event, minus what the service decides: the org (the key's), the cost source and received_at.
 */
export const EventEnvelopeSchema = z
  .object({
    id: z.uuid().optional(),
    org_id: z.string().optional(),
    client_id: id.optional(),
    user_id: id.optional(),
    request_id: id.optional(),
    trace_id: hexIdSchema(16).optional(),
    span_id: hexIdSchema(8).optional(),
    parent_span_id: hexIdSchema(8).optional(),
    service_name: text.optional(),
    endpoint: text.optional(),
    operation: text.optional(),
    provider: text.optional(),
    model_name: z.string().min(1).max(256),
    model_version: text.optional(),
    adapter_id: text.optional(),
    input_tokens: tokens.optional(),
    output_tokens: tokens.optional(),
    cached_input_tokens: tokens.optional(),
    reasoning_tokens: tokens.optional(),
    input_size_bytes: bytes.optional(),
    output_size_bytes: bytes.optional(),
    latency_ms: z.number().min(0).max(86_400_000),
    compute_ms: z.number().min(0).max(86_400_000).optional(),
    /** A cost the service knows; otherwise it is computed from the price table. */
    cost_usd: z
      .union([
        z.number().min(0),
        z
          .string()
          .regex(/^\d{1,10}(\.\d+)?$/)
          .transform(Number),
      ])
      .optional(),
    success: z.boolean(),
    error_code: text.optional(),
    error_message: z.string().max(100_000).optional(),
    fallback_used: z.boolean().default(false),
    fallback_reason: text.optional(),
    fallback_model: z.string().max(256).optional(),
    provenance: json.optional(),
    tags: json.optional(),
    consent: z.boolean().default(false),
    created_at: z.iso.datetime({ offset: true }).transform((v) => new Date(v)),
  })
  .strict();

export type EventEnvelope = z.infer<typeof EventEnvelopeSchema>;

export function eventFromEnvelope(
  input: EventEnvelope,
  context: { orgId: string; prices: PriceTable; receivedAt: Date; pseudonymKey: PseudonymKey },
): AiEvent {
  const startMs = input.created_at.getTime();
  const cost = computeCost(
    {
      models: [input.model_name],
      provider: input.provider ?? null,
      at: input.created_at,
      orgId: context.orgId,
      inputTokens: input.input_tokens ?? null,
      outputTokens: input.output_tokens ?? null,
      cachedInputTokens: input.cached_input_tokens ?? null,
      providedUsd: input.cost_usd ?? null,
    },
    context.prices,
  );
  const event: AiEvent = {
    // Without an id, a span identity still makes a resend idempotent.
    id:
      input.id ??
      (input.trace_id && input.span_id
        ? eventId(input.trace_id, input.span_id, startMs)
        : eventId(randomUUID(), input.request_id ?? '', startMs)),
    org_id: context.orgId,
    client_id: input.client_id ?? null,
    user_id: input.user_id ?? null,
    request_id: input.request_id ?? null,
    trace_id: input.trace_id ?? null,
    span_id: input.span_id ?? null,
    parent_span_id: input.parent_span_id ?? null,
    service_name: input.service_name ?? null,
    endpoint: input.endpoint ?? null,
    operation: input.operation ?? null,
    provider: input.provider ?? null,
    model_name: input.model_name,
    model_version: input.model_version ?? null,
    adapter_id: input.adapter_id ?? null,
    input_tokens: input.input_tokens ?? null,
    output_tokens: input.output_tokens ?? null,
    cached_input_tokens: input.cached_input_tokens ?? null,
    reasoning_tokens: input.reasoning_tokens ?? null,
    input_size_bytes: input.input_size_bytes ?? null,
    output_size_bytes: input.output_size_bytes ?? null,
    latency_ms: input.latency_ms,
    compute_ms: input.compute_ms ?? null,
    cost_usd: cost.cost_usd,
    cost_source: cost.cost_source,
    success: input.success,
    error_code: input.success ? null : normaliseErrorCode(input.error_code),
    // Cut to the stored length before any pattern runs.
    error_message: !input.success && input.error_message ? scrubToLength(input.error_message, 1000) : null,
    fallback_used: input.fallback_used,
    fallback_reason: input.fallback_reason ?? null,
    fallback_model: input.fallback_model ?? null,
    provenance: input.provenance ? (scrubJson(input.provenance) as Record<string, unknown>) : null,
    tags: input.tags ? (scrubJson(input.tags) as Record<string, unknown>) : null,
    consent: input.consent,
    created_at: input.created_at,
    received_at: context.receivedAt,
  };
  return protectIdentifiers(event, context.pseudonymKey);
}
