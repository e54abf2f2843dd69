/** Deeper than any OTLP/JSON request or event envelope needs (an attribute nested eight levels is about 40). */
export const MAX_JSON_DEPTH = 64;

/** The body is not JSON, or nests deeper than MAX_JSON_DEPTH: the receiver answers 400 with this message. */
export class JsonBodyError extends Error {
  override name = 'JsonBodyError';
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;

/** True when `text` opens more than `max` objects or arrays inside each other (brackets in strings do not count). */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > max) return true;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) depth--;
  }
  return false;
}

/**
 * Parses a JSON request body after a linear scan has bounded its nesting, so neither the parser nor any code
 * walking the result later recurses without limit.
 */
export function parseJsonBody(body: Uint8Array | string): unknown {
  const text =
    typeof body === 'string'
      ? body
      : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) {
    throw new JsonBodyError(`Body nests JSON objects and arrays deeper than ${MAX_JSON_DEPTH} levels`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new JsonBodyError(`Body is not JSON: ${(err as Error).message}`);
  }
}
