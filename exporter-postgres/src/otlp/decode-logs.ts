import protobuf from 'protobufjs';
import { z } from 'zod';
import { hexIdSchema } from '../hex-id.ts';
import { type DecodedLogs, type LogInput, rejectRecord } from '../logs/log-input.ts';
import { int64, anyValue as jsonAnyValue, keyValues as jsonKeyValues } from './decode.ts';
import {
  countAt,
  hex,
  type LongLike,
  type PbAnyValue,
  type PbKeyValue,
  anyValue as pbAnyValue,
  keyValues as pbKeyValues,
  u64,
} from './decode-protobuf.ts';
import { OtlpDecodeError, TooManySpansError } from './decoded.ts';
import { JsonBodyError, parseJsonBody } from './json-body.ts';
import { ExportLogsServiceRequest, ExportLogsServiceResponse } from './logs-proto.ts';

interface PbLogRecord {
  timeUnixNano?: LongLike | number;
  observedTimeUnixNano?: LongLike | number;
  severityNumber?: number;
  severityText?: string;
  body?: PbAnyValue;
  attributes?: PbKeyValue[];
  traceId?: Uint8Array;
  spanId?: Uint8Array;
  eventName?: string;
}

interface PbLogsRequest {
  resourceLogs?: {
    resource?: { attributes?: PbKeyValue[] };
    scopeLogs?: { scope?: { name?: string }; logRecords?: PbLogRecord[] }[];
  }[];
}

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

function fromProtobuf(
  record: PbLogRecord,
  resource: LogInput['resource'],
  scopeName: string | undefined,
): LogInput | string {
  // Both ids are optional in a log record: empty means "not tied to a span".
  const traceId = record.traceId?.length ? record.traceId : undefined;
  const spanId = record.spanId?.length ? record.spanId : undefined;
  if (traceId && traceId.length !== 16) return 'traceId: must be 16 bytes or empty';
  if (spanId && spanId.length !== 8) return 'spanId: must be 8 bytes or empty';
  const severityNumber = record.severityNumber ?? 0;
  const severityText = record.severityText ?? '';
  const eventName = record.eventName ?? '';
  const invalid = checkCommon(severityNumber, severityText, eventName);
  if (invalid) return invalid;
  return {
    timeUnixNano: u64(record.timeUnixNano),
    observedTimeUnixNano: u64(record.observedTimeUnixNano),
    severityNumber,
    severityText,
    body: pbAnyValue(record.body, 0),
    attributes: pbKeyValues(record.attributes),
    traceId: traceId && hex(traceId),
    spanId: spanId && hex(spanId),
    eventName: eventName || undefined,
    resource,
    scopeName,
  };
}

/**
 * Decodes an OTLP/protobuf logs request. With more than `maxRecords` records it throws TooManySpansError (unit
 * "log records") after only counting them.
 */
export function decodeOtlpLogsProtobuf(body: Uint8Array, maxRecords = Number.POSITIVE_INFINITY): DecodedLogs {
  let request: PbLogsRequest;
  try {
    if (Number.isFinite(maxRecords)) {
      const count = countAt(protobuf.Reader.create(body), body.byteLength, RECORDS_PATH);
      if (count > maxRecords) throw new TooManySpansError(count, maxRecords, 'log records');
    }
    request = ExportLogsServiceRequest.decode(body) as unknown as PbLogsRequest;
  } catch (err) {
    if (err instanceof TooManySpansError) throw err;
    throw new OtlpDecodeError(`Body is not a protobuf ExportLogsServiceRequest: ${(err as Error).message}`);
  }
  const result: DecodedLogs = { records: [], rejected: 0, errors: [] };
  for (const rl of request.resourceLogs ?? []) {
    const resource = pbKeyValues(rl.resource?.attributes);
    for (const sl of rl.scopeLogs ?? []) {
      for (const record of sl.logRecords ?? []) {
        const decoded = fromProtobuf(record, resource, sl.scope?.name || undefined);
        if (typeof decoded === 'string') rejectRecord(result, decoded);
        else result.records.push(decoded);
      }
    }
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
