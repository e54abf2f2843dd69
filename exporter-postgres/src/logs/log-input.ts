import type { Attributes, AttributeValue } from '../span.ts';

/**
 * A log record in the one shape the log mapping reads, decoded from OTLP (protobuf or JSON). Ids are lower-case hex
 * (absent when the record is not tied to a span); times are Unix nanoseconds, 0 when the sender left them out.
 */
export interface LogInput {
  timeUnixNano: bigint;
  observedTimeUnixNano: bigint;
  /** 0 (unspecified) to 24: TRACE 1–4, DEBUG 5–8, INFO 9–12, WARN 13–16, ERROR 17–20, FATAL 21–24. */
  severityNumber: number;
  severityText: string;
  body: AttributeValue;
  attributes: Attributes;
  traceId?: string | undefined;
  spanId?: string | undefined;
  eventName?: string | undefined;
  resource: Attributes;
  scopeName?: string | undefined;
}

/** The log records of an OTLP logs request, and those refused one by one (for partialSuccess). */
export interface DecodedLogs {
  records: LogInput[];
  rejected: number;
  /** One line per rejected record (the first few). */
  errors: string[];
}

const MAX_ERRORS = 10;

export function rejectRecord(result: DecodedLogs, why: string): void {
  result.rejected++;
  if (result.errors.length < MAX_ERRORS)
    result.errors.push(`log record ${result.records.length + result.rejected}: ${why}`);
}
