import { OpenAPIHono } from '@hono/zod-openapi';
import { type AiMetrics, BodyDecoder, type Ingest, type LogIngest } from '@observatory/exporter-postgres';
import { HTTPException } from 'hono/http-exception';
import type pg from 'pg';
import type { AlertingOptions } from './alerts/options.ts';
import { AuditTrail } from './audit/trail.ts';
import { isConnectionError } from './db/connection-errors.ts';
import { createDecisions, type Decisions } from './decisions/decisions.ts';
import type { ExportService } from './exports/service.ts';
import type { AppEnv } from './http/app-env.ts';
import { BodyBudget } from './http/body-budget.ts';
import { otlpErrorBodies } from './http/otlp-errors.ts';
import { ProblemError, problemResponse } from './http/problem.ts';
import { readableQuery } from './http/query-text.ts';
import { requestLog } from './http/request-log.ts';
import type { Logger } from './log.ts';
import { alertRuleRoutes } from './routes/alert-rules.ts';
import { alertRoutes } from './routes/alerts.ts';
import { auditRoutes } from './routes/audit.ts';
import { type ConsoleOptions, consoleRoutes } from './routes/console.ts';
import { decisionTraceRoutes } from './routes/decision-traces.ts';
import { registerDocs } from './routes/docs.ts';
import { eventRoutes } from './routes/events.ts';
import { exportRoutes } from './routes/exports.ts';
import { healthRoutes } from './routes/health.ts';
import { ingestEventRoutes } from './routes/ingest-events.ts';
import { keyRoutes } from './routes/keys.ts';
import { logRoutes } from './routes/logs.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { modelVersionRoutes } from './routes/model-versions.ts';
import { otlpRoutes } from './routes/otlp.ts';
import { otlpLogRoutes } from './routes/otlp-logs.ts';
import { sessionRoutes } from './routes/session.ts';
import { settingsRoutes } from './routes/settings.ts';
import { telemetryRoutes } from './routes/telemetry.ts';
import { traceRoutes } from './routes/traces.ts';
import { whoamiRoutes } from './routes/whoami.ts';
import type { StreamHub } from './stream/hub.ts';
import { type StreamOptions, streamRoutes } from './stream/sse-route.ts';

export interface AppDeps {
  pool: pg.Pool;
  /** Where list, aggregate and CSV reads go (`DATABASE_READ_URL`); the primary `pool` when not given. */
  readPool?: pg.Pool;
  logger: Logger;
  /** Writes the audit chains; without one (tests, benchmarks) a trail with a throwaway key. */
  audit?: AuditTrail;
  alerting?: AlertingOptions | undefined;
  /** Export jobs; their routes are served only when given. */
  exports?: ExportService;
  /**
   * Data keys and capture policies, shared with the `ingest` given (its `content`); without them (tests,
   * benchmarks) a set with a throwaway master key.
   */
  decisions?: Decisions;
  /** The write path; the OTLP receiver and JSON ingest are served only when given. */
  ingest?: Ingest;
  /** The log write path; `POST /v1/logs` is served only when given (with `ingest`). */
  logs?: LogIngest;
  /** Request-body bytes held in memory at once across all requests (OBSERVATORY_MAX_BUFFERED_BYTES). */
  maxBufferedBytes?: number;
  metrics?: AiMetrics;
  /** Bearer token `/metrics` requires; open when unset. */
  metricsToken?: string | undefined;
  /** The live stream; `GET /api/telemetry/stream` is served only when given. */
  hub?: StreamHub;
  stream?: StreamOptions;
  console?: ConsoleOptions;
  /** Whether a TLS-terminating proxy's X-Forwarded-Proto is believed (`OBSERVATORY_TRUST_PROXY`). */
  trustProxy?: boolean;
  /**
   * How long an events page's capped count may run before `total` becomes the planner's estimate (default
   * `COUNT_TIME_BUDGET_MS`). Tests that assert exact totals raise it, so their answer does not depend on the load.
   */
  eventCountBudgetMs?: number;
}

export function createApp(deps: AppDeps): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  app.use(requestLog(deps.logger));
  app.use(readableQuery());
  const { pool, alerting = {} } = deps;
  const reads = deps.readPool ?? pool;
  const audit = deps.audit ?? AuditTrail.ephemeral();
  const decisions = deps.decisions ?? createDecisions(pool);
  app.route('/', healthRoutes({ pool, reads }));
  app.route('/', whoamiRoutes({ pool }));
  app.route(
    '/',
    alertRoutes({ pool, audit, alertmanagerToken: alerting.alertmanagerToken, events: alerting.events }),
  );
  app.route(
    '/',
    alertRuleRoutes({
      pool,
      audit,
      allowPrivateWebhooks: alerting.allowPrivateWebhooks,
      emailEnabled: alerting.emailEnabled,
    }),
  );
  if (deps.exports) {
    app.route('/', exportRoutes({ pool, audit, exports: deps.exports, trustProxy: deps.trustProxy }));
  }
  if (deps.ingest) {
    const bodies = {
      pool,
      ingest: deps.ingest,
      budget: new BodyBudget(deps.maxBufferedBytes),
      decoder: new BodyDecoder(),
    };
    app.use('/v1/*', otlpErrorBodies());
    app.route('/', otlpRoutes(bodies));
    if (deps.logs) app.route('/', otlpLogRoutes({ ...bodies, logs: deps.logs }));
    app.route('/', ingestEventRoutes(bodies));
  }
  if (deps.metrics) app.route('/', metricsRoutes({ metrics: deps.metrics, token: deps.metricsToken }));
  app.route('/', eventRoutes({ pool, reads, countBudgetMs: deps.eventCountBudgetMs }));
  app.route('/', telemetryRoutes({ pool, reads }));
  app.route('/', traceRoutes({ pool, reads }));
  app.route('/', logRoutes({ pool, reads }));
  app.route('/', keyRoutes({ pool, audit }));
  app.route('/', auditRoutes({ pool }));
  app.route('/', settingsRoutes({ pool, audit, onChange: (orgId) => decisions.policies.invalidate(orgId) }));
  app.route('/', decisionTraceRoutes({ pool, audit, decisions }));
  app.route('/', modelVersionRoutes({ pool, audit }));
  app.route('/', sessionRoutes({ pool, trustProxy: deps.trustProxy }));
  if (deps.hub) app.route('/', streamRoutes({ pool, hub: deps.hub, logger: deps.logger }, deps.stream));
  app.route('/', consoleRoutes(deps.console));
  registerDocs(app);

  app.notFound((c) =>
    problemResponse(c, new ProblemError(404, `No route for ${c.req.method} ${c.req.path}`)),
  );
  app.onError((err, c) => {
    if (err instanceof ProblemError) {
      if (err.status >= 500 && err.cause) c.get('log')?.error({ err: err.cause }, err.message);
      return problemResponse(c, err);
    }
    if (isConnectionError(err)) {
      // A lost or unobtainable connection fails this request only; the next one gets a fresh connection.
      c.get('log')?.warn({ err: err.message }, 'database connection unavailable');
      return problemResponse(
        c,
        new ProblemError(503, 'The database is unavailable; retry later', {}, { 'Retry-After': '2' }),
      );
    }
    // Hono's own client errors (a malformed JSON body in a validated route): the caller's mistake, not a crash.
    if (err instanceof HTTPException && err.status < 500) {
      return problemResponse(c, new ProblemError(err.status, err.message));
    }
    c.get('log')?.error({ err }, 'unhandled error');
    return problemResponse(
      c,
      new ProblemError(500, 'Internal error; see the service log for this request id'),
    );
  });
  return app;
}
