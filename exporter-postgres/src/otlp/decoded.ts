import type { SpanInput } from '../span.ts';

/** The body is not an OTLP trace request at all: the receiver answers 400 with this message. */
export class OtlpDecodeError extends Error {
  override name = 'OtlpDecodeError';
}

export interface DecodedSpans {
  spans: SpanInput[];
  rejected: number;
  /** One line per rejected span (the first few), for the partialSuccess message. */
  errors: string[];
}

const MAX_ERRORS = 10;

/** Counts a span refused by validation and keeps the first few reasons for the partialSuccess message. */
export function rejectSpan(result: DecodedSpans, why: string): void {
  result.rejected++;
  if (result.errors.length < MAX_ERRORS)
    result.errors.push(`span ${result.spans.length + result.rejected}: ${why}`);
}

/**
 * The request carries more spans than the receiver takes at once (the ingest queue's size): it can never be
 * stored whole, so the receiver answers 413 naming the limit instead of a retryable "queue full".
 */
export class TooManySpansError extends Error {
  override name = 'TooManySpansError';
  constructor(
    readonly count: number,
    readonly max: number,
    /** What is counted: spans, or the log records of a logs request. */
    readonly unit: 'spans' | 'log records' = 'spans',
  ) {
    super(`The request carries ${count} ${unit}; at most ${max} are taken per request`);
  }
}
