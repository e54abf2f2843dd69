import type { OpenAPIHono } from '@hono/zod-openapi';
import { Scalar } from '@scalar/hono-api-reference';
import type { AppEnv } from '../app.ts';
import { BEARER } from '../http/openapi.ts';

// Routes written as plain Hono sub-apps (their bodies are validated by their own zod schemas): listed here so the
// document names every route the service serves.
const PLAIN_ROUTES: [
  method: 'get' | 'post' | 'put' | 'delete',
  path: string,
  summary: string,
  secured: boolean,
][] = [
  ['get', '/health', 'Service and database health', false],
  ['get', '/metrics', 'Prometheus metrics (bearer OBSERVATORY_METRICS_TOKEN when set)', false],
  ['get', '/api/whoami', 'The org and role of the calling key (viewer, org_admin)', true],
  ['post', '/v1/traces', 'OTLP/HTTP trace ingest (protobuf or JSON, gzip); ingest key', true],
  ['post', '/api/telemetry/events', 'Ingest event envelopes as JSON (one or an array); ingest key', true],
  ['post', '/api/telemetry/export', 'Start an export job (org_admin)', true],
  ['get', '/api/telemetry/exports', "The org's export jobs, newest first (org_admin)", true],
  ['get', '/api/telemetry/export/{job_id}', 'An export job, with a signed download URL once completed', true],
  [
    'get',
    '/api/telemetry/export/{job_id}/download',
    'Download an export file; the signed URL is the credential',
    false,
  ],
  [
    'get',
    '/api/telemetry/stream',
    'Server-Sent Events of new events and alert changes; Last-Event-ID resumes',
    true,
  ],
  ['post', '/api/session', 'Exchange a viewer or org_admin key for an HttpOnly console session cookie', true],
  ['delete', '/api/session', 'Sign the console out', false],
  ['get', '/api/console/config', 'Settings the web console needs (trace link template)', false],
  ['post', '/api/telemetry/alerts/webhook', 'Alertmanager webhook (v4 payload; its own bearer token)', true],
  ['get', '/api/telemetry/alerts', "The org's alerts (viewer, org_admin)", true],
  ['post', '/api/telemetry/alerts/{alert_id}/ack', 'Acknowledge an alert (org_admin)', true],
  ['get', '/api/telemetry/alert-rules', "The org's built-in alert rules (org_admin)", true],
  ['post', '/api/telemetry/alert-rules', 'Create a built-in alert rule (org_admin)', true],
  ['get', '/api/telemetry/alert-rules/{rule_id}', 'One alert rule (org_admin)', true],
  ['put', '/api/telemetry/alert-rules/{rule_id}', 'Replace an alert rule (org_admin)', true],
  ['delete', '/api/telemetry/alert-rules/{rule_id}', 'Delete an alert rule (org_admin)', true],
];

/** `GET /openapi.json` (OpenAPI 3.1, generated from the zod schemas) and interactive docs at `GET /docs`. */
export function registerDocs(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer' });
  for (const [method, path, summary, secured] of PLAIN_ROUTES) {
    app.openAPIRegistry.registerPath({
      method,
      path,
      summary,
      ...(secured ? { security: BEARER } : {}),
      responses: { 200: { description: 'OK' } },
    });
  }
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Observatory API',
      version: '0.1.0',
      description:
        'Telemetry for AI inference: ingest, query, export and alert. Errors are RFC 9457 problem+json.',
    },
  });
  app.get('/docs', Scalar({ url: '/openapi.json', pageTitle: 'Observatory API' }));
}
