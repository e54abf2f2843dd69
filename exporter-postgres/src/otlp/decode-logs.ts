import { z } from 'zod';
import { hexIdSchema } from '../hex-id.ts';
import { type DecodedLogs, type LogInput, rejectRecord } from '../logs/log-input.ts';
import type { Attributes, AttributeValue } from '../span.ts';
import { int64, anyValue as jsonAnyValue, keyValues as jsonKeyValues } from './decode.ts';
import { countAt } from './decode-spans.ts';
import { OtlpDecodeError, TooManySpansError } from './decoded.ts';
import { JsonBodyError, parseJsonBody } from './json-body.ts';
import { ExportLogsServiceResponse } from './logs-proto.ts';
import { FIXED64, LENGTH_DELIMITED, VARINT, WireError, WireReader } from './wire-reader.ts';
import { anyValue, keyValue, resourceOf, scopeNameOf } from './wire-values.ts';

// Field numbers of request.resourceLogs, ResourceLogs.scopeLogs and ScopeLogs.logRecords.
const RECORDS_PATH = [1, 2, 2];
const MAX_SEVERITY_TEXT = 64;
const MAX_EVENT_NAME = 256;

function checkCommon(severity: number, severityText: string, eventName: string): string | undefined {
  if (!Number.isInteger(severity) || severity < 0 || severity > 24) return 'severityNumber: not in 0–24';
  if (severityText.length > MAX_SEVERITY_TEXT)
    return `severityText: longer than ${MAX_SEVERITY_TEXT} characters`;
  if (eventName.length > MAX_EVENT_NAME) return `eventName: longer than ${MAX_EVENT_NAME} characters`;
  return undefined;
}

/**
 * LogRecord: time 1, severityNumber 2, severityText 3, body 5, attributes 6, traceId 9, spanId 10, observed time 11,
 * eventName 12; flags and dropped counts are stepped over. Both ids are optional: empty means "not tied to a span".
 */
function logRecord(
  r: WireReader,
  end: number,
  resource: Attributes,
  scopeName: string | undefined,
): LogInput | string {
  let time = 0n;
  let observed = 0n;
  let severityNumber = 0;
  let severityText = '';
  let body: AttributeValue = null;
  const attributes: Attributes = {};
  let traceId: string | number = 0;
  let spanId: string | number = 0;
  let eventName = '';
  while (r.pos < end) {
    const tag = r.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1:
        if (wire !== FIXED64) break;
        time = r.fixed64();
        continue;
      case 2:
        if (wire !== VARINT) break;
        severityNumber = r.uint32() | 0;
        continue;
      case 3:
        if (wire !== LENGTH_DELIMITED) break;
        severityText = r.string();
        continue;
      case 5: {
        if (wire !== LENGTH_DELIMITED) break;
        const bodyEnd = r.delimited();
        body = anyValue(r, bodyEnd, 0);
        r.pos = bodyEnd;
        continue;
      }
      case 6: {
        if (wire !== LENGTH_DELIMITED) break;
        const kvEnd = r.delimited();
        keyValue(r, kvEnd, 'all', attributes, 0);
        r.pos = kvEnd;
        continue;
      }
      case 9:
        if (wire !== LENGTH_DELIMITED) break;
        traceId = r.hexId(16);
        continue;
      case 10:
        if (wire !== LENGTH_DELIMITED) break;
        spanId = r.hexId(8);
        continue;
      case 11:
        if (wire !== FIXED64) break;
        observed = r.fixed64();
        continue;
      case 12:
        if (wire !== LENGTH_DELIMITED) break;
        eventName = r.string();
        continue;
    }
    r.skip(wire);
  }
  if (typeof traceId === 'number' && traceId !== 0) return 'traceId: must be 16 bytes or empty';
  if (typeof spanId === 'number' && spanId !== 0) return 'spanId: must be 8 bytes or empty';
  const invalid = checkCommon(severityNumber, severityText, eventName);
  if (invalid) return invalid;
  return {
    timeUnixNano: time,
    observedTimeUnixNano: observed,
    severityNumber,
    severityText,
    body,
    attributes,
    traceId: typeof traceId === 'string' ? traceId : undefined,
    spanId: typeof spanId === 'string' ? spanId : undefined,
    eventName: eventName || undefined,
    resource,
    scopeName,
  };
}

/**
 * Decodes an OTLP/protobuf logs request in one pass over the wire format. With more than `maxRecords` records it
 * throws TooManySpansError (unit "log records") after only counting them.
 */
