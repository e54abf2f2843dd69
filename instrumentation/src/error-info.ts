import { type FallbackReason, scrubToLength } from '@observatory/semconv';

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  status?: unknown;
  statusCode?: unknown;
}

const TOKEN = /^[A-Za-z0-9_.-]{1,64}$/;

function fields(err: unknown): ErrorLike {
  return typeof err === 'object' && err !== null ? (err as ErrorLike) : {};
}

function statusOf(e: ErrorLike): number | undefined {
  const status = typeof e.status === 'number' ? e.status : e.statusCode;
  return typeof status === 'number' && status >= 100 && status < 600 ? status : undefined;
}

function token(value: unknown): string | undefined {
  return typeof value === 'string' && TOKEN.test(value) ? value : undefined;
}

/** `error.type`: a low-cardinality name for what failed (provider code, HTTP status, or error class). */
export function errorType(err: unknown): string {
  const e = fields(err);
  return token(e.code) ?? statusOf(e)?.toString() ?? token(e.name) ?? '_OTHER';
}

const MAX_MESSAGE = 500;

/**
 * The span status message: the error's class, code and HTTP status, then its message scrubbed of personal data
 * and secrets (upstream errors quote emails, names and keys) and cut short. The pipeline scrubs again on ingest.
 */
export function errorSummary(err: unknown): string {
  const e = fields(err);
  const name = token(e.name) ?? 'Error';
  const code = token(e.code);
  const status = statusOf(e);
  const message = err instanceof Error && err.message ? `: ${scrubToLength(err.message, MAX_MESSAGE)}` : '';
  return `${name}${code ? ` ${code}` : ''}${status ? ` (status ${status})` : ''}${message}`;
}

const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
]);
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);

/** Why a primary model call failed, normalised to the bounded set of fallback reasons. */
export function fallbackReasonFor(err: unknown): FallbackReason {
  const e = fields(err);
  const status = statusOf(e);
  const code = typeof e.code === 'string' ? e.code : '';
  const name = typeof e.name === 'string' ? e.name : '';
  if (
    name === 'TimeoutError' ||
    name === 'AbortError' ||
    TIMEOUT_CODES.has(code) ||
    status === 408 ||
    status === 504
  )
    return 'timeout';
  if (status === 429 || /rate.?limit/i.test(code) || /rate.?limit/i.test(name)) return 'rate_limited';
  if (status === 502 || status === 503 || status === 529 || UNAVAILABLE_CODES.has(code)) return 'unavailable';
  return 'error';
}
