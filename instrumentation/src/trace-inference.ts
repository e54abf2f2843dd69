import { type FallbackReason, ObservatoryAttributes, StandardAttributes } from '@observatory/semconv';
import {
  type Attributes,
  type AttributeValue,
  context,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { errorSummary, errorType } from './error-info.ts';
import { getRequestContext } from './request-context.ts';

const TRACER_NAME = '@observatory/instrumentation';
let tracer: Tracer = trace.getTracer(TRACER_NAME);

/**
 * Takes the tracer from the provider registered now. The API's proxy tracer would otherwise keep the first
 * provider it saw for good, and going through the proxy costs a little on every call.
 */
export function refreshTracer(): void {
  tracer = trace.getTracer(TRACER_NAME);
}

/** The tracer every wrapper of this package starts its spans with. */
export function observatoryTracer(): Tracer {
  return tracer;
}

/** What one model call is: set when it starts. Ids not given come from the current request context. */
export interface InferenceOptions {
  /** `gen_ai.operation.name`: `chat`, `text_completion`, `embeddings`, `generate_content`, … */
  operation: string;
  /** The requested model. */
  model: string;
  /** `gen_ai.provider.name`: `openai`, `anthropic`, `aws.bedrock`, … */
  provider?: string;
  /** The product feature or route the call serves, e.g. `/analyze`. */
  endpoint?: string;
  orgId?: string;
  userId?: string;
  /** The conversation or thread the call belongs to (`gen_ai.conversation.id`). */
  sessionId?: string;
  requestId?: string;
  clientId?: string;
  modelVersion?: string;
  adapterId?: string;
  /** The user consented to content capture for this call. */
  consent?: boolean;
  /** Where the input came from (dataset, document ids, …); stored as JSON, scrubbed by the pipeline. */
  provenance?: Record<string, unknown>;
  /** Free-form labels for filtering; stored as JSON. */
  tags?: Record<string, unknown>;
}

export interface Decision {
  rationale?: string;
  /** 0–1; other values are ignored. */
  confidence?: number;
}

export interface Usage {
  inputTokens?: number;
  outputTokens?: number;
  /** Already included in `inputTokens`. */
  cachedInputTokens?: number;
  /** Already included in `outputTokens`. */
  reasoningTokens?: number;
}

/** What the traced code can record about its model call while it runs. */
export interface InferenceCall {
  /** The span itself, for anything this interface does not cover. */
  readonly span: Span;
  recordUsage(usage: Usage): void;
  /** The model that actually answered, when the provider reports a resolved version. */
  setResponseModel(model: string): void;
  setResponseId(id: string): void;
  /** A cost in USD the caller knows better than the price table (it wins over the computed one). */
  setCost(usd: number): void;
  setInputSize(bytes: number): void;
  setOutputSize(bytes: number): void;
  /** Time the model itself computed, where the provider reports it. */
  setComputeMs(ms: number): void;
  /**
   * The first token or chunk of a streamed response arrived now. The first call counts; later ones (every further
   * chunk) are ignored, so it can be called on each chunk.
   */
  recordFirstToken(): void;
  setProvenance(provenance: Record<string, unknown>): void;
  setTags(tags: Record<string, unknown>): void;
  /**
   * Why the caller acted on the answer as it did, and how sure it was (0–1). Content: Observatory keeps it only for
   * an org that captures content (and, by default, only with `consent`), encrypted.
   */
  recordDecision(decision: Decision): void;
  /**
   * The primary model did not answer; `model` did instead. Usage, cost, response id and first token recorded so far
   * are dropped.
   */
  recordFallback(reason: FallbackReason, model: string): void;
  /** A normalised error code known better than the error's own type. */
  setErrorCode(code: string): void;
  /** Marks the call failed without throwing (e.g. the provider answered with an error payload). */
  recordError(error: unknown): void;
}

function isCount(n: number): boolean {
  return Number.isInteger(n) && n >= 0;
}

function isAmount(n: number): boolean {
  return Number.isFinite(n) && n >= 0;
}

/** JSON for an object attribute; telemetry must not throw on a cyclic or BigInt-holding object. */
function toJson(value: Record<string, unknown>): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}

