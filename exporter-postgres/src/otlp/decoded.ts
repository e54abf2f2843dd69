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
