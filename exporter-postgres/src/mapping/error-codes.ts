/** Error codes an event can carry: a controlled list, so `error_code` is safe as a metric label. */
export const ERROR_CODES = [
  'timeout',
  'rate_limited',
  'auth',
  'invalid_request',
  'content_filter',
  'context_length',
  'server_error',
  'unavailable',
  'network',
  'cancelled',
  'unknown',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

// Order matters: the specific 4xx causes before the generic invalid_request, 503 before other 5xx.
const RULES: [RegExp, ErrorCode][] = [
  [/time.?out|timed.?out|deadline|etimedout|\b408\b|\b504\b/, 'timeout'],
  [/rate.?limit|too.?many|quota|\b429\b|throttl/, 'rate_limited'],
  [/content.?filter|safety|moderation|blocked/, 'content_filter'],
  [/context.?length|context.?window|too.?long|max.?tokens|token.?limit/, 'context_length'],
  [/auth|permission|forbidden|api.?key|\b401\b|\b403\b/, 'auth'],
  [/unavailable|overload|\b503\b|\b529\b|\b502\b/, 'unavailable'],
  [/abort|cancel/, 'cancelled'],
  [/econn|enotfound|eai_again|network|socket|connection|fetch failed/, 'network'],
  [/invalid|bad.?request|validation|not.?found|unprocessable|\b400\b|\b404\b|\b422\b/, 'invalid_request'],
  [/server|internal|\b5\d\d\b/, 'server_error'],
];

/** Normalises whatever an instrumentation reports (error.type, an exception class, an HTTP status) to ERROR_CODES. */
export function normaliseErrorCode(raw: string | number | undefined): ErrorCode {
  if (raw === undefined) return 'unknown';
  const text = String(raw).toLowerCase();
  if ((ERROR_CODES as readonly string[]).includes(text)) return text as ErrorCode;
  for (const [pattern, code] of RULES) if (pattern.test(text)) return code;
  return 'unknown';
}
