import type { MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import type pg from 'pg';
import { type Principal, type Role, verifyKey } from '../keys/keys.ts';
import { SESSION_COOKIE, verifySession } from '../keys/sessions.ts';
import { ProblemError } from './problem.ts';

export type AuthEnv = { Variables: { principal: Principal } };

const BEARER = /^Bearer\s+(\S+)$/i;

/**
 * Resolves `Authorization: Bearer <key>` — or, for the console, its session cookie — to the org and role; 401 when
 * missing, unknown, expired or revoked. A cookie-authenticated request that changes anything must also carry
 * `X-Requested-With: observatory`, which a cross-site form cannot send.
 */
export function requireKey(pool: pg.Pool): MiddlewareHandler<AuthEnv> {
  return async function requireKeyMiddleware(c, next) {
    const match = BEARER.exec(c.req.header('authorization') ?? '');
    const session = match ? undefined : getCookie(c, SESSION_COOKIE);
    if (session && c.req.method !== 'GET' && c.req.header('x-requested-with') !== 'observatory') {
      throw new ProblemError(
        403,
        'Requests made with the session cookie need "X-Requested-With: observatory"',
      );
    }
    const principal = match
      ? await verifyKey(pool, match[1]!)
      : session
        ? await verifySession(pool, session)
        : undefined;
    if (!principal) {
      throw new ProblemError(
        401,
        match || session
          ? 'The API key or session is unknown, expired or revoked'
          : 'Send an API key as "Authorization: Bearer <key>"',
        {},
        { 'WWW-Authenticate': 'Bearer' },
      );
    }
    c.set('principal', principal);
    await next();
  };
}

/** 403 unless the caller's key has one of `roles`. Use after `requireKey`. */
export function requireRole(...roles: Role[]): MiddlewareHandler<AuthEnv> {
  return async function requireRoleMiddleware(c, next) {
    const { role } = c.get('principal');
    if (!roles.includes(role)) {
      throw new ProblemError(403, `This needs a key with role ${roles.join(' or ')}; this key is ${role}`);
    }
    await next();
  };
}
