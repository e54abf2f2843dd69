import type { MiddlewareHandler } from 'hono';
import type pg from 'pg';
import { type Principal, type Role, verifyKey } from '../keys/keys.ts';
import { ProblemError } from './problem.ts';

export type AuthEnv = { Variables: { principal: Principal } };

const BEARER = /^Bearer\s+(\S+)$/i;

/** Resolves `Authorization: Bearer <key>` to the key's org and role; 401 when missing, unknown or revoked. */
export function requireKey(pool: pg.Pool): MiddlewareHandler<AuthEnv> {
  return async function requireKeyMiddleware(c, next) {
    const match = BEARER.exec(c.req.header('authorization') ?? '');
    const principal = match ? await verifyKey(pool, match[1]!) : undefined;
    if (!principal) {
      throw new ProblemError(
        401,
        match ? 'The API key is unknown or revoked' : 'Send an API key as "Authorization: Bearer <key>"',
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
