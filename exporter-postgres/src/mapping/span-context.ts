import { ObservatoryAttributes as Obs, StandardAttributes as Std } from '../attributes.ts';
import type { SpanInput } from '../span.ts';
import { MAX_ID, MAX_TEXT, text } from './read-attributes.ts';

/** What a model call or agent span takes from its ancestors when it does not say itself. */
export interface SpanContext {
  endpoint: string | null;
  user_id: string | null;
  session_id: string | null;
}

export const USER_ID_KEYS = [
  Std.USER_ID,
  'enduser.id',
  'traceloop.association.properties.user_id',
  'ai.telemetry.metadata.userId',
] as const;

/** OTel GenAI's conversation, OpenInference's session, OpenLLMetry's and the AI SDK's user-set metadata. */
export const SESSION_ID_KEYS = [
  'gen_ai.conversation.id',
  'session.id',
  'traceloop.association.properties.session_id',
  'ai.telemetry.metadata.sessionId',
] as const;

/**
 * A stored row (model call or span) that lacks an endpoint, user or session and whose ancestry leaves its export
 * request at `ancestorSpanId`, a span of the same trace that an earlier request may have stored.
 */
export interface ContextGap {
  row: SpanContext & { org_id: string; trace_id: string | null; created_at: Date };
  ancestorSpanId: string;
}

/** True when the row misses any field an ancestor could give it. */
export const lacksContext = (row: SpanContext): boolean =>
  row.endpoint === null || row.user_id === null || row.session_id === null;

const SERVER = 2;

/**
 * The context a span states itself. A server span's `http.route` (else `url.path`) is the endpoint it serves; a
 * client span's path is the provider's, never the caller's endpoint, so only `observatory.endpoint` counts there.
 */
export function ownContext(span: SpanInput): SpanContext {
  const attrs = span.attributes;
  return {
    endpoint: text(
      attrs,
      span.kind === SERVER ? [Obs.ENDPOINT, 'http.route', 'url.path'] : [Obs.ENDPOINT],
      MAX_TEXT,
    ),
    user_id: text(attrs, USER_ID_KEYS, MAX_ID),
    session_id: text(attrs, SESSION_ID_KEYS, MAX_ID),
  };
}

const NONE: SpanContext = { endpoint: null, user_id: null, session_id: null };

// A malformed batch may hold a parent cycle, and a real tree is never this deep.
const MAX_DEPTH = 32;

/**
 * The spans of one export request by id, so a span can take the context it lacks from its nearest ancestor that
 * has it. Only ancestors of the same trace count: two traces never mix. What each span resolves to is remembered,
 * so a batch of siblings walks their shared ancestors once.
 */
export class BatchContext {
  private readonly spans = new Map<string, SpanInput>();
  private readonly resolved = new Map<string, SpanContext>();

  add(span: SpanInput): void {
    this.spans.set(span.spanId, span);
  }

  /** The nearest ancestor's value of each field, null where no ancestor in the batch has one. */
  inherited(span: SpanInput): SpanContext {
    return this.resolve(this.parentOf(span), 0);
  }

  /**
   * Where `span`'s ancestry leaves the batch: the id of its nearest ancestor of the same trace that is not in the
   * batch, or null when the chain ends at a root inside it. A stored row of that span (an earlier request's) can
   * complete what the batch could not.
   */
  outsideAncestor(spanId: string, traceId: string): string | null {
    let span = this.spans.get(spanId);
    if (!span || span.traceId !== traceId) return null;
    for (let depth = 0; depth < MAX_DEPTH; depth++) {
      if (!span.parentSpanId) return null;
      const parent = this.parentOf(span);
      if (!parent) return span.parentSpanId;
      span = parent;
    }
    return null;
  }

  private parentOf(span: SpanInput): SpanInput | undefined {
    const parent = span.parentSpanId ? this.spans.get(span.parentSpanId) : undefined;
    return parent && parent.traceId === span.traceId ? parent : undefined;
  }

  /** `span`'s own context, completed by its ancestors'. */
  private resolve(span: SpanInput | undefined, depth: number): SpanContext {
    if (!span || depth >= MAX_DEPTH) return NONE;
    const known = this.resolved.get(span.spanId);
    if (known) return known;
    const own = ownContext(span);
    const context =
      own.endpoint !== null && own.user_id !== null && own.session_id !== null
        ? own
        : completeWith(own, this.resolve(this.parentOf(span), depth + 1));
    this.resolved.set(span.spanId, context);
    return context;
  }
}

/** `context` with each missing field taken from `from`. */
export function completeWith(context: SpanContext, from: SpanContext): SpanContext {
  return {
    endpoint: context.endpoint ?? from.endpoint,
    user_id: context.user_id ?? from.user_id,
    session_id: context.session_id ?? from.session_id,
  };
}

/** The span's own endpoint, user and session, each completed from its nearest ancestor in the batch that has it. */
export function contextOf(span: SpanInput, batch: BatchContext | undefined): SpanContext {
  const own = ownContext(span);
  if (!batch || (own.endpoint !== null && own.user_id !== null && own.session_id !== null)) return own;
  return completeWith(own, batch.inherited(span));
}
