import type { MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import type pg from 'pg';
import { type Principal, type Role, type Scope, verifyKey } from '../keys/keys.ts';
import { SESSION_COOKIE, verifySession } from '../keys/sessions.ts';
import { bearerToken } from './bearer-token.ts';
import { ProblemError } from './problem.ts';

/** What the caller presented: an API key (Bearer) or the console's session token (cookie). */
export interface Credential {
  kind: 'key' | 'session';
  secret: string;
}

export type AuthEnv = { Variables: { principal: Principal; credential?: Credential } };

/** Turns a presented key or session token into its principal; undefined when unknown, expired or revoked. */
export interface CredentialVerifier {
  key(key: string): Promise<Principal | undefined>;
  session(token: string): Promise<Principal | undefined>;
}

export function databaseVerifier(pool: pg.Pool): CredentialVerifier {
  return { key: (key) => verifyKey(pool, key), session: (token) => verifySession(pool, token) };
}

/**
 * Resolves `Authorization: Bearer <key>` — or, for the console, its session cookie — to the org and role; 401 when
 * missing, unknown, expired or revoked. A cookie-authenticated request that changes anything must also carry
 * `X-Requested-With: observatory`, which a cross-site form cannot send.
 */
export function requireKey(
  pool: pg.Pool,
  verifier: CredentialVerifier = databaseVerifier(pool),
): MiddlewareHandler<AuthEnv> {
  return async function requireKeyMiddleware(c, next) {
    const key = bearerToken(c.req.header('authorization'));
    const session = key === undefined ? getCookie(c, SESSION_COOKIE) : undefined;
    if (session && c.req.method !== 'GET' && c.req.header('x-requested-with') !== 'observatory') {
      throw new ProblemError(
        403,
        'Requests made with the session cookie need "X-Requested-With: observatory"',
      );
    }
    const principal =
      key !== undefined ? await verifier.key(key) : session ? await verifier.session(session) : undefined;
    if (!principal) {
      throw new ProblemError(
        401,
        key !== undefined || session
          ? 'The API key or session is unknown, expired or revoked'
          : 'Send an API key as "Authorization: Bearer <key>"',
        {},
        { 'WWW-Authenticate': 'Bearer' },
      );
    }
    c.set('principal', principal);
    c.set(
      'credential',
      key !== undefined ? { kind: 'key', secret: key } : { kind: 'session', secret: session! },
    );
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

/** 403 unless the caller's key has one of `roles`, or is a viewer key holding `scope`. Use after `requireKey`. */
export function requireRoleOrScope(roles: Role[], scope: Scope): MiddlewareHandler<AuthEnv> {
  return async function requireRoleOrScopeMiddleware(c, next) {
    const { role, scopes } = c.get('principal');
    if (!roles.includes(role) && !(role === 'viewer' && scopes?.includes(scope))) {
      throw new ProblemError(
        403,
        `This needs a key with role ${roles.join(' or ')}, or a viewer key with scope ${scope}; this key is ${role}`,
      );
    }
    await next();
  };
}