export function decodeOtlpLogsProtobuf(body: Uint8Array, maxRecords = Number.POSITIVE_INFINITY): DecodedLogs {
  const r = WireReader.of(body);
  const result: DecodedLogs = { records: [], rejected: 0, errors: [] };
  try {
    if (Number.isFinite(maxRecords)) {
      const count = countAt(r, body.byteLength, RECORDS_PATH);
      if (count > maxRecords) throw new TooManySpansError(count, maxRecords, 'log records');
      r.pos = 0;
    }
    // ResourceLogs: resource 1, scopeLogs 2; ScopeLogs: scope 1 (name 1), logRecords 2. A resource or scope may
    // follow its records on the wire, so each is read first.
    r.each(body.byteLength, 1, (resourceEnd) => {
      const resource = resourceOf(r, resourceEnd, 'all');
      r.each(resourceEnd, 2, (scopeEnd) => {
        const scopeName = scopeNameOf(r, scopeEnd);
        r.each(scopeEnd, 2, (recordEnd) => {
          const decoded = logRecord(r, recordEnd, resource, scopeName);
          if (typeof decoded === 'string') rejectRecord(result, decoded);
          else result.records.push(decoded);
        });
      });
    });
  } catch (err) {
    if (err instanceof WireError || err instanceof RangeError) {
      throw new OtlpDecodeError(`Body is not a protobuf ExportLogsServiceRequest: ${err.message}`);
    }
    throw err;
  }
  return result;
}

const optionalId = (bytes: 8 | 16) =>
  z
    .union([hexIdSchema(bytes), z.literal('')])
    .optional()
    .transform((v) => v || undefined);

// protobufjs' toObject and OTLP/JSON read alike: ids as hex, int64 as decimal strings or numbers, enums as numbers.
const LogRecordSchema = z.object({
  timeUnixNano: int64.default(0n),
  observedTimeUnixNano: int64.default(0n),
  severityNumber: z.coerce.number().int().min(0).max(24).default(0),
  severityText: z.string().max(MAX_SEVERITY_TEXT).default(''),
  body: z.record(z.string(), z.unknown()).optional(),
  attributes: z.array(z.unknown()).default([]),
  traceId: optionalId(16),
  spanId: optionalId(8),
  eventName: z.string().max(MAX_EVENT_NAME).default(''),
});

type Json = Record<string, unknown>;
const arrayAt = (value: unknown, key: string): Json[] => {
  const list = value && typeof value === 'object' ? (value as Json)[key] : undefined;
  return Array.isArray(list) ? (list as Json[]) : [];
};

/** Decodes an OTLP/JSON logs request; more than `maxRecords` records is refused before any is read. */
export function decodeOtlpLogsJson(
  body: Uint8Array | string,
  maxRecords = Number.POSITIVE_INFINITY,
): DecodedLogs {
  let request: unknown;
  try {
    request = parseJsonBody(body);
  } catch (err) {
    if (err instanceof JsonBodyError) throw new OtlpDecodeError(err.message);
    throw err;
  }
  if (!request || typeof request !== 'object' || Array.isArray(request))
    throw new OtlpDecodeError('Body is not an ExportLogsServiceRequest object');
  const resourceLogs = (request as { resourceLogs?: unknown }).resourceLogs ?? [];
  if (!Array.isArray(resourceLogs)) throw new OtlpDecodeError('resourceLogs must be an array');
  let count = 0;
  for (const rl of resourceLogs) {
    for (const sl of arrayAt(rl, 'scopeLogs')) count += arrayAt(sl, 'logRecords').length;
  }
  if (count > maxRecords) throw new TooManySpansError(count, maxRecords, 'log records');
  const result: DecodedLogs = { records: [], rejected: 0, errors: [] };
  for (const rl of resourceLogs as unknown[]) {
    const resource = jsonKeyValues(
      (rl as { resource?: { attributes?: unknown } } | null)?.resource?.attributes,
    );
    for (const sl of arrayAt(rl, 'scopeLogs')) {
      const scopeName = (sl.scope as { name?: unknown } | undefined)?.name;
      for (const raw of arrayAt(sl, 'logRecords')) {
        const parsed = LogRecordSchema.safeParse(raw);
        if (!parsed.success) {
          rejectRecord(
            result,
            parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join(', '),
          );
          continue;
        }
        const record = parsed.data;
        result.records.push({
          timeUnixNano: record.timeUnixNano,
          observedTimeUnixNano: record.observedTimeUnixNano,
          severityNumber: record.severityNumber,
          severityText: record.severityText,
          body: jsonAnyValue(record.body, 0),
          attributes: jsonKeyValues(record.attributes),
          traceId: record.traceId,
          spanId: record.spanId,
          eventName: record.eventName || undefined,
          resource,
          scopeName: typeof scopeName === 'string' && scopeName ? scopeName : undefined,
        });
      }
    }
  }
  return result;
}

export function decodeOtlpLogsBody(
  body: Uint8Array,
  format: 'protobuf' | 'json',
  maxRecords = Number.POSITIVE_INFINITY,
): DecodedLogs {
  return format === 'protobuf'
    ? decodeOtlpLogsProtobuf(body, maxRecords)
    : decodeOtlpLogsJson(body, maxRecords);
}

export function encodeExportLogsResponse(
  partial: { rejectedLogRecords: number; errorMessage: string } | undefined,
  format: 'protobuf' | 'json',
): Uint8Array | string {
  if (format === 'json') {
    return JSON.stringify(
      partial
        ? { partialSuccess: { ...partial, rejectedLogRecords: String(partial.rejectedLogRecords) } }
        : {},
    );
  }
  const body = partial ? { partialSuccess: partial } : {};
  return ExportLogsServiceResponse.encode(ExportLogsServiceResponse.fromObject(body)).finish();
}
