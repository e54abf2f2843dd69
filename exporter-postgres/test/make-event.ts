import { randomUUID } from 'node:crypto';
import type { AiSpan } from '../src/ai-span.ts';
import type { AiEvent } from '../src/event.ts';

/** A valid event with sensible defaults; tests override only what they are about. */
export function makeEvent(partial: Partial<AiEvent> = {}): AiEvent {
  return {
    id: randomUUID(),
    org_id: 'acme',
    client_id: null,
    user_id: null,
    session_id: null,
    request_id: null,
    trace_id: null,
    span_id: null,
    parent_span_id: null,
    service_name: 'svc',
    endpoint: 'infer',
    operation: 'chat',
    provider: 'openai',
    model_name: 'gpt-4o',
    model_version: null,
    adapter_id: null,
    input_tokens: 100,
    output_tokens: 20,
    cached_input_tokens: null,
    reasoning_tokens: null,
    input_size_bytes: null,
    output_size_bytes: null,
    latency_ms: 120,
    compute_ms: null,
    ttft_ms: null,
    cost_usd: '0.00045',
    cost_source: 'computed',
    success: true,
    error_code: null,
    error_message: null,
    fallback_used: false,
    fallback_reason: null,
    fallback_model: null,
    provenance: { source: 'test' },
    tags: null,
    consent: false,
    created_at: new Date(),
    received_at: new Date(),
    ...partial,
  };
}

/** A valid `ai_spans` row with sensible defaults. */
export function makeAiSpan(partial: Partial<AiSpan> = {}): AiSpan {
  return {
    id: randomUUID(),
    org_id: 'acme',
    span_kind: 'agent',
    name: 'invoke_agent planner',
    agent_name: 'planner',
    tool_name: null,
    success: true,
    error_code: null,
    latency_ms: 250,
    trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
    span_id: randomUUID().replaceAll('-', '').slice(0, 16),
    parent_span_id: null,
    service_name: 'svc',
    endpoint: '/agent',
    user_id: 'u-1',
    session_id: 'conv-1',
    attributes: { 'gen_ai.operation.name': 'invoke_agent' },
    created_at: new Date(),
    received_at: new Date(),
    ...partial,
  };
}
