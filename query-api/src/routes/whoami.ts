import { Hono } from 'hono';
import type { AppDeps, AppEnv } from '../app.ts';
import { requireKey, requireRole } from '../http/auth.ts';

/**
 * `GET /api/whoami`: the org and role of the calling key (the console shows the org at the top). Ingest keys read
 * nothing, not even this: they are held by every instrumented service.
 */
export function whoamiRoutes({ pool }: AppDeps): Hono<AppEnv> {
  return new Hono<AppEnv>().get('/api/whoami', requireKey(pool), requireRole('viewer', 'org_admin'), (c) => {
    const { keyId, orgId, role } = c.get('principal');
    return c.json({ key_id: keyId, org_id: orgId, role });
  });
}
