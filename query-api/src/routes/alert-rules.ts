import { randomUUID } from 'node:crypto';
import { createRoute, z } from '@hono/zod-openapi';
import { OrgIdSchema } from '@observatory/exporter-postgres';
import type pg from 'pg';
import { type AlertRule, type AlertRuleInput, AlertRuleInputSchema } from '../alerts/schema.ts';
import * as sql from '../alerts/sql.ts';
import { assertWebhookUrl, WebhookUrlError } from '../alerts/webhook-url.ts';
import { auditActor } from '../audit/entry.ts';
import type { AuditTrail } from '../audit/trail.ts';
import { withTransaction } from '../db/transaction.ts';
import { jsonBody } from '../http/body.ts';
import {
  jsonContent,
  keyAccess,
  named,
  openApiRoutes,
  PROBLEM_RESPONSES,
  problems,
} from '../http/openapi.ts';
import { ProblemError } from '../http/problem.ts';

const AlertRuleInputJsonSchema = named('AlertRuleInput', AlertRuleInputSchema);

const AlertRuleSchema = named(
  'AlertRule',
  AlertRuleInputSchema.required().extend({
    id: z.uuid(),
    org_id: OrgIdSchema,
    last_evaluated_at: z.iso.datetime().nullable(),
    last_value: z.number().nullable(),
    last_fired_at: z.iso.datetime().nullable(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  }),
);

const RuleIdParams = z.object({ rule_id: z.uuid() });

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string }).code === '23505';
}

export interface AlertRuleRoutesDeps {
  pool: pg.Pool;
  audit: AuditTrail;
  /** Lets rule channels point at loopback/private addresses (tests, single-host installs). */
  allowPrivateWebhooks?: boolean | undefined;
  /** Whether email channels can be delivered (OBSERVATORY_SMTP_URL is set). */
  emailEnabled?: boolean | undefined;
}

