import { createRoute } from '@hono/zod-openapi';
import type pg from 'pg';
import { auditActor } from '../audit/entry.ts';
import type { AuditTrail } from '../audit/trail.ts';
import { withTransaction } from '../db/transaction.ts';
import { jsonBody } from '../http/body.ts';
import { jsonContent, keyAccess, openApiRoutes, PROBLEM_RESPONSES, problems } from '../http/openapi.ts';
import { ProblemError } from '../http/problem.ts';
import { modelTimelines } from '../model-versions/registry.ts';
import {
  DeploymentInputSchema,
  DeploymentSchema,
  ModelVersionsQuerySchema,
  ModelVersionsResponseSchema,
} from '../model-versions/schemas.ts';
import { recordDeployment } from '../model-versions/store.ts';

const MAX_CONFIGURATION_BYTES = 16 * 1024;

/**
 * `GET /api/telemetry/model-versions` (viewer, org_admin): the provenance timeline; `POST` (org_admin) records a
 * deployment, audited.
 */
export function modelVersionRoutes({ pool, audit }: { pool: pg.Pool; audit: AuditTrail }) {
  const common = { tags: ['model-versions'], path: '/api/telemetry/model-versions' };
  return openApiRoutes()
    .openapi(
      createRoute({
        ...common,
        method: 'get',
        operationId: 'listModelVersions',
        summary:
          'Versions of each model with first/last seen and figures, deployments, and each change with before/after figures (viewer, org_admin)',
        ...keyAccess(pool, ['viewer', 'org_admin']),
        request: { query: ModelVersionsQuerySchema },
        responses: { 200: jsonContent(ModelVersionsResponseSchema, 'The timeline'), ...PROBLEM_RESPONSES },
      }),
      async (c) => {
        const { model_name } = c.req.valid('query');
        const models = await modelTimelines(pool, c.get('principal')!.orgId, model_name);
        return c.json({ models }, 200);
      },
    )
    .openapi(
      createRoute({
        ...common,
        method: 'post',
        operationId: 'recordModelDeployment',
        summary: 'Record that a version of a model was deployed; audited (org_admin)',
        ...keyAccess(pool, ['org_admin'], jsonBody()),
        request: { body: { ...jsonContent(DeploymentInputSchema, 'The deployment'), required: true } },
        responses: {
          201: jsonContent(DeploymentSchema, 'Recorded'),
          ...PROBLEM_RESPONSES,
          ...problems(413, 415),
        },
      }),
      async (c) => {
        const principal = c.get('principal')!;
        const body = c.req.valid('json');
        if (
          body.configuration &&
          Buffer.byteLength(JSON.stringify(body.configuration)) > MAX_CONFIGURATION_BYTES
        ) {
          const message = `at most ${MAX_CONFIGURATION_BYTES} bytes as JSON`;
          throw new ProblemError(400, `configuration: ${message}`, {
            errors: [{ field: 'configuration', message }],
          });
        }
        const deployment = await withTransaction(pool, async (client) => {
          const recorded = await recordDeployment(client, principal.orgId, body, principal.keyId);
          await audit.append(client, {
            ...auditActor(c, principal),
            action: 'model.deploy',
            target: recorded.id,
            details: { model_name: recorded.model_name, version: recorded.version },
          });
          return recorded;
        });
        return c.json(deployment, 201);
      },
    );
}
