import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { ProblemError } from './problem.ts';

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(authorization: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
}

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
    const given = bearerToken(c.req.header('authorization'));
    if (given === undefined || !sameSecret(given, token)) {
      throw new ProblemError(
        401,
        given !== undefined
          ? `The ${realm} token is wrong`
          : `Send the ${realm} token as "Authorization: Bearer <token>"`,
        {},
        { 'WWW-Authenticate': `Bearer realm="${realm}"` },
      );
    }
    await next();
  };
}
