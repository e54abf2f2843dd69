import { createRoute } from '@hono/zod-openapi';
import type pg from 'pg';
import { auditActor } from '../audit/entry.ts';
import type { AuditTrail } from '../audit/trail.ts';
import type { Decisions } from '../decisions/decisions.ts';
import { readDecisionTrace } from '../decisions/read-trace.ts';
import { DecisionTraceSchema, TraceParamsSchema } from '../decisions/schemas.ts';
import {
  jsonContent,
  keyOrScopeAccess,
  openApiRoutes,
  PROBLEM_RESPONSES,
  problems,
} from '../http/openapi.ts';
import { ProblemError } from '../http/problem.ts';

/**
 * `GET /api/telemetry/events/{id}/trace`: an event's captured content, decrypted (org_admin, or a viewer key with
 * scope `traces:read`). Every read that returns content is audited (`trace.read`, the event id).
 */
export function decisionTraceRoutes({
  pool,
  audit,
  decisions,
}: {
  pool: pg.Pool;
  audit: AuditTrail;
  decisions: Decisions;
}) {
  return openApiRoutes().openapi(
    createRoute({
      method: 'get',
      path: '/api/telemetry/events/{id}/trace',
      operationId: 'getDecisionTrace',
      tags: ['events'],
      summary:
        "An event's captured input and output, rationale and confidence, decrypted; audited (org_admin, or viewer with scope traces:read)",
      ...keyOrScopeAccess(pool, ['org_admin'], 'traces:read'),
      request: { params: TraceParamsSchema },
      responses: {
        200: jsonContent(DecisionTraceSchema, 'The decision trace'),
        ...PROBLEM_RESPONSES,
        ...problems(404),
      },
    }),
    async (c) => {
      const principal = c.get('principal')!;
      const { id } = c.req.valid('param');
      const trace = await readDecisionTrace(pool, decisions.keys, principal.orgId, id);
      if (!trace) throw new ProblemError(404, `No captured content for event ${id} in this org`);
      await audit.record(pool, {
        ...auditActor(c, principal),
        action: 'trace.read',
        target: id,
        details: { event_id: id, model_name: trace.model_name },
      });
      return c.json(trace, 200);
    },
  );
}
