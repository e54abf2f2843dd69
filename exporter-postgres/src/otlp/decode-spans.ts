import type { Attributes, SpanInput, StatusCode } from '../span.ts';
import { type DecodedSpans, OtlpDecodeError, rejectSpan, TooManySpansError } from './decoded.ts';
import { FIXED64, LENGTH_DELIMITED, VARINT, WireError, WireReader } from './wire-reader.ts';
import {
  type AttributeKeys,
  type KeyFilter,
  keyFilter,
  keyValue,
  resourceOf,
  scopeNameOf,
} from './wire-values.ts';

export type { AttributeKeys } from './wire-values.ts';

// Event: name 2, attributes 3.
function spanEvent(r: WireReader, end: number, keys: KeyFilter): SpanInput['events'][number] {
  let name = '';
  const attributes: Attributes = {};
  while (r.pos < end) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 2 && (tag & 7) === LENGTH_DELIMITED) name = r.string();
    else if (field === 3 && (tag & 7) === LENGTH_DELIMITED) {
      const kvEnd = r.delimited();
      keyValue(r, kvEnd, keys, attributes, 0);
      r.pos = kvEnd;
    } else r.skip(tag & 7);
  }
  return { name, attributes };
}

/**
 * Span: traceId 1, spanId 2, parentSpanId 4, name 5, kind 6, start 7, end 8, attributes 9, events 11, status 15
 * (message 2, code 3). Everything else (trace state, links, dropped counts, flags) is stepped over. Checked in the
 * order and with the reasons a client sees in partialSuccess.
 */
function span(
  r: WireReader,
  end: number,
  resource: Attributes,
  scope: string | undefined,
  keys: KeyFilter,
): SpanInput | string {
  let traceId: string | number = 0;
  let spanId: string | number = 0;
  let parent: string | number = 0;
  let name = '';
  let kind = 0;
  let start = 0n;
  let finish = 0n;
  let code = 0;
  let message = '';
  const attributes: Attributes = {};
  const events: SpanInput['events'] = [];
  while (r.pos < end) {
    const tag = r.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1:
        if (wire !== LENGTH_DELIMITED) break;
        traceId = r.hexId(16);
        continue;
      case 2:
        if (wire !== LENGTH_DELIMITED) break;
        spanId = r.hexId(8);
        continue;
      case 4:
        if (wire !== LENGTH_DELIMITED) break;
        parent = r.hexId(8);
        continue;
      case 5:
        if (wire !== LENGTH_DELIMITED) break;
        name = r.string();
        continue;
      case 6:
        if (wire !== VARINT) break;
        kind = r.uint32() | 0;
        continue;
      case 7:
        if (wire !== FIXED64) break;
        start = r.fixed64();
        continue;
      case 8:
        if (wire !== FIXED64) break;
        finish = r.fixed64();
        continue;
      case 9: {
        if (wire !== LENGTH_DELIMITED) break;
        const kvEnd = r.delimited();
        keyValue(r, kvEnd, keys, attributes, 0);
        r.pos = kvEnd;
        continue;
      }
      case 11: {
        if (wire !== LENGTH_DELIMITED) break;
        const eventEnd = r.delimited();
        events.push(spanEvent(r, eventEnd, keys));
        r.pos = eventEnd;
        continue;
      }
      case 15: {
        if (wire !== LENGTH_DELIMITED) break;
        const statusEnd = r.delimited();
        // A later Status replaces an earlier one whole.
        code = 0;
        message = '';
        while (r.pos < statusEnd) {
          const t = r.uint32();
          if (t >>> 3 === 2 && (t & 7) === LENGTH_DELIMITED) message = r.string();
          else if (t >>> 3 === 3 && (t & 7) === VARINT) code = r.uint32() | 0;
          else r.skip(t & 7);
        }
        continue;
      }
    }
    r.skip(wire);
  }
  if (typeof traceId !== 'string') return 'traceId: must be 16 bytes';
  if (typeof spanId !== 'string') return 'spanId: must be 8 bytes';
  if (typeof parent === 'number' && parent !== 0) return 'parentSpanId: must be 8 bytes or empty';
  if (start === 0n) return 'startTimeUnixNano: missing';
  if (finish < start) return 'endTimeUnixNano is before startTimeUnixNano';
  if (kind < 0 || kind > 5) return 'kind: out of range';
  if (code < 0 || code > 2) return 'status.code: out of range';
  if (name.length > 1024) return 'name: longer than 1024 characters';
  return {
    traceId,
    spanId,
    parentSpanId: typeof parent === 'string' ? parent : undefined,
    name,
    kind,
    startTimeUnixNano: start,
    endTimeUnixNano: finish,
    attributes,
    status: { code: code as StatusCode, message: message || undefined },
    events,
    resource,
    scopeName: scope,
  };
}

// ResourceSpans: resource 1 (attributes 1), scopeSpans 2; ScopeSpans: scope 1 (name 1), spans 2. A resource or
// scope may follow its spans on the wire, so each is read first.
function resourceSpans(r: WireReader, end: number, keys: KeyFilter, result: DecodedSpans): void {
  const resource = resourceOf(r, end, keys);
  r.each(end, 2, (scopeEnd) => {
    const scope = scopeNameOf(r, scopeEnd);
    r.each(scopeEnd, 2, (spanEnd) => {
      const decoded = span(r, spanEnd, resource, scope, keys);
      if (typeof decoded === 'string') rejectSpan(result, decoded);
      else result.spans.push(decoded);
    });
  });
}

/** Occurrences of the length-delimited field at `path` between the reader's position and `end`. */
export function countAt(r: WireReader, end: number, path: readonly number[], level = 0): number {
  let count = 0;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag >>> 3 !== path[level] || (tag & 7) !== LENGTH_DELIMITED) r.skip(tag & 7);
    else if (level === path.length - 1) {
      r.pos = r.delimited();
      count++;
    } else {
      const fieldEnd = r.delimited();
      count += countAt(r, fieldEnd, path, level + 1);
      r.pos = fieldEnd;
    }
  }
  return count;
}

// Field numbers of request.resourceSpans, ResourceSpans.scopeSpans and ScopeSpans.spans.
const SPANS_PATH = [1, 2, 2];

/**
 * Decodes an OTLP/protobuf trace request in one pass over the wire format, straight into the spans the mapping
 * reads, with only the attributes in `keys` (default: all). With more than `maxSpans` spans it throws
 * TooManySpansError after only counting them.
 */
export function decodeOtlpProtobuf(
  body: Uint8Array,
  maxSpans = Number.POSITIVE_INFINITY,
  keys: AttributeKeys = 'all',
): DecodedSpans {
  const r = WireReader.of(body);
  const result: DecodedSpans = { spans: [], rejected: 0, errors: [] };
  try {
    if (Number.isFinite(maxSpans)) {
      const count = countAt(r, body.byteLength, SPANS_PATH);
      if (count > maxSpans) throw new TooManySpansError(count, maxSpans);
      r.pos = 0;
    }
    const filter = keyFilter(keys);
    r.each(body.byteLength, 1, (end) => resourceSpans(r, end, filter, result));
  } catch (err) {
    if (err instanceof WireError || err instanceof RangeError) {
      throw new OtlpDecodeError(`Body is not a protobuf ExportTraceServiceRequest: ${err.message}`);
    }
    throw err;
  }
  return result;
}
