import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { Hono } from 'hono';
import { z } from 'zod';
import type { AlertChange } from '../alerts/events.ts';
import {
  AckBodySchema,
  AlertmanagerPayloadSchema,
  type AlertStatus,
  type AlertView,
  ListAlertsQuerySchema,
} from '../alerts/schema.ts';
import * as sql from '../alerts/sql.ts';
import type { AppDeps, AppEnv } from '../app.ts';
import { auditActor, writeAudit } from '../audit.ts';
import { withTransaction } from '../db/transaction.ts';
import { requireKey, requireRole } from '../http/auth.ts';
import { ProblemError, problemFromZod } from '../http/problem.ts';

const BEARER = /^Bearer\s+(\S+)$/i;
const AlertIdSchema = z.object({ alert_id: z.uuid() });

function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** The parsed JSON body; an empty body counts as `{}` (the ack note is optional). */
async function jsonBody(req: { text(): Promise<string> }): Promise<unknown> {
  const text = await req.text();
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new ProblemError(400, 'Invalid body: expected JSON', {
      errors: [{ field: 'body', message: 'not JSON' }],
    });
  }
}

function toJson(a: AlertView) {
  return {
    id: a.id,
    name: a.name,
    source: a.source,
    severity: a.severity,
    summary: a.summary,
    description: a.description,
    status: a.status,
    labels: a.labels,
    value: a.value,
    started_at: a.started_at,
    ended_at: a.ended_at,
    acknowledged_by: a.acknowledged_by,
    acknowledged_at: a.acknowledged_at,
    rule_id: a.rule_id,
    notification_status: a.notification_status,
  };
}

/**
 * Alerts of the caller's org, the Alertmanager webhook that feeds Prometheus alerts in, and acknowledgement.
 */
export function alertRoutes({ pool, alerting = {} }: AppDeps): Hono<AppEnv> {
  const publish = (change: AlertChange, orgId: string | null, alert: AlertView) => {
    if (orgId) alerting.events?.publish({ change, orgId, alert });
  };

  return new Hono<AppEnv>()
    .post('/api/telemetry/alerts/webhook', async (c) => {
      const expected = alerting.alertmanagerToken;
      if (!expected) {
        throw new ProblemError(
          403,
          'The Alertmanager webhook is disabled; set OBSERVATORY_ALERTMANAGER_TOKEN to enable it',
        );
      }
      const match = BEARER.exec(c.req.header('authorization') ?? '');
      if (!match || !sameSecret(match[1]!, expected)) {
        throw new ProblemError(
          401,
          'Send the Alertmanager token as "Authorization: Bearer <token>"',
          {},
          {
            'WWW-Authenticate': 'Bearer',
          },
        );
      }
      const parsed = AlertmanagerPayloadSchema.safeParse(await jsonBody(c.req));
      if (!parsed.success) throw problemFromZod(parsed.error, 'body');
      let stored = 0;
      for (const incoming of parsed.data.alerts) {
        const label = incoming.labels.org_id;
        const orgId = label && (await pool.query(sql.orgExists(label))).rowCount ? label : null;
        const { rows } = await pool.query<AlertView & { previous_status: AlertStatus | null }>(
          sql.upsertPrometheusAlert(randomUUID(), orgId, incoming),
        );
        const { previous_status: previous, ...alert } = rows[0]!;
        if (alert.status === 'resolved' && previous !== 'resolved') publish('resolved', orgId, alert);
        else if (alert.status === 'active' && previous === null) publish('opened', orgId, alert);
        stored++;
      }
      return c.json({ stored });
    })
    .get('/api/telemetry/alerts', requireKey(pool), requireRole('viewer', 'org_admin'), async (c) => {
      const query = ListAlertsQuerySchema.safeParse(c.req.query());
      if (!query.success) throw problemFromZod(query.error, 'query');
      const { rows } = await pool.query<AlertView>(sql.listAlerts(c.get('principal').orgId, query.data));
      return c.json({ alerts: rows.map(toJson) });
    })
    .post('/api/telemetry/alerts/:alert_id/ack', requireKey(pool), requireRole('org_admin'), async (c) => {
      const params = AlertIdSchema.safeParse(c.req.param());
      if (!params.success) throw problemFromZod(params.error, 'param');
      const body = AckBodySchema.safeParse(await jsonBody(c.req));
      if (!body.success) throw problemFromZod(body.error, 'body');
      const principal = c.get('principal');
      const alert = await withTransaction(pool, async (client) => {
        const { rows } = await client.query<AlertView>(
          sql.acknowledgeAlert(params.data.alert_id, principal.orgId, principal.keyId),
        );
        const acked = rows[0];
        if (acked) {
          await client.query(
            sql.insertAcknowledgement(
              randomUUID(),
              acked.id,
              principal.orgId,
              principal.keyId,
              body.data.note ?? null,
            ),
          );
          await writeAudit(client, {
            ...auditActor(c, principal),
            action: 'alert.ack',
            target: acked.id,
            details: { name: acked.name, status: acked.status, note: body.data.note !== undefined },
          });
        }
        return acked;
      });
      if (!alert) throw new ProblemError(404, `No alert ${params.data.alert_id} in this org`);
      publish('acknowledged', principal.orgId, alert);
      return c.json(toJson(alert));
    });
}
