import type { AiSpan, SpanKind } from '../ai-span.ts';
import { StandardAttributes as Std } from '../attributes.ts';
import { isStoredHexId } from '../hex-id.ts';
import type { Attributes, SpanInput } from '../span.ts';
import { eventId } from './event-id.ts';
import { failureOf } from './failure.ts';
import { type PseudonymKey, protectSpanIdentifiers } from './identifiers.ts';
import { first, MAX_ID, nanosToMs, orgOf, text } from './read-attributes.ts';
import { cutText, scrubToLength } from './scrub.ts';
import { type BatchContext, contextOf } from './span-context.ts';

const OPENINFERENCE_KINDS: Record<string, SpanKind> = {
  AGENT: 'agent',
  TOOL: 'tool',
  CHAIN: 'chain',
  RETRIEVER: 'retriever',
  RERANKER: 'retriever',
  GUARDRAIL: 'guardrail',
  EVALUATOR: 'evaluator',
};

const TRACELOOP_KINDS: Record<string, SpanKind> = {
  workflow: 'workflow',
  task: 'chain',
  agent: 'agent',
  tool: 'tool',
};

const GENAI_OPERATIONS: Record<string, SpanKind> = {
  invoke_agent: 'agent',
  create_agent: 'agent',
  execute_tool: 'tool',
  invoke_workflow: 'workflow',
};

/**
 * What a span that gives AI work its shape does, or undefined for a model call (an `ai_events` row) and for every
 * span of no AI convention (HTTP, database). The conventions are tried in the order model calls are recognised.
 */
export function spanKindOf(attrs: Attributes): SpanKind | undefined {
  const vercel = attrs['ai.operationId'];
  if (typeof vercel === 'string') {
    // The inner `do*` span is the provider call; every other AI SDK span wraps calls (and `ai.toolCall` is a tool).
    if (/\.do[A-Z]/.test(vercel)) return undefined;
    return vercel === 'ai.toolCall' ? 'tool' : 'chain';
  }
  const openInference = attrs['openinference.span.kind'];
  if (typeof openInference === 'string') return OPENINFERENCE_KINDS[openInference.toUpperCase()];
  const traceloop = attrs['traceloop.span.kind'];
  if (typeof traceloop === 'string') return TRACELOOP_KINDS[traceloop.toLowerCase()];
  const operation = first(attrs, [Std.OPERATION_NAME]);
  if (operation !== undefined) return GENAI_OPERATIONS[String(operation).toLowerCase()];
  return first(attrs, ['gen_ai.tool.name']) !== undefined ? 'tool' : undefined;
}

/**
 * The attributes a span row keeps: identifiers and descriptions developers set, never content (tool arguments and
 * results, retrieved documents, prompts: `gen_ai.tool.call.arguments`, `retrieval.documents.*`, `input.value`, …).
 * A fixed list, so a row's attributes stay small whatever a span carries.
 */
export const KEPT_ATTRIBUTES = [
  Std.OPERATION_NAME,
  'gen_ai.agent.id',
  'gen_ai.agent.description',
  'gen_ai.tool.type',
  'gen_ai.tool.call.id',
  'gen_ai.tool.description',
  'gen_ai.data_source.id',
  Std.REQUEST_MODEL,
  Std.PROVIDER_NAME,
  'openinference.span.kind',
  'traceloop.span.kind',
  'traceloop.entity.name',
  'ai.operationId',
  'ai.model.id',
  'ai.model.provider',
  'ai.toolCall.id',
  'ai.telemetry.functionId',
  'ai.response.finishReason',
  Std.ERROR_TYPE,
] as const;

const MAX_ATTRIBUTE_TEXT = 256;

function keptAttributes(attrs: Attributes): AiSpan['attributes'] {
  const kept: NonNullable<AiSpan['attributes']> = {};
  let any = false;
  for (const key of KEPT_ATTRIBUTES) {
    const value = attrs[key];
    if (typeof value === 'string' && value !== '') kept[key] = scrubToLength(value, MAX_ATTRIBUTE_TEXT);
    else if (typeof value === 'number' && Number.isFinite(value)) kept[key] = value;
    else if (typeof value === 'boolean') kept[key] = value;
    else continue;
    any = true;
  }
  return any ? kept : null;
}

export interface SpanMapOptions {
  orgId?: string | undefined;
  defaultOrgId: string;
  receivedAt: Date;
  pseudonymKey: PseudonymKey;
}

/**
 * Maps an agent, tool, retriever, chain, guardrail, evaluator or workflow span to its `ai_spans` row, or undefined
 * for any other span. Pure; its usage (an agent or the AI SDK's outer span repeating its children's) is never read,
 * so no figure counts a model call twice.
 */
export function mapAiSpan(
  span: SpanInput,
  options: SpanMapOptions,
  batch?: BatchContext,
): AiSpan | undefined {
  const attrs = span.attributes;
  const kind = spanKindOf(attrs);
  if (!kind) return undefined;
  const context = contextOf(span, batch);
  const traceloopKind = String(attrs['traceloop.span.kind'] ?? '').toLowerCase();
  const startMs = nanosToMs(span.startTimeUnixNano);
  const { failed, error_code } = failureOf(span);
  return protectSpanIdentifiers(
    {
      id: eventId(span.traceId, span.spanId, startMs),
      org_id: orgOf(span, options),
      span_kind: kind,
      name: cutText(span.name, MAX_ID) || kind,
      agent_name: text(
        attrs,
        ['gen_ai.agent.name', 'agent.name', ...(traceloopKind === 'agent' ? ['traceloop.entity.name'] : [])],
        MAX_ID,
      ),
      tool_name: text(
        attrs,
        [
          'gen_ai.tool.name',
          'tool.name',
          'ai.toolCall.name',
          ...(traceloopKind === 'tool' ? ['traceloop.entity.name'] : []),
        ],
        MAX_ID,
      ),
      success: !failed,
      error_code,
      latency_ms: Math.max(0, nanosToMs(span.endTimeUnixNano - span.startTimeUnixNano)),
      trace_id: isStoredHexId(span.traceId, 16) ? span.traceId : null,
      span_id: isStoredHexId(span.spanId, 8) ? span.spanId : null,
      parent_span_id: span.parentSpanId && isStoredHexId(span.parentSpanId, 8) ? span.parentSpanId : null,
      service_name: text(span.resource, [Std.SERVICE_NAME]),
      endpoint: context.endpoint,
      user_id: context.user_id,
      session_id: context.session_id,
      attributes: keptAttributes(attrs),
      created_at: new Date(Math.floor(startMs)),
      received_at: options.receivedAt,
    },
    options.pseudonymKey,
  );
}
