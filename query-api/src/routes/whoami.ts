import { Hono } from 'hono';
import type { AppDeps, AppEnv } from '../app.ts';
import { requireKey } from '../http/auth.ts';

/** `GET /api/whoami`: the org and role of the calling key (the console shows the org at the top). */
export function whoamiRoutes({ pool }: AppDeps): Hono<AppEnv> {
  return new Hono<AppEnv>().get('/api/whoami', requireKey(pool), (c) => {
    const { keyId, orgId, role } = c.get('principal');
    return c.json({ key_id: keyId, org_id: orgId, role });
  });
}
