import { randomBytes } from 'node:crypto';
import {
  isSpanContextValid,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  type Tracer,
  trace,
} from '@opentelemetry/api';

// W3C Trace Context: version-traceid-parentid-flags, lower-case hex; version ff is invalid, and a later version may
// append fields after another dash, which a version-00 parser ignores.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** The caller's span from a `traceparent` header, or undefined when there is none or it is malformed. */
export function parseTraceparent(header: string | undefined): SpanContext | undefined {
  const m = header?.trim().match(TRACEPARENT);
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string?,
  ];
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId, spanId, traceFlags: Number.parseInt(flags, 16) & 0xff, isRemote: true };
}

/** `traceresponse` (W3C Trace Context Level 2): the trace and the server's own span that answered. */
export function traceresponse({ traceId, spanId, traceFlags }: SpanContext): string {
  return `00-${traceId}-${spanId}-${(traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

export interface ServerSpan {
  /** The request's trace and its own span id: the SDK's span when one records, else ids made here. */
  context: SpanContext;
  /** The SDK's span (a no-op one when Observatory's own tracing is not configured); ended by the caller. */
  span: Span;
}

/**
 * Starts the server span of a request, a child of the caller's `traceparent` when given. Without an SDK (the
 * default: Observatory exports its own traces only when OTEL_* is configured) the API's no-op span carries no span
 * of its own, so the ids are made here: the caller's trace (or a new one) and a new span id, so logs and the
 * `traceresponse` still name this request.
 */
export function startServerSpan(tracer: Tracer, name: string, traceparent: string | undefined): ServerSpan {
  const parent = parseTraceparent(traceparent);
  const parentContext = parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT;
  const span = tracer.startSpan(name, { kind: SpanKind.SERVER }, parentContext);
  const own = span.spanContext();
  if (isSpanContextValid(own) && own.spanId !== parent?.spanId) return { context: own, span };
  return {
    context: {
      traceId: parent?.traceId ?? randomBytes(16).toString('hex'),
      spanId: randomBytes(8).toString('hex'),
      traceFlags: parent?.traceFlags ?? 0,
    },
    span,
  };
}
