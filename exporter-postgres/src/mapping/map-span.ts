import type { AiSpan } from '../ai-span.ts';
import { ObservatoryAttributes as Obs, StandardAttributes as Std } from '../attributes.ts';
import { BatchContents, type CapturedContent, type CapturePolicyOf } from '../content/batch-contents.ts';
import { computeCost } from '../cost/cost.ts';
import type { PriceTable } from '../cost/price-table.ts';
import type { AiEvent } from '../event.ts';
import { isStoredHexId } from '../hex-id.ts';
import type { Attributes, SpanInput } from '../span.ts';
import { eventId } from './event-id.ts';
import { failureOf } from './failure.ts';
import { type PseudonymKey, protectIdentifiers } from './identifiers.ts';
import { mapAiSpan } from './map-ai-span.ts';
import { first, MAX_ID, nanosToMs, number, orgOf, text } from './read-attributes.ts';
import { scrubJson, scrubToLength } from './scrub.ts';
import { BatchContext, contextOf } from './span-context.ts';

export interface MapOptions {
  /** The org of the ingest key that delivered the span: it wins over whatever the span claims. */
  orgId?: string | undefined;
  /** The org of a span that names none (in-process use without an org). */
  defaultOrgId: string;
  prices: PriceTable;
  receivedAt: Date;
  /** The per-deployment secret that turns a personal `user_id` into a stable pseudonym. */
  pseudonymKey: PseudonymKey;
  /** Orgs that capture content (`capture_content` on): only their calls' content is read. None: no content read. */
  capture?: CapturePolicyOf | undefined;
}

const MAX_ERROR_MESSAGE = 1000;
const MAX_TOKENS = 2_147_483_647;

function count(attrs: Attributes, keys: readonly string[]): number | null {
  const n = number(attrs, keys);
  return n === null || n < 0 ? null : Math.min(Math.round(n), MAX_TOKENS);
}

function flag(attrs: Attributes, key: string): boolean {
  const value = attrs[key];
  return value === true || value === 'true' || value === 1;
}

