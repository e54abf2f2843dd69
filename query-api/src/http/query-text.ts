import type { MiddlewareHandler } from 'hono';
import { ProblemError } from './problem.ts';

/** The reason `text` (one percent-encoded query name or value) cannot be stored as text, if any. */
function unreadable(text: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    return 'is not valid percent-encoded UTF-8';
  }
  // PostgreSQL text cannot hold NUL: refused here, it would otherwise fail the query as a server error.
  return decoded.includes('\0') ? 'must not contain a NUL character' : undefined;
}

/**
 * 400 naming the parameter for a query string holding invalid UTF-8 (`%C3%28`) or NUL (`%00`). Hono's own
 * decoding keeps what it cannot decode as it is, so this reads the raw query string before any route does.
 */
export function readableQuery(): MiddlewareHandler {
  return async function readableQueryMiddleware(c, next) {
    const url = c.req.url;
    const start = url.indexOf('?');
    if (start !== -1) {
      const errors: { field: string; message: string }[] = [];
      for (const pair of url.slice(start + 1).split('&')) {
        const [rawName = '', rawValue = ''] = pair.split(/=(.*)/s);
        const nameProblem = unreadable(rawName);
        const field = nameProblem ? rawName.slice(0, 100) : decodeURIComponent(rawName.replaceAll('+', ' '));
        const problem = nameProblem ?? unreadable(rawValue);
        if (problem) errors.push({ field, message: problem });
      }
      if (errors.length > 0) {
        const detail = errors.map((e) => `${e.field}: ${e.message}`).join('; ');
        throw new ProblemError(400, `Invalid query: ${detail}`, { errors });
      }
    }
    await next();
  };
}
