import { createRoute, z } from '@hono/zod-openapi';
import { OrgIdSchema } from '@observatory/exporter-postgres';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type pg from 'pg';
import { clientUsesHttps } from '../http/client-protocol.ts';
import { jsonContent, keyAccess, openApiRoutes, PROBLEM_RESPONSES } from '../http/openapi.ts';
import { RoleSchema } from '../keys/keys.ts';
import { createSession, endSession, SESSION_COOKIE, SESSION_TTL_MS } from '../keys/sessions.ts';

const SessionSchema = z
  .object({ org_id: OrgIdSchema, role: RoleSchema, expires_at: z.iso.datetime() })
  .openapi('Session');

/**
 * `POST /api/session` exchanges an API key (Bearer) for an HttpOnly, SameSite=Strict session cookie, so the console
 * keeps no key in page-readable storage and EventSource can authenticate; `DELETE /api/session` signs out. The console
 * only reads and manages, so an ingest key gets no session. The cookie is `Secure` when the client uses HTTPS, which
 * behind a TLS-terminating proxy only its X-Forwarded-Proto tells, and only when `trustProxy` says to believe it.
 */
export function sessionRoutes({ pool, trustProxy = false }: { pool: pg.Pool; trustProxy?: boolean }) {
  const signIn = createRoute({
    method: 'post',
    path: '/api/session',
    operationId: 'createSession',
    tags: ['console'],
    summary: 'Exchange a viewer or org_admin key for an HttpOnly console session cookie',
    ...keyAccess(pool, ['viewer', 'org_admin']),
    responses: {
      200: {
        ...jsonContent(SessionSchema, 'Signed in; the session cookie is set'),
        headers: {
          'Set-Cookie': { schema: { type: 'string' }, description: `${SESSION_COOKIE}=…; HttpOnly` },
        },
      },
      ...PROBLEM_RESPONSES,
    },
  });
  const signOut = createRoute({
    method: 'delete',
    path: '/api/session',
    operationId: 'deleteSession',
    tags: ['console'],
    summary: 'Sign the console out',
    responses: { 204: { description: 'Signed out; the session cookie is cleared' } },
  });

  return openApiRoutes()
    .openapi(signIn, async (c) => {
      const principal = c.get('principal')!;
      const { token, expiresAt } = await createSession(pool, principal);
      setCookie(c, SESSION_COOKIE, token, {
        httpOnly: true,
        sameSite: 'Strict',
        path: '/',
        maxAge: SESSION_TTL_MS / 1000,
        secure: clientUsesHttps(c, { trustProxy }),
      });
      return c.json(
        { org_id: principal.orgId, role: principal.role, expires_at: expiresAt.toISOString() },
        200,
      );
    })
    .openapi(signOut, async (c) => {
      const token = getCookie(c, SESSION_COOKIE);
      if (token) await endSession(pool, token);
      deleteCookie(c, SESSION_COOKIE, { path: '/', secure: clientUsesHttps(c, { trustProxy }) });
      return c.body(null, 204);
    });
}
