import { z } from 'zod';
import { hexIdSchema } from '../hex-id.ts';
import type { Attributes, AttributeValue, StatusCode } from '../span.ts';
import { type DecodedSpans, OtlpDecodeError, rejectSpan, TooManySpansError } from './decoded.ts';
import { JsonBodyError, parseJsonBody } from './json-body.ts';
import { ExportTraceServiceResponse } from './trace-proto.ts';

export { type AttributeKeys, decodeOtlpProtobuf } from './decode-spans.ts';
export { type DecodedSpans, OtlpDecodeError } from './decoded.ts';

const MAX_DEPTH = 8;

// One schema for both encodings: protobufjs' toObject (longs and bytes as strings) and OTLP/JSON read alike.
// int64 arrives as a decimal string (protobufjs, and OTLP/JSON as specified) or as a JSON number, which may already
// be beyond 2^53: it is accepted at the precision JSON left it.
export const int64 = z
  .union([z.string().regex(/^-?\d{1,20}$/), z.number().refine(Number.isFinite), z.bigint()])
  .transform((v) => (typeof v === 'number' ? BigInt(Math.trunc(v)) : BigInt(v)));

type RawValue = Record<string, unknown> | undefined;

export function anyValue(value: RawValue, depth: number): AttributeValue {
  if (!value || depth > MAX_DEPTH) return null;
  if (typeof value.stringValue === 'string') return value.stringValue;
  if (typeof value.boolValue === 'boolean') return value.boolValue;
  if (value.intValue !== undefined) {
    const n = Number(value.intValue);
    return Number.isSafeInteger(n) ? n : String(value.intValue);
  }
  if (value.doubleValue !== undefined) return Number(value.doubleValue);
  const array = value.arrayValue as { values?: RawValue[] } | undefined;
  if (array) return (array.values ?? []).map((v) => anyValue(v, depth + 1));
  const kvlist = value.kvlistValue as { values?: { key?: string; value?: RawValue }[] } | undefined;
  if (kvlist) return keyValues(kvlist.values, depth + 1) as { [key: string]: AttributeValue };
  if (value.bytesValue !== undefined) return String(value.bytesValue);
  return null;
}

export function keyValues(list: unknown, depth = 0): Attributes {
  const out: Attributes = {};
  if (!Array.isArray(list)) return out;
  for (const kv of list as { key?: unknown; value?: RawValue }[]) {
    if (kv && typeof kv.key === 'string') out[kv.key] = anyValue(kv.value, depth);
  }
  return out;
}

const SpanSchema = z.object({
  traceId: hexIdSchema(16),
  spanId: hexIdSchema(8),
  parentSpanId: z
    .union([hexIdSchema(8), z.literal('')])
    .optional()
    .transform((v) => v || undefined),
  name: z.string().max(1024).default(''),
  kind: z.coerce.number().int().min(0).max(5).default(0),
  startTimeUnixNano: int64,
  endTimeUnixNano: int64,
  attributes: z.array(z.unknown()).default([]),
  events: z
    .array(z.object({ name: z.string().default(''), attributes: z.array(z.unknown()).default([]) }))
    .default([]),
  status: z
    .object({ code: z.coerce.number().int().min(0).max(2).default(0), message: z.string().optional() })
    .default({ code: 0 }),
});

function spansIn(resourceSpans: Record<string, unknown>[]): number {
  let count = 0;
  for (const rs of resourceSpans) {
    for (const ss of Array.isArray(rs?.scopeSpans) ? (rs.scopeSpans as Record<string, unknown>[]) : []) {
      if (Array.isArray(ss?.spans)) count += ss.spans.length;
    }
  }
  return count;
}

function toSpanInputs(request: unknown, maxSpans: number): DecodedSpans {
  if (!request || typeof request !== 'object' || Array.isArray(request))
    throw new OtlpDecodeError('Body is not an ExportTraceServiceRequest object');
  const resourceSpans = (request as { resourceSpans?: unknown }).resourceSpans ?? [];
  if (!Array.isArray(resourceSpans)) throw new OtlpDecodeError('resourceSpans must be an array');
  const count = spansIn(resourceSpans);
  if (count > maxSpans) throw new TooManySpansError(count, maxSpans);
  const result: DecodedSpans = { spans: [], rejected: 0, errors: [] };
  for (const rs of resourceSpans as Record<string, unknown>[]) {
    const resource = keyValues((rs?.resource as { attributes?: unknown } | undefined)?.attributes);
    const scopeSpans = Array.isArray(rs?.scopeSpans) ? (rs.scopeSpans as Record<string, unknown>[]) : [];
    for (const ss of scopeSpans) {
      const scopeName = (ss?.scope as { name?: unknown } | undefined)?.name;
      const spans = Array.isArray(ss?.spans) ? ss.spans : [];
      for (const raw of spans) {
        const parsed = SpanSchema.safeParse(raw);
        if (!parsed.success || parsed.data.endTimeUnixNano < parsed.data.startTimeUnixNano) {
          rejectSpan(
            result,
            parsed.success
              ? 'endTimeUnixNano is before startTimeUnixNano'
              : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join(', '),
          );
          continue;
        }
        const span = parsed.data;
        result.spans.push({
          traceId: span.traceId,
          spanId: span.spanId,
          parentSpanId: span.parentSpanId,
          name: span.name,
          kind: span.kind,
          startTimeUnixNano: span.startTimeUnixNano,
          endTimeUnixNano: span.endTimeUnixNano,
          attributes: keyValues(span.attributes),
          status: { code: span.status.code as StatusCode, message: span.status.message },
          events: span.events.map((e) => ({ name: e.name, attributes: keyValues(e.attributes) })),
          resource,
          scopeName: typeof scopeName === 'string' ? scopeName : undefined,
        });
      }
    }
  }
  return result;
}

/** Decodes an OTLP/JSON trace request; more than `maxSpans` spans is a TooManySpansError, thrown before any is read. */
export function decodeOtlpJson(body: Uint8Array | string, maxSpans = Number.POSITIVE_INFINITY): DecodedSpans {
  let object: unknown;
  try {
    object = parseJsonBody(body);
  } catch (err) {
    if (err instanceof JsonBodyError) throw new OtlpDecodeError(err.message);
    throw err;
  }
  return toSpanInputs(object, maxSpans);
}

export function encodeExportTraceResponse(
  partial: { rejectedSpans: number; errorMessage: string } | undefined,
  format: 'protobuf' | 'json',
): Uint8Array | string {
  const body = partial ? { partialSuccess: partial } : {};
  if (format === 'json') {
    return JSON.stringify(
      partial ? { partialSuccess: { ...partial, rejectedSpans: String(partial.rejectedSpans) } } : {},
    );
  }
  return ExportTraceServiceResponse.encode(ExportTraceServiceResponse.fromObject(body)).finish();
}
