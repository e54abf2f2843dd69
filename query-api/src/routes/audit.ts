import { createRoute, z } from '@hono/zod-openapi';
import type pg from 'pg';
import { AuditQuerySchema, decodeAuditCursor, listAudit } from '../audit/list.ts';
import { jsonContent, keyAccess, named, openApiRoutes, PROBLEM_RESPONSES } from '../http/openapi.ts';
import { ProblemError } from '../http/problem.ts';

const AuditRowSchema = z
  .object({
    id: z.string().describe('row id (a decimal integer)'),
    seq: z
      .string()
      .nullable()
      .describe("position in the org's hash chain; null for rows from before the chains"),
    actor: z.string().describe('the key id that acted, or "cli" / "system"'),
    action: z.string(),
    target: z.string().nullable(),
    ip: z.string().nullable(),
    details: z.record(z.string(), z.unknown()),
    created_at: z.iso.datetime(),
  })
  .openapi('AuditRow');

/** `GET /api/audit`: the caller org's audit trail, newest first (org_admin). */
export function auditRoutes({ pool }: { pool: pg.Pool }) {
  return openApiRoutes().openapi(
    createRoute({
      method: 'get',
      path: '/api/audit',
      operationId: 'listAudit',
      tags: ['audit'],
      summary: "The caller org's audit trail, newest first, by keyset cursor (org_admin)",
      ...keyAccess(pool, ['org_admin']),
      request: { query: named('AuditQuery', AuditQuerySchema) },
      responses: {
        200: jsonContent(
          z.object({ items: z.array(AuditRowSchema), next_cursor: z.string().nullable() }),
          'One page of audit rows',
        ),
        ...PROBLEM_RESPONSES,
      },
    }),
    async (c) => {
      const { cursor, ...query } = c.req.valid('query');
      const position = cursor === undefined ? undefined : decodeAuditCursor(cursor);
      if (cursor !== undefined && !position) {
        throw new ProblemError(400, 'cursor: not a cursor this service issued', {
          errors: [{ field: 'cursor', message: 'invalid' }],
        });
      }
      const page = await listAudit(pool, c.get('principal')!.orgId, query, position);
      return c.json(page as never, 200);
    },
  );
}