const NO_ERROR = Symbol('no error');

const PRIMARY_ONLY = [
  StandardAttributes.INPUT_TOKENS,
  StandardAttributes.OUTPUT_TOKENS,
  StandardAttributes.CACHE_READ_INPUT_TOKENS,
  StandardAttributes.REASONING_OUTPUT_TOKENS,
  StandardAttributes.RESPONSE_ID,
  ObservatoryAttributes.COST_USD,
  ObservatoryAttributes.OUTPUT_SIZE_BYTES,
  ObservatoryAttributes.COMPUTE_MS,
];

/** Collects what the call records and sets it on the span in one `setAttributes` when the call ends. */
class Recorder implements InferenceCall {
  private readonly recorded: Attributes = {};
  private error: unknown = NO_ERROR;
  // Monotonic, unlike Date.now(): a clock step during the call cannot make the wait negative.
  private readonly startedAt = performance.now();
  private firstTokenAt: number | undefined;

  constructor(readonly span: Span) {}

  private set(key: string, value: AttributeValue | undefined): void {
    if (value !== undefined) this.recorded[key] = value;
  }

  recordUsage(usage: Usage): void {
    const { inputTokens, outputTokens, cachedInputTokens, reasoningTokens } = usage;
    if (inputTokens !== undefined && isCount(inputTokens))
      this.set(StandardAttributes.INPUT_TOKENS, inputTokens);
    if (outputTokens !== undefined && isCount(outputTokens))
      this.set(StandardAttributes.OUTPUT_TOKENS, outputTokens);
    if (cachedInputTokens !== undefined && isCount(cachedInputTokens))
      this.set(StandardAttributes.CACHE_READ_INPUT_TOKENS, cachedInputTokens);
    if (reasoningTokens !== undefined && isCount(reasoningTokens))
      this.set(StandardAttributes.REASONING_OUTPUT_TOKENS, reasoningTokens);
  }

  setResponseModel(model: string): void {
    this.set(StandardAttributes.RESPONSE_MODEL, model);
  }

  setResponseId(id: string): void {
    this.set(StandardAttributes.RESPONSE_ID, id);
  }

  setCost(usd: number): void {
    if (isAmount(usd)) this.set(ObservatoryAttributes.COST_USD, usd);
  }

  setInputSize(bytes: number): void {
    if (isCount(bytes)) this.set(ObservatoryAttributes.INPUT_SIZE_BYTES, bytes);
  }

  setOutputSize(bytes: number): void {
    if (isCount(bytes)) this.set(ObservatoryAttributes.OUTPUT_SIZE_BYTES, bytes);
  }

  setComputeMs(ms: number): void {
    if (isAmount(ms)) this.set(ObservatoryAttributes.COMPUTE_MS, ms);
  }

  recordFirstToken(): void {
    this.firstTokenAt ??= performance.now();
  }

  setProvenance(provenance: Record<string, unknown>): void {
    this.set(ObservatoryAttributes.PROVENANCE_JSON, toJson(provenance));
  }

  setTags(tags: Record<string, unknown>): void {
    this.set(ObservatoryAttributes.TAGS_JSON, toJson(tags));
  }

  recordDecision({ rationale, confidence }: Decision): void {
    if (rationale !== undefined) this.set(ObservatoryAttributes.DECISION_RATIONALE, rationale);
    if (confidence !== undefined && confidence >= 0 && confidence <= 1) {
      this.set(ObservatoryAttributes.DECISION_CONFIDENCE, confidence);
    }
  }

