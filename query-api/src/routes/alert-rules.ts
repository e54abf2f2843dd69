import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import { z } from 'zod';
import { type AlertRule, type AlertRuleInput, AlertRuleInputSchema } from '../alerts/schema.ts';
import * as sql from '../alerts/sql.ts';
import { assertWebhookUrl, WebhookUrlError } from '../alerts/webhook-url.ts';
import type { AppDeps, AppEnv } from '../app.ts';
import { auditActor, writeAudit } from '../audit.ts';
import { requireKey, requireRole } from '../http/auth.ts';
import { ProblemError, problemFromZod } from '../http/problem.ts';

const RuleIdSchema = z.object({ rule_id: z.uuid() });

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string }).code === '23505';
}

/** CRUD for the built-in engine's rules of the caller's org (org_admin only). */
export function alertRuleRoutes({ pool, alerting = {} }: AppDeps): Hono<AppEnv> {
  async function parseRule(raw: unknown): Promise<AlertRuleInput> {
    const parsed = AlertRuleInputSchema.safeParse(raw);
    if (!parsed.success) throw problemFromZod(parsed.error, 'body');
    for (const [i, channel] of parsed.data.channels.entries()) {
      try {
        await assertWebhookUrl(channel.url, alerting.allowPrivateWebhooks ?? false);
      } catch (err) {
        if (!(err instanceof WebhookUrlError)) throw err;
        const field = `channels.${i}.url`;
        throw new ProblemError(400, `Invalid body: ${field}: ${err.message}`, {
          errors: [{ field, message: err.message }],
        });
      }
    }
    return parsed.data;
  }

  async function body(c: { req: { json(): Promise<unknown> } }): Promise<unknown> {
    try {
      return await c.req.json();
    } catch {
      throw new ProblemError(400, 'Invalid body: expected JSON', {
        errors: [{ field: 'body', message: 'not JSON' }],
      });
    }
  }

  function ruleId(param: Record<string, string>): string {
    const parsed = RuleIdSchema.safeParse(param);
    if (!parsed.success) throw problemFromZod(parsed.error, 'param');
    return parsed.data.rule_id;
  }

  const admin = [requireKey(pool), requireRole('org_admin')] as const;
  const conflict = (name: string) =>
    new ProblemError(409, `A rule named "${name}" already exists in this org`);

  return new Hono<AppEnv>()
    .get('/api/telemetry/alert-rules', ...admin, async (c) => {
      const { rows } = await pool.query<AlertRule>(sql.listRules(c.get('principal').orgId));
      return c.json({ rules: rows });
    })
    .post('/api/telemetry/alert-rules', ...admin, async (c) => {
      const rule = await parseRule(await body(c));
      const principal = c.get('principal');
      try {
        const { rows } = await pool.query<AlertRule>(sql.insertRule(randomUUID(), principal.orgId, rule));
        await writeAudit(pool, {
          ...auditActor(c, principal),
          action: 'alert_rule.create',
          target: rows[0]!.id,
          details: { name: rule.name, metric: rule.metric },
        });
        return c.json(rows[0]!, 201);
      } catch (err) {
        if (isUniqueViolation(err)) throw conflict(rule.name);
        throw err;
      }
    })
    .get('/api/telemetry/alert-rules/:rule_id', ...admin, async (c) => {
      const id = ruleId(c.req.param());
      const { rows } = await pool.query<AlertRule>(sql.getRule(id, c.get('principal').orgId));
      if (!rows[0]) throw new ProblemError(404, `No alert rule ${id} in this org`);
      return c.json(rows[0]);
    })
    .put('/api/telemetry/alert-rules/:rule_id', ...admin, async (c) => {
      const id = ruleId(c.req.param());
      const rule = await parseRule(await body(c));
      const principal = c.get('principal');
      try {
        const { rows } = await pool.query<AlertRule>(sql.updateRule(id, principal.orgId, rule));
        if (!rows[0]) throw new ProblemError(404, `No alert rule ${id} in this org`);
        await writeAudit(pool, {
          ...auditActor(c, principal),
          action: 'alert_rule.update',
          target: id,
          details: { name: rule.name, metric: rule.metric },
        });
        return c.json(rows[0]);
      } catch (err) {
        if (isUniqueViolation(err)) throw conflict(rule.name);
        throw err;
      }
    })
    .delete('/api/telemetry/alert-rules/:rule_id', ...admin, async (c) => {
      const id = ruleId(c.req.param());
      const principal = c.get('principal');
      const { rowCount } = await pool.query(sql.deleteRule(id, principal.orgId));
      if (!rowCount) throw new ProblemError(404, `No alert rule ${id} in this org`);
      await writeAudit(pool, { ...auditActor(c, principal), action: 'alert_rule.delete', target: id });
      return c.body(null, 204);
    });
}
