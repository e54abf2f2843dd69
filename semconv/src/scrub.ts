import { isIPv6 } from 'node:net';

/**
 * Removes personal data and secrets from free text that reaches ai_events (error messages, provenance, tags):
 * upstream error text routinely quotes an email, a phone number or a key.
 *
 * Every pattern runs in time linear in the text on V8's backtracking engine, whatever the text: each unbounded
 * quantifier either ends its pattern (an attempt that reaches it succeeds, and the search resumes after the
 * match) or sits behind a lookbehind that excludes its own characters, so attempts start only at the beginning
 * of a maximal run and no run is rescanned from inside; all other quantifiers are bounded. Callers still cut
 * text to its stored length first (`scrubToLength`), so the work per field is small as well as linear.
 */

// Replace callbacks receive the groups, then the offset and the whole text.
type Replacement = string | ((match: string, ...rest: never[]) => string);

interface Rule {
  pattern: RegExp;
  replacement: Replacement;
  /**
   * Matches a shape (a long hex or base64 run) rather than a known format. Shapes are scrubbed from free text,
   * but an identifier of that shape (a request id of 32 hex digits, a long model path) is not personal.
   */
  shape?: true;
}

const SECRET = '[secret]';

const RULES: Rule[] = [
  // Secrets first, so that their digits are not mistaken for phone or card numbers.
  { pattern: /(?<=:\/\/)[^\s/@:]{1,256}:[^\s/@]{1,256}@/g, replacement: `${SECRET}@` },
  {
    // `Authorization: Bearer tok_…`, `authorization=basic dXNl…`: a scheme word (letters only) is kept and the
    // credential after it replaced. Without a scheme word the next word goes too, in case it is the credential.
    pattern:
      /(?<![A-Za-z0-9_-])((?:proxy-)?authorization)(["']?\s{0,8}[:=]\s{0,8}["']?)(?:([A-Za-z]{1,32})\s{1,8}[^\s"',;]+|[^\s"',;]+(?:\s{1,8}[^\s"',;]+)?)/gi,
    replacement: (_match: string, name: string, separator: string, scheme: string | undefined) =>
      `${name}${separator}${scheme ? `${scheme} ` : ''}${SECRET}`,
  },
  {
    pattern:
      /(?<![A-Za-z0-9])(api[-_]?key|token|secret|password|passwd|pwd|cookie|session[-_]?id|credentials?)(["']?\s{0,8}[:=]\s{0,8}["']?)[^\s"',;]+/gi,
    replacement: `$1$2${SECRET}`,
  },
  { pattern: /(?<![A-Za-z0-9_-])(bearer)\s{1,8}[A-Za-z0-9._~+/=-]+/gi, replacement: `$1 ${SECRET}` },
  // OpenAI, Anthropic and Stripe (sk-, sk_live_, pk_, rk_, tok_, whsec_) and Observatory's own (obs_) keys.
  { pattern: /(?<![A-Za-z0-9_-])(?:sk|pk|rk|tok|whsec|obs)[-_][A-Za-z0-9_-]{8,}/g, replacement: SECRET },
  {
    // GitHub, Hugging Face, npm, GitLab and Slack tokens.
    pattern:
      /(?<![A-Za-z0-9_-])(?:(?:gh[pousr]|github_pat|hf|npm)_[A-Za-z0-9_]{30,}|glpat-[A-Za-z0-9_-]{20,}|xox[abeoprs]-[A-Za-z0-9-]{10,})/g,
    replacement: SECRET,
  },
  { pattern: /(?<![A-Za-z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Za-z0-9])/g, replacement: SECRET },
  { pattern: /(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])/g, replacement: SECRET },
  {
    pattern: /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g,
    replacement: SECRET,
  },
  { pattern: /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g, replacement: '[email]' },
  { pattern: /\b[A-Fa-f0-9]{32,}\b/g, replacement: SECRET, shape: true },
  { pattern: /(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{40,}={0,2}/g, replacement: SECRET, shape: true },
  // A run of hex digits, dots and colons with a colon in it is an IPv6 address when node:net says so.
  { pattern: /(?<![0-9A-Fa-f:.])[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*/g, replacement: ipv6 },
  {
    // Not inside a longer dotted number (a version such as 1.2.3.4.5).
    pattern: /(?<![\w.])(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}(?!\w|\.\d)/g,
    replacement: '[ip]',
  },
  // US social security numbers, UK national insurance numbers.
  { pattern: /\b\d{3}([- ])\d{2}\1\d{4}\b/g, replacement: '[national-id]' },
  {
    pattern: /\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b/g,
    replacement: '[national-id]',
  },
  { pattern: /\b\d(?:[ -]?\d){12,18}\b/g, replacement: (m) => (luhn(m.replace(/\D/g, '')) ? '[card]' : m) },
  // Phone numbers: international with separators, national with separators, and bare runs of 7–15 digits.
  {
    pattern: /(?<![\w+])\+\d{1,3}(?:[ .-]?\(\d{1,4}\))?(?:[ .-]\d{1,8}){1,5}(?![\w]|[.-]\d)/g,
    replacement: (m) => phone(m, 7),
  },
  {
    pattern: /(?<![\w+.-])(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])\d{3,4}[ .-]\d{3,4}(?![\w]|[.-]\d)/g,
    replacement: (m) => phone(m, 9),
  },
  { pattern: /(?<![\w+.-])\+?\d{7,15}(?![\w]|[.,]\d)/g, replacement: '[phone]' },
];

function ipv6(run: string, offset: number, text: string): string {
  // The run may carry punctuation of the sentence around it: "host:fe80::1" or "from fe80::1."
  const lead = /^:(?!:)/.test(run) ? 1 : 0;
  const trail = /[^:][.:]$/.test(run) ? 1 : 0;
  const core = run.slice(lead, run.length - trail);
  // Glued to a word it is code, not an address: Foo::Bar.
  const glued =
    (lead === 0 && WORD.test(text[offset - 1] ?? '')) ||
    (trail === 0 && WORD.test(text[offset + run.length] ?? ''));
  return !glued && /[0-9A-Fa-f]/.test(core) && isIPv6(core)
    ? `${run.slice(0, lead)}[ip]${run.slice(run.length - trail)}`
    : run;
}

const WORD = /^\w$/;

function phone(match: string, minDigits: number): string {
  const digits = match.replace(/\D/g, '').length;
  return digits >= minDigits && digits <= 15 ? '[phone]' : match;
}

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

function apply(text: string, rules: readonly Rule[]): string {
  let out = text;
  for (const { pattern, replacement } of rules) {
    out = out.replace(pattern, replacement as (match: string) => string);
  }
  return out;
}

const FORMAT_RULES = RULES.filter((rule) => !rule.shape);

export function scrubText(text: string): string {
  return apply(text, RULES);
}

/**
 * True when `value` holds an email, phone, card or national id number, an IP address or a recognisable secret
 * (a key with a known prefix, a JWT, a bearer token). Meant for identifiers and label values, so long hex or
 * base64 runs alone do not count: request ids and model paths have that shape.
 */
export function looksPersonal(value: string): boolean {
  if (!mayHoldFormat(value)) return false;
  if (ordinary.has(value)) return false;
  if (apply(value, FORMAT_RULES) !== value) return true;
  if (ordinary.size >= MAX_ORDINARY) ordinary.clear();
  ordinary.add(value);
  return false;
}

// Identifiers repeat (a dated model name on every call), so those the rules found ordinary are remembered.
// Only ordinary ones: the cache never holds personal data.
const MAX_ORDINARY = 1000;
const ordinary = new Set<string>();

// Every format rule needs one of these, or six digits: most identifiers (gpt-4o, checkout-api, req-42) have none,
// and are told apart in one pass instead of one per rule.
const FORMAT_HINT =
  /[@:=]|\d\.\d|bearer|eyJ|(?:sk|pk|rk|tok|whsec|obs)[-_]|gh[pousr]_|github_pat_|hf_|npm_|glpat-|xox[a-z]-|A(?:KIA|SIA|Iza)/i;

function mayHoldFormat(value: string): boolean {
  if (FORMAT_HINT.test(value)) return true;
  let digits = 0;
  for (let i = 0; i < value.length && digits < 6; i++) {
    const code = value.charCodeAt(i);
    if (code >= 48 && code <= 57) digits++;
  }
  return digits >= 6;
}

// Cutting inside a word could leave half a key or half an email, which no pattern recognises any more.
const WORD_BREAKS = new Set([...' \t\r\n\f\v"\'`,;()[]{}<>']);

/**
 * `text` cut to at most `max` characters. A word the cut would split is dropped whole, unless it is the whole
 * text (one giant word: the scrubber's length rules see its beginning).
 */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max;
  while (end > 0 && !WORD_BREAKS.has(text[end] as string) && !WORD_BREAKS.has(text[end - 1] as string)) end--;
  return text.slice(0, end > 0 ? end : max);
}

/** Cuts first, then scrubs: the patterns never see more than the stored length. */
export function scrubToLength(text: string, max: number): string {
  return scrubText(cutText(text, max)).slice(0, max);
}

/** Longest string kept inside provenance and tags, keys included. */
export const MAX_JSON_STRING = 1024;

// A value stored under a credential's name is a secret whatever it looks like (`"password": "hunter2"`).
const CREDENTIAL_NAME =
  /(?<![a-z])(?:authorization|api[-_]?key|token|secret|password|passwd|pwd|cookie|session[-_]?id|credentials?)(?![a-z])/;

function namesCredential(key: string): boolean {
  // camelCase to snake_case first, so that accessToken and clientSecret are found like access_token.
  return CREDENTIAL_NAME.test(key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase());
}

/**
 * `scrubToLength` applied to every string in a JSON value, keys included; the value of a key that names a
 * credential is replaced whole.
 */
export function scrubJson(value: unknown): unknown {
  if (typeof value === 'string') return scrubToLength(value, MAX_JSON_STRING);
  if (Array.isArray(value)) return value.map(scrubJson);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, v]) => [
        scrubToLength(key, MAX_JSON_STRING),
        v !== null && namesCredential(cutText(key, MAX_JSON_STRING)) ? SECRET : scrubJson(v),
      ]),
    );
  }
  return value;
}
