import { Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type pg from 'pg';
import type { AppEnv } from '../app.ts';
import { requireKey, requireRole } from '../http/auth.ts';
import { clientUsesHttps } from '../http/client-protocol.ts';
import { createSession, endSession, SESSION_COOKIE, SESSION_TTL_MS } from '../keys/sessions.ts';

/**
 * `POST /api/session` exchanges an API key (Bearer) for an HttpOnly, SameSite=Strict session cookie, so the console
 * keeps no key in page-readable storage and EventSource can authenticate; `DELETE /api/session` signs out. The console
 * only reads and manages, so an ingest key gets no session. The cookie is `Secure` when the client uses HTTPS, which
 * behind a TLS-terminating proxy only its X-Forwarded-Proto tells, and only when `trustProxy` says to believe it.
 */
export function sessionRoutes({
  pool,
  trustProxy = false,
}: {
  pool: pg.Pool;
  trustProxy?: boolean;
}): Hono<AppEnv> {
  return new Hono<AppEnv>()
    .post('/api/session', requireKey(pool), requireRole('viewer', 'org_admin'), async (c) => {
      const principal = c.get('principal')!;
      const { token, expiresAt } = await createSession(pool, principal);
      setCookie(c, SESSION_COOKIE, token, {
        httpOnly: true,
        sameSite: 'Strict',
        path: '/',
        maxAge: SESSION_TTL_MS / 1000,
        secure: clientUsesHttps(c, { trustProxy }),
      });
      return c.json({ org_id: principal.orgId, role: principal.role, expires_at: expiresAt.toISOString() });
    })
    .delete('/api/session', async (c) => {
      const token = getCookie(c, SESSION_COOKIE);
      if (token) await endSession(pool, token);
      deleteCookie(c, SESSION_COOKIE, { path: '/', secure: clientUsesHttps(c, { trustProxy }) });
      return c.body(null, 204);
    });
}