function jsonObject(attrs: Attributes, key: string): Record<string, unknown> | null {
  const value = attrs[key];
  if (typeof value !== 'string') return null;
  try {
    const parsed: unknown = JSON.parse(value);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (scrubJson(parsed) as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

type Convention = 'genai' | 'openinference' | 'vercel';

/**
 * The operations that are calls to a model, by `gen_ai.operation.name` and OpenLLMetry's older `llm.request.type`.
 * Agent, tool and workflow spans (`invoke_agent`, `create_agent`, `execute_tool`, …) carry the same attribute
 * family but only wrap model calls: counting them would count a call twice and merge its children into it.
 */
const MODEL_OPERATIONS = new Set([
  'chat',
  'text_completion',
  'generate_content',
  'embeddings',
  'completion',
  'embedding',
]);

/**
 * Which convention makes this span a model call, or undefined for any other span. Vercel AI SDK spans count only
 * at the inner provider call (`ai.generateText.doGenerate`): the outer span repeats its model and usage.
 */
function convention(attrs: Attributes): Convention | undefined {
  const vercelOperation = attrs['ai.operationId'];
  if (typeof vercelOperation === 'string') return /\.do[A-Z]/.test(vercelOperation) ? 'vercel' : undefined;
  const openInferenceKind = attrs['openinference.span.kind'];
  if (typeof openInferenceKind === 'string') {
    return ['LLM', 'EMBEDDING'].includes(openInferenceKind.toUpperCase()) ? 'openinference' : undefined;
  }
  // OpenLLMetry's workflow, task, agent and tool spans are never model calls.
  if (first(attrs, ['traceloop.span.kind'])) return undefined;
  const operation = first(attrs, [Std.OPERATION_NAME, 'llm.request.type']);
  if (operation !== undefined) {
    return MODEL_OPERATIONS.has(String(operation).toLowerCase()) ? 'genai' : undefined;
  }
  if (first(attrs, [Std.REQUEST_MODEL, 'gen_ai.system'])) return 'genai';
  return undefined;
}

function operationOf(attrs: Attributes, kind: Convention): string | null {
  if (kind === 'openinference') {
    return String(attrs['openinference.span.kind']).toUpperCase() === 'EMBEDDING' ? 'embeddings' : 'chat';
  }
  if (kind === 'vercel') return /doEmbed/.test(String(attrs['ai.operationId'])) ? 'embeddings' : 'chat';
  return text(attrs, [Std.OPERATION_NAME, 'llm.request.type']);
}

function providerOf(attrs: Attributes, kind: Convention): string | null {
  if (kind === 'vercel') {
    const provider = text(attrs, ['ai.model.provider', 'gen_ai.system']);
    return provider ? provider.split('.')[0]!.toLowerCase() : null;
  }
  return (
    text(attrs, [Std.PROVIDER_NAME, 'gen_ai.system', 'llm.provider', 'llm.system'])?.toLowerCase() ?? null
  );
}

function errorMessage(span: SpanInput): string | null {
  const exception = span.events.find((e) => e.name === 'exception');
  // Cut to the stored length before any pattern runs: an upstream message can be megabytes long.
  const message =
    span.status.message ||
    (exception && text(exception.attributes, ['exception.message'], MAX_ERROR_MESSAGE));
  return message ? scrubToLength(message, MAX_ERROR_MESSAGE) : null;
}

// A day: a longer wait for the first token is a clock or unit error, not a measurement.
const MAX_TTFT_MS = 86_400_000;

/**
 * Where each convention puts the time to first token or chunk, and its factor to milliseconds. OpenInference and
 * OpenLLMetry define no span attribute for it (OpenLLMetry records it only as a metric); OpenInference's Vercel
 * span processor copies the AI SDK's value under `metadata.`.
 */
const TTFT_SOURCES: readonly { key: string; toMs: number }[] = [
  { key: Obs.TTFT_MS, toMs: 1 },
  { key: Std.RESPONSE_TIME_TO_FIRST_CHUNK, toMs: 1000 },
  { key: 'ai.response.msToFirstChunk', toMs: 1 },
  // The AI SDK's older name, still set beside the current one by streamText and alone by streamObject.
  { key: 'ai.stream.msToFirstChunk', toMs: 1 },
  { key: 'metadata.ai.response.msToFirstChunk', toMs: 1 },
];

/** The first plausible time to first token in ms: a negative or day-long one is no measurement at all. */
function ttftOf(attrs: Attributes): number | null {
  for (const { key, toMs } of TTFT_SOURCES) {
    const value = number(attrs, [key]);
    if (value === null) continue;
    const ms = value * toMs;
    if (ms >= 0 && ms <= MAX_TTFT_MS) return ms;
  }
  return null;
}

/**
 * Maps one finished span to the model call it records, or undefined when it records none. Pure: the same span
 * and options give the same event. Prompt and completion content attributes are never read here (see
 * `BatchContents`, used only for orgs that capture).
 */
export function mapSpan(span: SpanInput, options: MapOptions, batch?: BatchContext): AiEvent | undefined {
  const attrs = span.attributes;
  const kind = convention(attrs);
  if (!kind) return undefined;
  const context = contextOf(span, batch);

  const requestModel = text(
    attrs,
    [Std.REQUEST_MODEL, 'llm.model_name', 'embedding.model_name', 'ai.model.id'],
    MAX_ID,
  );
  const responseModel = text(
    attrs,
    [Std.RESPONSE_MODEL, 'llm.response.model_name', 'ai.response.model'],
    MAX_ID,
  );
  const modelName = requestModel ?? responseModel ?? 'unknown';
  const startMs = nanosToMs(span.startTimeUnixNano);
  const createdAt = new Date(Math.floor(startMs));
  const orgId = orgOf(span, options);

  const inputTokens = count(attrs, [
    Std.INPUT_TOKENS,
    'gen_ai.usage.prompt_tokens',
    'llm.token_count.prompt',
    'ai.usage.inputTokens',
    'ai.usage.promptTokens',
    'ai.usage.tokens',
  ]);
  const outputTokens = count(attrs, [
    Std.OUTPUT_TOKENS,
    'gen_ai.usage.completion_tokens',
    'llm.token_count.completion',
    'ai.usage.outputTokens',
    'ai.usage.completionTokens',
  ]);
  const cachedInputTokens = count(attrs, [
    Std.CACHE_READ_INPUT_TOKENS,
    'gen_ai.usage.cache_read_input_tokens',
    'llm.token_count.prompt_details.cache_read',
    'ai.usage.inputTokenDetails.cacheReadTokens',
    'ai.usage.cachedInputTokens',
  ]);
  const reasoningTokens = count(attrs, [
    Std.REASONING_OUTPUT_TOKENS,
    'llm.token_count.completion_details.reasoning',
    'ai.usage.reasoningTokens',
  ]);
  const cost = computeCost(
    {
      // A dated response model (gpt-4o-2024-08-06) is the most precise name to price; the requested name
      // still prices the call when the response names a model no price source knows.
      models: responseModel && responseModel !== modelName ? [responseModel, modelName] : [modelName],
      provider: providerOf(attrs, kind),
      at: createdAt,
      orgId,
      inputTokens,
      outputTokens,
      cachedInputTokens,
      providedUsd: number(attrs, [Obs.COST_USD, 'gen_ai.usage.cost', 'llm.cost.total']),
    },
    options.prices,
  );

  const { failed, error_code } = failureOf(span);

  const event: AiEvent = {
    id: eventId(span.traceId, span.spanId, startMs),
    org_id: orgId,
    client_id: text(attrs, [Obs.CLIENT_ID], MAX_ID),
    user_id: context.user_id,
    session_id: context.session_id,
    request_id: text(attrs, [Obs.REQUEST_ID], MAX_ID),
    trace_id: isStoredHexId(span.traceId, 16) ? span.traceId : null,
    span_id: isStoredHexId(span.spanId, 8) ? span.spanId : null,
    parent_span_id: span.parentSpanId && isStoredHexId(span.parentSpanId, 8) ? span.parentSpanId : null,
    service_name: text(span.resource, [Std.SERVICE_NAME]),
    endpoint: context.endpoint,
    operation: operationOf(attrs, kind),
    provider: providerOf(attrs, kind),
    model_name: modelName,
    model_version:
      text(attrs, [Obs.MODEL_VERSION]) ??
      (responseModel && responseModel !== modelName ? responseModel : null),
    adapter_id: text(attrs, [Obs.ADAPTER_ID]),
    input_tokens: inputTokens,
    output_tokens: outputTokens,
    cached_input_tokens: cachedInputTokens,
    reasoning_tokens: reasoningTokens,
    input_size_bytes: count(attrs, [Obs.INPUT_SIZE_BYTES]),
    output_size_bytes: count(attrs, [Obs.OUTPUT_SIZE_BYTES]),
    latency_ms: Math.max(0, nanosToMs(span.endTimeUnixNano - span.startTimeUnixNano)),
    compute_ms: number(attrs, [Obs.COMPUTE_MS]),
    ttft_ms: ttftOf(attrs),
    cost_usd: cost.cost_usd,
    cost_source: cost.cost_source,
    success: !failed,
    error_code,
    error_message: failed ? errorMessage(span) : null,
    fallback_used: flag(attrs, Obs.FALLBACK_USED),
    fallback_reason: text(attrs, [Obs.FALLBACK_REASON]),
    fallback_model: text(attrs, [Obs.FALLBACK_MODEL], MAX_ID),
    provenance: jsonObject(attrs, Obs.PROVENANCE_JSON),
    tags: jsonObject(attrs, Obs.TAGS_JSON),
    consent: flag(attrs, Obs.CONSENT),
    created_at: createdAt,
    received_at: options.receivedAt,
  };
  return protectIdentifiers(event, options.pseudonymKey);
}

const USAGE_FIELDS = ['input_tokens', 'output_tokens', 'cached_input_tokens', 'reasoning_tokens'] as const;

/**
 * Maps a batch. A model-call span nested in another model-call span of the same batch (a wrapper around an
 * instrumented client) is one call, not two: the outer event is kept and takes the usage it lacks from the inner.
 */
export function mapSpans(spans: readonly SpanInput[], options: MapOptions): AiEvent[] {
  return mapBatch(spans, options).events;
}

/**
 * Maps one export request: its model calls (folded as in `mapSpans`) and the agent, tool, retriever, chain, … spans
 * around them. Each takes the endpoint, user and session it lacks from its nearest ancestor in the batch.
 */
export function mapBatch(spans: readonly SpanInput[], options: MapOptions): MappedBatch {
  const batch = new BatchContext();
  for (const span of spans) batch.add(span);
  const events = new Map<string, AiEvent>();
  const others: AiSpan[] = [];
  const contents = options.capture && new BatchContents(options.capture);
  for (const span of spans) mapInto(span, options, batch, events, others, contents);
  const kept = [...events.values()].filter((event) => !foldIntoOuterCall(event, events, contents));
  return { events: kept, spans: others, contents: contents ? contents.take(kept) : [] };
}

export interface MappedBatch {
  events: AiEvent[];
  spans: AiSpan[];
  /** Content of the calls of orgs that capture, with consent where required: plaintext, never to be queued as is. */
  contents: CapturedContent[];
}

/** One span of a batch into `events` (by span id, for folding) or `spans`. */
export function mapInto(
  span: SpanInput,
  options: MapOptions,
  batch: BatchContext,
  events: Map<string, AiEvent>,
  spans: AiSpan[],
  contents?: BatchContents,
): void {
  const event = mapSpan(span, options, batch);
  if (event) {
    events.set(span.spanId, event);
    contents?.add(event, span);
    return;
  }
  const other = mapAiSpan(span, options, batch);
  if (other) spans.push(other);
}

/**
 * One step of `mapSpans`' folding, apart so a large batch can be mapped in slices and still folded whole: when
 * `event` is nested in another model call of `batch` (events by span id), its usage goes to the outermost one and
 * the answer is true (it is no event of its own).
 */
export function foldIntoOuterCall(
  event: AiEvent,
  batch: ReadonlyMap<string, AiEvent>,
  contents?: BatchContents,
): boolean {
  let outer: AiEvent | undefined;
  // Bounded: a malformed batch may contain a parent cycle.
  let depth = 0;
  for (
    let parent = event.parent_span_id;
    parent && depth++ < 32;
    parent = batch.get(parent)?.parent_span_id ?? null
  ) {
    const candidate = batch.get(parent);
    if (!candidate || candidate.trace_id !== event.trace_id) break;
    outer = candidate;
  }
  if (!outer) return false;
  for (const field of USAGE_FIELDS) outer[field] ??= event[field];
  // The wrapper's caller waited from the wrapper's start: shift the inner call's first token onto that clock.
  if (outer.ttft_ms === null && event.ttft_ms !== null) {
    outer.ttft_ms = Math.max(0, event.ttft_ms + event.created_at.getTime() - outer.created_at.getTime());
  }
  if (outer.cost_source === 'unpriced' && event.cost_source !== 'unpriced') {
    outer.cost_usd = event.cost_usd;
    outer.cost_source = event.cost_source;
  }
  contents?.fold(event, outer);
  return true;
}
