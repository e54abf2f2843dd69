import type { HrTime } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';

export type AttributeValue =
  | string
  | number
  | boolean
  | bigint
  | null
  | AttributeValue[]
  | { [key: string]: AttributeValue };
export type Attributes = Record<string, AttributeValue | undefined>;

/** Span status codes as in OTLP: 0 unset, 1 ok, 2 error. */
export type StatusCode = 0 | 1 | 2;

/**
 * A finished span in the one shape the mapping reads, whether it came from the SDK in-process or was
 * decoded from OTLP. Ids are lowercase hex; times are Unix nanoseconds.
 */
export interface SpanInput {
  traceId: string;
  spanId: string;
  parentSpanId?: string | undefined;
  name: string;
  /** OTLP numbering: 1 internal, 2 server, 3 client, 4 producer, 5 consumer (0 unspecified). */
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Attributes;
  status: { code: StatusCode; message?: string | undefined };
  events: { name: string; attributes: Attributes }[];
  resource: Attributes;
  scopeName?: string | undefined;
}

function hrTimeToNanos([seconds, nanos]: HrTime): bigint {
  return BigInt(seconds) * 1_000_000_000n + BigInt(nanos);
}

export function fromReadableSpan(span: ReadableSpan): SpanInput {
  const context = span.spanContext();
  return {
    traceId: context.traceId,
    spanId: context.spanId,
    parentSpanId: span.parentSpanContext?.spanId,
    name: span.name,
    // The API numbers kinds from 0 (internal); OTLP from 1.
    kind: span.kind + 1,
    startTimeUnixNano: hrTimeToNanos(span.startTime),
    endTimeUnixNano: hrTimeToNanos(span.endTime),
    attributes: span.attributes as Attributes,
    status: { code: span.status.code as StatusCode, message: span.status.message },
    events: span.events.map((e) => ({ name: e.name, attributes: (e.attributes ?? {}) as Attributes })),
    resource: span.resource.attributes as Attributes,
    scopeName: span.instrumentationScope.name,
  };
}