/** CRUD for the built-in engine's rules of the caller's org (org_admin only). */
export function alertRuleRoutes({
  pool,
  audit,
  allowPrivateWebhooks = false,
  emailEnabled = false,
}: AlertRuleRoutesDeps) {
  /**
   * Beyond the schema: each channel's URL must resolve to an address the service may post to, and email needs
   * an SMTP server to go through.
   */
  async function assertChannels(rule: AlertRuleInput): Promise<void> {
    for (const [i, channel] of rule.channels.entries()) {
      if (channel.type === 'email') {
        if (emailEnabled) continue;
        const field = `channels.${i}.type`;
        const message = 'email channels need OBSERVATORY_SMTP_URL to be set on the service';
        throw new ProblemError(400, `Invalid body: ${field}: ${message}`, { errors: [{ field, message }] });
      }
      try {
        await assertWebhookUrl(channel.url, allowPrivateWebhooks);
      } catch (err) {
        if (!(err instanceof WebhookUrlError)) throw err;
        const field = `channels.${i}.url`;
        throw new ProblemError(400, `Invalid body: ${field}: ${err.message}`, {
          errors: [{ field, message: err.message }],
        });
      }
    }
  }

  const ruleBody = { body: { ...jsonContent(AlertRuleInputJsonSchema, 'The rule'), required: true } };
  const conflict = (name: string) =>
    new ProblemError(409, `A rule named "${name}" already exists in this org`);
  const notFound = (id: string) => new ProblemError(404, `No alert rule ${id} in this org`);
  const common = { tags: ['alert rules'] };

  const list = createRoute({
    ...common,
    method: 'get',
    path: '/api/telemetry/alert-rules',
    operationId: 'listAlertRules',
    summary: "The org's built-in alert rules (org_admin)",
    ...keyAccess(pool, ['org_admin']),
    responses: {
      200: jsonContent(z.object({ rules: z.array(AlertRuleSchema) }), 'The rules'),
      ...PROBLEM_RESPONSES,
    },
  });
  const create = createRoute({
    ...common,
    method: 'post',
    path: '/api/telemetry/alert-rules',
    operationId: 'createAlertRule',
    summary: 'Create a built-in alert rule (org_admin)',
    ...keyAccess(pool, ['org_admin'], jsonBody()),
    request: ruleBody,
    responses: {
      201: jsonContent(AlertRuleSchema, 'Created'),
      ...PROBLEM_RESPONSES,
      ...problems(409, 413, 415),
    },
  });
  const get = createRoute({
    ...common,
    method: 'get',
    path: '/api/telemetry/alert-rules/{rule_id}',
    operationId: 'getAlertRule',
    summary: 'One alert rule (org_admin)',
    ...keyAccess(pool, ['org_admin']),
    request: { params: RuleIdParams },
    responses: { 200: jsonContent(AlertRuleSchema, 'The rule'), ...PROBLEM_RESPONSES, ...problems(404) },
  });
  const replace = createRoute({
    ...common,
    method: 'put',
    path: '/api/telemetry/alert-rules/{rule_id}',
    operationId: 'replaceAlertRule',
    summary: 'Replace an alert rule (org_admin)',
    ...keyAccess(pool, ['org_admin'], jsonBody()),
    request: { params: RuleIdParams, ...ruleBody },
    responses: {
      200: jsonContent(AlertRuleSchema, 'Replaced'),
      ...PROBLEM_RESPONSES,
      ...problems(404, 409, 413, 415),
    },
  });
  const remove = createRoute({
    ...common,
    method: 'delete',
    path: '/api/telemetry/alert-rules/{rule_id}',
    operationId: 'deleteAlertRule',
    summary: 'Delete an alert rule (org_admin)',
    ...keyAccess(pool, ['org_admin']),
    request: { params: RuleIdParams },
    responses: { 204: { description: 'Deleted' }, ...PROBLEM_RESPONSES, ...problems(404) },
  });

  return openApiRoutes()
    .openapi(list, async (c) => {
      const { rows } = await pool.query<AlertRule>(sql.listRules(c.get('principal')!.orgId));
      return c.json({ rules: rows } as never, 200);
    })
    .openapi(create, async (c) => {
      const rule = c.req.valid('json');
      await assertChannels(rule);
      const principal = c.get('principal')!;
      try {
        const created = await withTransaction(pool, async (client) => {
          const { rows } = await client.query<AlertRule>(sql.insertRule(randomUUID(), principal.orgId, rule));
          await audit.append(client, {
            ...auditActor(c, principal),
            action: 'alert_rule.create',
            target: rows[0]!.id,
            details: { name: rule.name, metric: rule.metric },
          });
          return rows[0]!;
        });
        return c.json(created as never, 201);
      } catch (err) {
        if (isUniqueViolation(err)) throw conflict(rule.name);
        throw err;
      }
    })
    .openapi(get, async (c) => {
      const { rule_id } = c.req.valid('param');
      const { rows } = await pool.query<AlertRule>(sql.getRule(rule_id, c.get('principal')!.orgId));
      if (!rows[0]) throw notFound(rule_id);
      return c.json(rows[0] as never, 200);
    })
    .openapi(replace, async (c) => {
      const { rule_id } = c.req.valid('param');
      const rule = c.req.valid('json');
      await assertChannels(rule);
      const principal = c.get('principal')!;
      try {
        const updated = await withTransaction(pool, async (client) => {
          const { rows } = await client.query<AlertRule>(sql.updateRule(rule_id, principal.orgId, rule));
          if (!rows[0]) throw notFound(rule_id);
          await audit.append(client, {
            ...auditActor(c, principal),
            action: 'alert_rule.update',
            target: rule_id,
            details: { name: rule.name, metric: rule.metric },
          });
          return rows[0];
        });
        return c.json(updated as never, 200);
      } catch (err) {
        if (isUniqueViolation(err)) throw conflict(rule.name);
        throw err;
      }
    })
    .openapi(remove, async (c) => {
      const { rule_id } = c.req.valid('param');
      const principal = c.get('principal')!;
      await withTransaction(pool, async (client) => {
        const { rowCount } = await client.query(sql.deleteRule(rule_id, principal.orgId));
        if (!rowCount) throw notFound(rule_id);
        await audit.append(client, {
          ...auditActor(c, principal),
          action: 'alert_rule.delete',
          target: rule_id,
        });
      });
      return c.body(null, 204);
    });
}
