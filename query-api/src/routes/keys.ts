import { createRoute, z } from '@hono/zod-openapi';
import { OrgIdSchema } from '@observatory/exporter-postgres';
import type pg from 'pg';
import { auditActor } from '../audit/entry.ts';
import type { AuditTrail } from '../audit/trail.ts';
import { withTransaction } from '../db/transaction.ts';
import { jsonBody } from '../http/body.ts';
import { jsonContent, keyAccess, openApiRoutes, PROBLEM_RESPONSES, problems } from '../http/openapi.ts';
import { ProblemError } from '../http/problem.ts';
import { storableText } from '../http/storable-text.ts';
import { createKey, listKeys, RoleSchema, revokeKey, ScopeError, ScopeSchema } from '../keys/keys.ts';

const KeyInfoSchema = z
  .object({
    id: z.uuid(),
    org_id: OrgIdSchema,
    name: z.string(),
    role: RoleSchema,
    scopes: z.array(ScopeSchema),
    key_prefix: z.string(),
    created_at: z.iso.datetime(),
    last_used_at: z.iso.datetime().nullable(),
    revoked_at: z.iso.datetime().nullable(),
  })
  .openapi('Key');

const CreatedKeySchema = KeyInfoSchema.extend({
  key: z.string().describe('The key itself: shown once, never stored'),
}).openapi('CreatedKey');

const CreateKeySchema = z
  .object({
    role: RoleSchema,
    name: storableText.max(200).optional(),
    scopes: z
      .array(ScopeSchema)
      .max(10)
      .optional()
      .describe('viewer keys only: `traces:read` reads decision traces'),
  })
  .strict()
  .openapi('CreateKeyRequest');

/** `POST/GET/DELETE /api/keys`: an org_admin manages its own org's keys; every change is audited. */
export function keyRoutes({ pool, audit }: { pool: pg.Pool; audit: AuditTrail }) {
  const app = openApiRoutes();

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/keys',
      operationId: 'createKey',
      tags: ['keys'],
      summary: 'Create a key in the caller org; the key is returned once',
      ...keyAccess(pool, ['org_admin'], jsonBody()),
      request: { body: { ...jsonContent(CreateKeySchema, 'The new key'), required: true } },
      responses: {
        201: jsonContent(CreatedKeySchema, 'Created'),
        ...PROBLEM_RESPONSES,
        ...problems(413, 415),
      },
    }),
    async (c) => {
      const principal = c.get('principal')!;
      const body = c.req.valid('json');
      const created = await withTransaction(pool, async (client) => {
        const key = await createKey(client, { orgId: principal.orgId, ...body }).catch((err: unknown) => {
          if (!(err instanceof ScopeError)) throw err;
          throw new ProblemError(400, err.message, { errors: [{ field: 'scopes', message: err.message }] });
        });
        await audit.append(client, {
          ...auditActor(c, principal),
          action: 'keys.create',
          target: key.id,
          details: { role: body.role, scopes: key.scopes },
        });
        return key;
      });
      return c.json(created as never, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/keys',
      operationId: 'listKeys',
      tags: ['keys'],
      summary: "The caller org's keys (never the keys themselves)",
      ...keyAccess(pool, ['org_admin']),
      responses: {
        200: jsonContent(z.object({ items: z.array(KeyInfoSchema) }), 'Keys'),
        ...PROBLEM_RESPONSES,
      },
    }),
    async (c) => c.json({ items: await listKeys(pool, c.get('principal')!.orgId) } as never, 200),
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/api/keys/{key_id}',
      operationId: 'revokeKey',
      tags: ['keys'],
      summary: 'Revoke a key of the caller org at once',
      ...keyAccess(pool, ['org_admin']),
      request: { params: z.object({ key_id: z.uuid() }) },
      responses: {
        200: jsonContent(KeyInfoSchema, 'Revoked'),
        ...PROBLEM_RESPONSES,
        ...problems(404),
      },
    }),
    async (c) => {
      const principal = c.get('principal')!;
      const { key_id } = c.req.valid('param');
      const revoked = await withTransaction(pool, async (client) => {
        const key = await revokeKey(client, key_id, principal.orgId);
        if (key)
          await audit.append(client, { ...auditActor(c, principal), action: 'keys.revoke', target: key_id });
        return key;
      });
      if (!revoked) throw new ProblemError(404, 'No such key in this org');
      return c.json(revoked as never, 200);
    },
  );
  return app;
}
