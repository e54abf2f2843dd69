import { randomUUID } from 'node:crypto';
import { createRoute, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type pg from 'pg';
import type { AlertChange, AlertEvents } from '../alerts/events.ts';
import {
  AckBodySchema,
  AlertmanagerPayloadSchema,
  type AlertStatus,
  AlertStatusSchema,
  type AlertView,
  ListAlertsQuerySchema,
} from '../alerts/schema.ts';
import * as sql from '../alerts/sql.ts';
import { auditActor } from '../audit/entry.ts';
import type { AuditTrail } from '../audit/trail.ts';
import { withTransaction } from '../db/transaction.ts';
import { requireBearerToken } from '../http/bearer-token.ts';
import { jsonBody } from '../http/body.ts';
import {
  BEARER,
  jsonContent,
  keyAccess,
  named,
  openApiRoutes,
  PROBLEM_RESPONSES,
  problems,
} from '../http/openapi.ts';
import { ProblemError } from '../http/problem.ts';

const AlertSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    source: z.enum(['prometheus', 'builtin']),
    severity: z.string(),
    summary: z.string().nullable(),
    description: z.string().nullable(),
    status: AlertStatusSchema,
    labels: z.record(z.string(), z.string()),
    value: z.number().nullable(),
    started_at: z.iso.datetime(),
    ended_at: z.iso.datetime().nullable(),
    acknowledged_by: z.string().nullable().describe('id of the key that acknowledged it'),
    acknowledged_at: z.iso.datetime().nullable(),
    rule_id: z.uuid().nullable(),
    notification_status: z.enum(['pending', 'delivered', 'failed']).nullable(),
  })
  .openapi('Alert');

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

/** The webhook's own credential: Alertmanager's token, refused outright while none is configured. */
function requireAlertmanagerToken(token: string | undefined): MiddlewareHandler {
  if (token) return requireBearerToken(token, 'alertmanager');
  return async function webhookDisabledMiddleware() {
    throw new ProblemError(
      403,
      'The Alertmanager webhook is disabled; set OBSERVATORY_ALERTMANAGER_TOKEN to enable it',
    );
  };
}

export interface AlertRoutesDeps {
  pool: pg.Pool;
  audit: AuditTrail;
  /** Bearer token Alertmanager must send to the webhook; without it the webhook refuses every call. */
  alertmanagerToken?: string | undefined;
  /** Receives every alert change; the live stream subscribes here. */
  events?: AlertEvents | undefined;
}

/**
 * Alerts of the caller's org, the Alertmanager webhook that feeds Prometheus alerts in, and acknowledgement.
 */
export function alertRoutes({ pool, audit, alertmanagerToken, events }: AlertRoutesDeps) {
  const publish = (change: AlertChange, orgId: string | null, alert: AlertView) => {
    if (orgId) events?.publish({ change, orgId, alert });
  };

  const webhook = createRoute({
    method: 'post',
    path: '/api/telemetry/alerts/webhook',
    operationId: 'receiveAlertmanagerWebhook',
    tags: ['alerts'],
    summary: 'Alertmanager webhook (v4 payload; bearer OBSERVATORY_ALERTMANAGER_TOKEN)',
    security: BEARER,
    middleware: [requireAlertmanagerToken(alertmanagerToken), jsonBody()],
    request: {
      body: {
        ...jsonContent(
          named('AlertmanagerPayload', AlertmanagerPayloadSchema),
          'Alertmanager webhook payload',
        ),
        required: true,
      },
    },
    responses: {
      200: jsonContent(z.object({ stored: z.number().int() }), 'How many alerts were stored'),
      ...PROBLEM_RESPONSES,
      ...problems(413, 415),
    },
  });

  const list = createRoute({
    method: 'get',
    path: '/api/telemetry/alerts',
    operationId: 'listAlerts',
    tags: ['alerts'],
    summary: "The org's alerts (viewer, org_admin)",
    ...keyAccess(pool, ['viewer', 'org_admin']),
    request: { query: ListAlertsQuerySchema },
    responses: {
      200: jsonContent(z.object({ alerts: z.array(AlertSchema) }), 'Alerts, newest first'),
      ...PROBLEM_RESPONSES,
    },
  });

  const ack = createRoute({
    method: 'post',
    path: '/api/telemetry/alerts/{alert_id}/ack',
    operationId: 'acknowledgeAlert',
    tags: ['alerts'],
    summary: 'Acknowledge an alert (org_admin)',
    ...keyAccess(pool, ['org_admin'], jsonBody()),
    request: {
      params: z.object({ alert_id: z.uuid() }),
      body: jsonContent(named('AlertAcknowledgement', AckBodySchema), 'An optional note'),
    },
    responses: {
      200: jsonContent(AlertSchema, 'The acknowledged alert'),
      ...PROBLEM_RESPONSES,
      ...problems(404, 413, 415),
    },
  });

  return openApiRoutes()
    .openapi(webhook, async (c) => {
      let stored = 0;
      for (const incoming of c.req.valid('json').alerts) {
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
      return c.json({ stored }, 200);
    })
    .openapi(list, async (c) => {
      const { rows } = await pool.query<AlertView>(
        sql.listAlerts(c.get('principal')!.orgId, c.req.valid('query')),
      );
      return c.json({ alerts: rows.map(toJson) } as never, 200);
    })
    .openapi(ack, async (c) => {
      const { alert_id } = c.req.valid('param');
      const { note } = c.req.valid('json');
      const principal = c.get('principal')!;
      const alert = await withTransaction(pool, async (client) => {
        const { rows } = await client.query<AlertView>(
          sql.acknowledgeAlert(alert_id, principal.orgId, principal.keyId),
        );
        const acked = rows[0];
        if (acked) {
          await client.query(
            sql.insertAcknowledgement(randomUUID(), acked.id, principal.orgId, principal.keyId, note ?? null),
          );
          await audit.append(client, {
            ...auditActor(c, principal),
            action: 'alert.ack',
            target: acked.id,
            details: { name: acked.name, status: acked.status, note: note !== undefined },
          });
        }
        return acked;
      });
      if (!alert) throw new ProblemError(404, `No alert ${alert_id} in this org`);
      publish('acknowledged', principal.orgId, alert);
      return c.json(toJson(alert) as never, 200);
    });
}
