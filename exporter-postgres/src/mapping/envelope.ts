import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { computeCost } from '../cost/cost.ts';
import type { PriceTable } from '../cost/price-table.ts';
import { type AiEvent, AiEventSchema } from '../event.ts';
import { hexIdSchema } from '../hex-id.ts';
import { normaliseErrorCode } from './error-codes.ts';
import { eventId } from './event-id.ts';
import { type PseudonymKey, protectIdentifiers } from './identifiers.ts';
import { scrubJson, scrubToLength } from './scrub.ts';

/** Fields a service sends exactly as the event stores them; optional here, where null and absent mean the same. */
const AS_STORED = {
  client_id: true,
  user_id: true,
  session_id: true,
  request_id: true,
  service_name: true,
  endpoint: true,
  operation: true,
  provider: true,
  model_version: true,
  adapter_id: true,
  input_tokens: true,
  output_tokens: true,
  cached_input_tokens: true,
  reasoning_tokens: true,
  input_size_bytes: true,
  output_size_bytes: true,
  error_code: true,
  fallback_reason: true,
  fallback_model: true,
  provenance: true,
  tags: true,
} as const;

// A day: a longer call is a clock error, not a measurement.
const MAX_DURATION_MS = 86_400_000;
const stored = AiEventSchema.shape;

/**
 * One model call as sent to `POST /api/telemetry/events` by a service that does not use OpenTelemetry. The event's
 * own fields and constraints (derived from `AiEventSchema`, so they cannot drift), minus what the service decides:
 * the org (the key's), the cost source and received_at. Where the envelope differs it says so below.
 */
export const EventEnvelopeSchema = AiEventSchema.pick({
  ...AS_STORED,
  model_name: true,
  success: true,
})
  .partial(AS_STORED)
  .extend({
    id: stored.id.optional(),
    /** Checked against the key's org; the key's org is stamped either way. */
    org_id: stored.org_id.optional(),
    /** Either case, lower-cased as stored. */
    trace_id: hexIdSchema(16).optional(),
    span_id: hexIdSchema(8).optional(),
    parent_span_id: hexIdSchema(8).optional(),
    latency_ms: stored.latency_ms.max(MAX_DURATION_MS),
    compute_ms: stored.compute_ms.unwrap().max(MAX_DURATION_MS).optional(),
    ttft_ms: stored.ttft_ms.unwrap().max(MAX_DURATION_MS).optional(),
    /** A cost the service knows, as a number or the event's decimal string; otherwise computed from the prices. */
    cost_usd: z.union([z.number().min(0), stored.cost_usd.unwrap().transform(Number)]).optional(),
    /** Longer than stored: it is scrubbed first, then cut to the stored length. */
    error_message: z.string().max(100_000).optional(),
    fallback_used: stored.fallback_used.default(false),
    consent: stored.consent.default(false),
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
    session_id: input.session_id ?? null,
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
    ttft_ms: input.ttft_ms ?? null,
    cost_usd: cost.cost_usd,
    cost_source: cost.cost_source,
    success: input.success,
    error_code: input.success ? null : normaliseErrorCode(input.error_code ?? undefined),
    // Cut to the stored length before any pattern runs.
    error_message:
      !input.success && input.error_message
        ? scrubToLength(input.error_message, stored.error_message.unwrap().maxLength ?? 0)
        : null,
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
