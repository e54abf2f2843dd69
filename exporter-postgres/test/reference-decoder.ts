/**
 * The receiver's former decoder (protobufjs into generic objects, then spans with every attribute), kept only as the
 * reference `decode-spans.test.ts` compares the one-pass decoder with.
 */
import protobuf from 'protobufjs';
import { type DecodedSpans, OtlpDecodeError, rejectSpan, TooManySpansError } from '../src/otlp/decoded.ts';
import { ExportTraceServiceRequest } from '../src/otlp/trace-proto.ts';
import type { Attributes, AttributeValue, SpanInput, StatusCode } from '../src/span.ts';

// protobufjs hands back int64/fixed64 as Long-like {low, high} objects (or numbers), bytes as Uint8Array, and names
// the set member of a oneof in the oneof's own property (`value`). Reading those directly avoids a generic
// toObject() copy per span, which dominated the receiver's cost.
export interface LongLike {
  low: number;
  high: number;
}
export interface PbAnyValue {
  value?: string;
  stringValue?: string;
  boolValue?: boolean;
  intValue?: LongLike | number;
  doubleValue?: number;
  arrayValue?: { values?: PbAnyValue[] };
  kvlistValue?: { values?: PbKeyValue[] };
  bytesValue?: Uint8Array;
}
export interface PbKeyValue {
  key?: string;
  value?: PbAnyValue;
}
interface PbSpan {
  traceId?: Uint8Array;
  spanId?: Uint8Array;
  parentSpanId?: Uint8Array;
  name?: string;
  kind?: number;
  startTimeUnixNano?: LongLike | number;
  endTimeUnixNano?: LongLike | number;
  attributes?: PbKeyValue[];
  events?: { name?: string; attributes?: PbKeyValue[] }[];
  status?: { code?: number; message?: string };
}
interface PbRequest {
  resourceSpans?: {
    resource?: { attributes?: PbKeyValue[] };
    scopeSpans?: { scope?: { name?: string }; spans?: PbSpan[] }[];
  }[];
}

const MAX_DEPTH = 8;

export function u64(v: LongLike | number | undefined): bigint {
  if (v === undefined) return 0n;
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  return (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
}

function i64(v: LongLike | number): number | string {
  if (typeof v === 'number') return v;
  const n = BigInt.asIntN(64, (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0));
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(n)
    : n.toString();
}

export function anyValue(v: PbAnyValue | undefined, depth: number): AttributeValue {
  if (!v || depth > MAX_DEPTH) return null;
  switch (v.value) {
    case 'stringValue':
      return v.stringValue ?? '';
    case 'boolValue':
      return v.boolValue ?? false;
    case 'intValue':
      return i64(v.intValue ?? 0);
    case 'doubleValue':
      return v.doubleValue ?? 0;
    case 'arrayValue':
      return (v.arrayValue?.values ?? []).map((x) => anyValue(x, depth + 1));
    case 'kvlistValue':
      return keyValues(v.kvlistValue?.values, depth + 1) as { [key: string]: AttributeValue };
    case 'bytesValue':
      return Buffer.from(v.bytesValue ?? []).toString('base64');
    default:
      return null;
  }
}

export function keyValues(list: PbKeyValue[] | undefined, depth = 0): Attributes {
  const out: Attributes = {};
  for (const kv of list ?? []) if (kv.key) out[kv.key] = anyValue(kv.value, depth);
  return out;
}

export const hex = (bytes: Uint8Array) =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

function toSpan(span: PbSpan, resource: Attributes, scopeName: string | undefined): SpanInput | string {
  if (span.traceId?.length !== 16) return 'traceId: must be 16 bytes';
  if (span.spanId?.length !== 8) return 'spanId: must be 8 bytes';
  const parent = span.parentSpanId;
  if (parent && parent.length !== 0 && parent.length !== 8) return 'parentSpanId: must be 8 bytes or empty';
  const start = u64(span.startTimeUnixNano);
  const end = u64(span.endTimeUnixNano);
  if (start === 0n) return 'startTimeUnixNano: missing';
  if (end < start) return 'endTimeUnixNano is before startTimeUnixNano';
  const kind = span.kind ?? 0;
  if (kind < 0 || kind > 5) return 'kind: out of range';
  const code = span.status?.code ?? 0;
  if (code < 0 || code > 2) return 'status.code: out of range';
  if ((span.name ?? '').length > 1024) return 'name: longer than 1024 characters';
  return {
    traceId: hex(span.traceId),
    spanId: hex(span.spanId),
    parentSpanId: parent && parent.length === 8 ? hex(parent) : undefined,
    name: span.name ?? '',
    kind,
    startTimeUnixNano: start,
    endTimeUnixNano: end,
    attributes: keyValues(span.attributes),
    status: { code: code as StatusCode, message: span.status?.message || undefined },
    events: (span.events ?? []).map((e) => ({ name: e.name ?? '', attributes: keyValues(e.attributes) })),
    resource,
    scopeName,
  };
}

const LENGTH_DELIMITED = 2;
// Field numbers of request.resourceSpans, ResourceSpans.scopeSpans and ScopeSpans.spans.
const SPANS_PATH = [1, 2, 2];

/** Occurrences of the length-delimited field at `path` under the reader's position, skipping everything else. */
export function countAt(reader: protobuf.Reader, end: number, path: readonly number[]): number {
  let count = 0;
  while (reader.pos < end) {
    const tag = reader.uint32();
    if (tag >>> 3 !== path[0] || (tag & 7) !== LENGTH_DELIMITED) reader.skipType(tag & 7);
    else if (path.length === 1) {
      reader.skipType(LENGTH_DELIMITED);
      count++;
    } else {
      const length = reader.uint32();
      count += countAt(reader, reader.pos + length, path.slice(1));
    }
  }
  return count;
}

/**
 * Decodes an OTLP/protobuf trace request. With more than `maxSpans` spans it throws TooManySpansError after
 * only counting them, which costs a fraction of decoding them.
 */
export function referenceDecode(body: Uint8Array, maxSpans = Number.POSITIVE_INFINITY): DecodedSpans {
  let request: PbRequest;
  try {
    if (Number.isFinite(maxSpans)) {
      const count = countAt(protobuf.Reader.create(body), body.byteLength, SPANS_PATH);
      if (count > maxSpans) throw new TooManySpansError(count, maxSpans);
    }
    request = ExportTraceServiceRequest.decode(body) as unknown as PbRequest;
  } catch (err) {
    if (err instanceof TooManySpansError) throw err;
    throw new OtlpDecodeError(`Body is not a protobuf ExportTraceServiceRequest: ${(err as Error).message}`);
  }
  const result: DecodedSpans = { spans: [], rejected: 0, errors: [] };
  for (const rs of request.resourceSpans ?? []) {
    const resource = keyValues(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const span of ss.spans ?? []) {
        const decoded = toSpan(span, resource, ss.scope?.name || undefined);
        if (typeof decoded === 'string') rejectSpan(result, decoded);
        else result.spans.push(decoded);
      }
    }
  }
  return result;
}
