import { ObservatoryAttributes as Obs, StandardAttributes as Std } from '../attributes.ts';
import type { SpanInput } from '../span.ts';
import { normaliseErrorCode } from './error-codes.ts';
import { number, text } from './read-attributes.ts';

/**
 * Whether a span failed (status ERROR, or an `error.type`), and its error code normalised to `ERROR_CODES`: from
 * `observatory.error.code` or `error.type`, the `exception` event's type, or the HTTP status.
 */
export function failureOf(span: SpanInput): { failed: boolean; error_code: string | null } {
  const attrs = span.attributes;
  const errorType = text(attrs, [Obs.ERROR_CODE, Std.ERROR_TYPE]);
  const failed = span.status.code === 2 || errorType !== null;
  if (!failed) return { failed, error_code: null };
  const exceptionType = span.events.find((e) => e.name === 'exception')?.attributes['exception.type'];
  const httpStatus = number(attrs, ['http.response.status_code', 'http.status_code']);
  return {
    failed,
    error_code: normaliseErrorCode(
      errorType ?? (typeof exceptionType === 'string' ? exceptionType : undefined) ?? httpStatus ?? undefined,
    ),
  };
}