  recordFallback(reason: FallbackReason, model: string): void {
    // The event describes the model that answered: drop what a failed primary recorded before it threw.
    for (const key of PRIMARY_ONLY) delete this.recorded[key];
    // The wait that counts is for the answering model's first token, still measured from the call's start.
    this.firstTokenAt = undefined;
    this.set(ObservatoryAttributes.FALLBACK_USED, true);
    this.set(ObservatoryAttributes.FALLBACK_REASON, reason);
    this.set(ObservatoryAttributes.FALLBACK_MODEL, model);
    // The fallback answered; the fallback code may still name a resolved version after this.
    this.set(StandardAttributes.RESPONSE_MODEL, model);
  }

  setErrorCode(code: string): void {
    this.set(ObservatoryAttributes.ERROR_CODE, code);
  }

  recordError(error: unknown): void {
    this.error = error;
  }

  finish(): void {
    const span = this.span;
    if (this.error !== NO_ERROR) {
      this.set(StandardAttributes.ERROR_TYPE, errorType(this.error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: errorSummary(this.error) });
    }
    if (this.firstTokenAt !== undefined) {
      const ms = this.firstTokenAt - this.startedAt;
      this.set(ObservatoryAttributes.TTFT_MS, ms);
      this.set(StandardAttributes.RESPONSE_TIME_TO_FIRST_CHUNK, ms / 1000);
    }
    span.setAttributes(this.recorded);
    span.end();
  }
}

function startAttributes(options: InferenceOptions): Attributes {
  const request = getRequestContext();
  const attributes: Attributes = {
    [StandardAttributes.OPERATION_NAME]: options.operation,
    [StandardAttributes.REQUEST_MODEL]: options.model,
  };
  const orgId = options.orgId ?? request?.orgId;
  const userId = options.userId ?? request?.userId;
  const sessionId = options.sessionId ?? request?.sessionId;
  const requestId = options.requestId ?? request?.requestId;
  const clientId = options.clientId ?? request?.clientId;
  if (options.provider !== undefined) attributes[StandardAttributes.PROVIDER_NAME] = options.provider;
  if (orgId !== undefined) attributes[ObservatoryAttributes.ORG_ID] = orgId;
  if (userId !== undefined) attributes[StandardAttributes.USER_ID] = userId;
  if (sessionId !== undefined) attributes[StandardAttributes.CONVERSATION_ID] = sessionId;
  if (requestId !== undefined) attributes[ObservatoryAttributes.REQUEST_ID] = requestId;
  if (clientId !== undefined) attributes[ObservatoryAttributes.CLIENT_ID] = clientId;
  if (options.endpoint !== undefined) attributes[ObservatoryAttributes.ENDPOINT] = options.endpoint;
  if (options.modelVersion !== undefined)
    attributes[ObservatoryAttributes.MODEL_VERSION] = options.modelVersion;
  if (options.adapterId !== undefined) attributes[ObservatoryAttributes.ADAPTER_ID] = options.adapterId;
  if (options.consent !== undefined) attributes[ObservatoryAttributes.CONSENT] = options.consent;
  if (options.provenance !== undefined) {
    const json = toJson(options.provenance);
    if (json !== undefined) attributes[ObservatoryAttributes.PROVENANCE_JSON] = json;
  }
  if (options.tags !== undefined) {
    const json = toJson(options.tags);
    if (json !== undefined) attributes[ObservatoryAttributes.TAGS_JSON] = json;
  }
  return attributes;
}

/**
 * Traces one model call as a GenAI client span (`{operation} {model}`), active while `fn` runs so the
 * provider's own HTTP spans nest under it. Resolves to exactly what `fn` returns and rethrows exactly
 * what it throws; usage recorded before a throw is kept.
 */
export async function traceInference<T>(
  options: InferenceOptions,
  fn: (call: InferenceCall) => T | PromiseLike<T>,
): Promise<T> {
  const span = tracer.startSpan(`${options.operation} ${options.model}`, {
    kind: SpanKind.CLIENT,
    attributes: startAttributes(options),
  });
  const call = new Recorder(span);
  try {
    return await context.with(trace.setSpan(context.active(), span), fn, undefined, call);
  } catch (err) {
    call.recordError(err);
    throw err;
  } finally {
    call.finish();
  }
}
