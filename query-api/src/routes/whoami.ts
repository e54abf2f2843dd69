import { createRoute, z } from '@hono/zod-openapi';
import { OrgIdSchema } from '@observatory/exporter-postgres';
import type pg from 'pg';
import { jsonContent, keyAccess, openApiRoutes, PROBLEM_RESPONSES } from '../http/openapi.ts';
import { RoleSchema } from '../keys/keys.ts';

const WhoamiSchema = z.object({ key_id: z.uuid(), org_id: OrgIdSchema, role: RoleSchema }).openapi('Whoami');

/**
 * `GET /api/whoami`: the org and role of the calling key (the console shows the org at the top). Ingest keys read
 * nothing, not even this: they are held by every instrumented service.
 */
export function whoamiRoutes({ pool }: { pool: pg.Pool }) {
  const route = createRoute({
    method: 'get',
    path: '/api/whoami',
    operationId: 'whoami',
    tags: ['keys'],
    summary: 'The org and role of the calling key (viewer, org_admin)',
    ...keyAccess(pool, ['viewer', 'org_admin']),
    responses: { 200: jsonContent(WhoamiSchema, 'The caller'), ...PROBLEM_RESPONSES },
  });
  return openApiRoutes().openapi(route, (c) => {
    const { keyId, orgId, role } = c.get('principal')!;
    return c.json({ key_id: keyId, org_id: orgId, role }, 200);
  });
}
