/**
 * Removes personal data and secrets from free text that reaches ai_events (error messages, provenance, tags):
 * upstream error text routinely quotes an email, a phone number or a key. The instrumentation applies it before
 * a span leaves the service and the ingest again, because spans also arrive from SDKs that never scrub.
 */
const RULES: [RegExp, string | ((match: string) => string)][] = [
  // Secrets first, so that their digits are not mistaken for phone or card numbers.
  [
    /\b(authorization|x-api-key|api[-_]?key|token|secret|password)(["']?\s*[:=]\s*["']?)[^\s"',;]+/gi,
    '$1$2[secret]',
  ],
  [/\bBearer\s+[A-Za-z0-9._~+/=-]+/g, 'Bearer [secret]'],
  [/\b(?:sk|pk|rk|obs)[-_][A-Za-z0-9_-]{8,}/g, '[secret]'],
  [/\bAKIA[0-9A-Z]{16}\b/g, '[secret]'],
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+/g, '[secret]'],
  [/\b[A-Fa-f0-9]{32,}\b/g, '[secret]'],
  [/[A-Za-z0-9+/_-]{40,}={0,2}/g, '[secret]'],
  [/[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g, '[email]'],
  [
    /\b(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}\b|\b(?:[0-9A-Fa-f]{1,4}:){1,7}:(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){0,6})?/g,
    (m) => (/[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{0,4}:/.test(m) ? '[ip]' : m),
  ],
  [/\b(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}\b/g, '[ip]'],
  [/\b\d{3}-\d{2}-\d{4}\b/g, '[national-id]'],
  [/\b(?:\d[ -]?){12,18}\d\b/g, (m) => (luhn(m.replace(/\D/g, '')) ? '[card]' : m)],
  [
    /(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?)?\d{2,4}[\s.-]\d{3,4}[\s.-]?\d{3,4}\b/g,
    (m) => (m.replace(/\D/g, '').length >= 9 ? '[phone]' : m),
  ],
];

function luhn(digits: string): boolean {
  if (digits.length < 13 || digits.length > 19) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

export function scrubText(text: string): string {
  let out = text;
  for (const [pattern, replacement] of RULES) {
    out = out.replace(pattern, replacement as (m: string) => string);
  }
  return out;
}

/** `scrubText` applied to every string in a JSON value, keys included. */
export function scrubJson(value: unknown): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (Array.isArray(value)) return value.map(scrubJson);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [scrubText(k), scrubJson(v)]));
  }
  return value;
}
