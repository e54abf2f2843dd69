import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { ProblemError } from './problem.ts';

const BEARER = /^Bearer\s+(\S+)$/i;

/** Compares in constant time; hashing both first keeps the expected secret's length out of the timing too. */
export function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * 401 with `WWW-Authenticate` unless the request carries `Authorization: Bearer <token>`: for machine callers
 * with one shared secret (Prometheus scraping /metrics), not for API keys.
 */
export function requireBearerToken(token: string, realm: string): MiddlewareHandler {
  return async function requireBearerTokenMiddleware(c, next) {
    const match = BEARER.exec(c.req.header('authorization') ?? '');
    if (!match || !sameSecret(match[1]!, token)) {
      throw new ProblemError(
        401,
        match ? `The ${realm} token is wrong` : `Send the ${realm} token as "Authorization: Bearer <token>"`,
        {},
        { 'WWW-Authenticate': `Bearer realm="${realm}"` },
      );
    }
    await next();
  };
}
