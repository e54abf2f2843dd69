import type { Server } from 'node:http';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import {
  createAiMetrics,
  ensurePartitions,
  Ingest,
  LogIngest,
  loadPriceTable,
} from '@observatory/exporter-postgres';
import type pg from 'pg';
import { Mailer } from './alerts/email.ts';
import { type RunningRuleEngine, startRuleEngine } from './alerts/engine.ts';
import { AlertEvents } from './alerts/events.ts';
import { createApp } from './app.ts';
import { AuditTrail } from './audit/trail.ts';
import { bootstrapDefaultOrg } from './bootstrap.ts';
import { bufferSinks, openConfiguredBuffer, runBufferWriters } from './buffer/service.ts';
import { type Config, ConfigError } from './config.ts';
import { openDatabase } from './db/database.ts';
import { registerReplicaLagMetric } from './db/replica-lag.ts';
import { createDecisions } from './decisions/decisions.ts';
import { resolveMasterKeys } from './decisions/master-key.ts';
import { startDriftRunner } from './drift/runner.ts';
import { createExportService, createExportWorker } from './exports/service.ts';
import type { ExportWorker } from './exports/worker.ts';
import { createLogger, type Logger } from './log.ts';
import { archiveRangeFor } from './retention/archive-range.ts';
import { startRetentionSchedule } from './retention/schedule.ts';
import { startRollupCompactor } from './rollups/compactor.ts';
import { resolveAuditKey, resolvePseudonymKey } from './secrets.ts';
import { startSelfTracing } from './self-tracing.ts';
import { StreamHub } from './stream/hub.ts';
import { publishAlert, publishCommitted, publishLogs } from './stream/publish.ts';

// Months ahead are created at start-up; re-checking every few hours keeps a long-running service ahead too.
const PARTITION_CHECK_MS = 6 * 60 * 60 * 1000;

function listen(
  fetch: (req: Request) => Response | Promise<Response>,
  host: string,
  port: number,
): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, hostname: host, port }) as Server;
    server.once('listening', () => resolve(server));
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new ConfigError(`Port ${port} is already in use on ${host}; set PORT to a free port`)
          : err,
      );
    });
  });
}

/** Waits for SIGTERM or SIGINT, once. */
function stopSignal(): Promise<string> {
  return new Promise((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
}

/**
 * `observatory serve`: migrate, then run the write path (ingest pipeline and metrics), the HTTP API, the export
 * worker, the alert rule engine and the daily drift runner; on SIGTERM/SIGINT stop taking requests, drain what is in flight, flush the
 * pipeline, and close the database. Resolves once everything has stopped.
 */
export async function runServe(config: Config): Promise<void> {
  const logger = createLogger(config.LOG_LEVEL);
  const selfTracing = startSelfTracing();
  if (selfTracing) logger.info({ endpoint: selfTracing.endpoint }, 'exporting Observatory’s own traces');
  // Before the database starts, so that an unreadable or invalid price file stops start-up with nothing to undo.
  const prices = loadPriceTable(config.OBSERVATORY_PRICES_FILE);
  const pseudonymKey = await resolvePseudonymKey(
    config.OBSERVATORY_PSEUDONYM_KEY,
    config.OBSERVATORY_DATA_DIR,
  );
  const audit = new AuditTrail(
    await resolveAuditKey(config.OBSERVATORY_AUDIT_KEY, config.OBSERVATORY_DATA_DIR),
  );
  const masterKeys = await resolveMasterKeys(config);
  const db = await openDatabase(config, {
    adoptOrphan: true,
    onLog: (line) => logger.debug({ component: 'postgres' }, line),
  });
  const decisions = createDecisions(db.pool, masterKeys);
  const metrics = createAiMetrics({
    maxOrgs: config.OBSERVATORY_METRICS_MAX_ORGS,
    maxModels: config.OBSERVATORY_METRICS_MAX_MODELS,
  });
  // With OBSERVATORY_INGEST_BUFFER, accepted rows go to JetStream and `observatory writer` commits them.
  let buffer: Awaited<ReturnType<typeof openConfiguredBuffer>>;
  try {
    buffer = await openConfiguredBuffer(config, 'receiver');
  } catch (err) {
    await db.close();
    throw err;
  }
  const sinks = buffer && bufferSinks(buffer, config.OBSERVATORY_INGEST_QUEUE);
  const ingest = new Ingest({
    sink: sinks?.rows,
    pool: db.pool,
    prices,
    spillDir: join(config.OBSERVATORY_DATA_DIR, 'spill'),
    maxQueue: config.OBSERVATORY_INGEST_QUEUE,
    batchSize: config.OBSERVATORY_INGEST_BATCH_SIZE,
    flushIntervalMs: config.OBSERVATORY_INGEST_FLUSH_MS,
    concurrency: config.OBSERVATORY_INGEST_CONCURRENCY,
    maxAttempts: config.OBSERVATORY_INGEST_MAX_ATTEMPTS,
    metrics,
    pseudonymKey,
    content: decisions.capture,
    onError: (err) => logger.warn({ err: err.message }, 'ingest pipeline'),
    onCommitted: (events) => {
      publishCommitted(db.pool, events).catch((err) =>
        logger.warn({ err: err.message }, 'live stream notify'),
      );
    },
  });
  // Log records get a pipeline (and spill directory) of their own: a flood of logs never delays model-call events.
  const logs = new LogIngest({
    sink: sinks?.logs,
    pool: db.pool,
    spillDir: join(config.OBSERVATORY_DATA_DIR, 'spill-logs'),
    maxQueue: config.OBSERVATORY_INGEST_QUEUE,
    batchSize: config.OBSERVATORY_INGEST_BATCH_SIZE,
    flushIntervalMs: config.OBSERVATORY_INGEST_FLUSH_MS,
    concurrency: config.OBSERVATORY_INGEST_CONCURRENCY,
    maxAttempts: config.OBSERVATORY_INGEST_MAX_ATTEMPTS,
    onError: (err) => logger.warn({ err: err.message }, 'log ingest pipeline'),
    onCommitted: (rows) => {
      publishLogs(db.pool, rows).catch((err) => logger.warn({ err: err.message }, 'live stream log notify'));
    },
  });
  const hub = new StreamHub(db.url, db.pool, logger);
  const mailer = config.OBSERVATORY_SMTP_URL
    ? new Mailer({
        url: config.OBSERVATORY_SMTP_URL,
        from: config.OBSERVATORY_SMTP_FROM,
        perOrgPerHour: config.OBSERVATORY_SMTP_RATE_LIMIT,
        timeoutMs: 10_000,
      })
    : undefined;
  const alerting = {
    alertmanagerToken: config.OBSERVATORY_ALERTMANAGER_TOKEN,
    allowPrivateWebhooks: config.OBSERVATORY_ALLOW_PRIVATE_WEBHOOKS,
    emailEnabled: mailer !== undefined,
    events: new AlertEvents(),
  };
  alerting.events.on('alert', (e) => {
    publishAlert(db.pool, { orgId: e.orgId, change: e.change, alert: e.alert }).catch((err) =>
      logger.warn({ err: err.message }, 'live stream alert notify'),
    );
  });
  let server: Server;
  let worker: ExportWorker | undefined;
  try {
    await ingest.start();
    await logs.start();
    await hub.start();
    const keys = await bootstrapDefaultOrg(db.pool);
    if (keys) {
      process.stderr.write(
        `\nCreated org "default". These keys are shown once; store them now:\n${keys
          .map((k) => `  ${k.role.padEnd(9)} ${k.key}`)
          .join('\n')}\n\n`,
      );
    }
    const exports = await createExportService(config, metrics.meter);
    if (config.OBSERVATORY_WORKER) {
      worker = createExportWorker(config, { pool: db.pool, readPool: db.readPool, logger, service: exports });
      exports.onJobCreated = () => worker?.poke();
      worker.start();
    }
    if (db.readPool !== db.pool) registerReplicaLagMetric(metrics.meter, db.readPool);
    const app = createApp({
      pool: db.pool,
      readPool: db.readPool,
      logger,
      audit,
      decisions,
      alerting,
      exports,
      ingest,
      logs,
      maxBufferedBytes: config.OBSERVATORY_MAX_BUFFERED_BYTES,
      metrics,
      metricsToken: config.OBSERVATORY_METRICS_TOKEN,
      hub,
      stream: {
        maxPerKey: config.OBSERVATORY_STREAM_MAX_PER_KEY,
        maxPerOrg: config.OBSERVATORY_STREAM_MAX_PER_ORG,
        recheckMs: config.OBSERVATORY_STREAM_RECHECK_MS,
        maxLifetimeMs: config.OBSERVATORY_STREAM_MAX_LIFETIME_MS,
      },
      console: { traceUrlTemplate: config.OBSERVATORY_TRACE_URL_TEMPLATE },
      trustProxy: config.OBSERVATORY_TRUST_PROXY,
    });
    server = await listen(app.fetch, config.HOST, config.PORT);
  } catch (err) {
    await worker?.stop();
    await ingest.shutdown();
    await logs.shutdown();
    await buffer?.close();
    await hub.stop();
    await db.close();
    await selfTracing?.shutdown();
    throw err;
  }
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  logger.info({ port, database: db.description }, 'observatory listening');
  const partitions = setInterval(() => {
    ensurePartitions(db.pool).catch((err) => logger.warn({ err }, 'creating monthly partitions failed'));
  }, PARTITION_CHECK_MS).unref();
  const ruleEngine: RunningRuleEngine = startRuleEngine({
    pool: db.pool,
    logger,
    events: alerting.events,
    delivery: {
      allowPrivate: alerting.allowPrivateWebhooks,
      mailer,
      publicUrl: config.OBSERVATORY_PUBLIC_URL,
    },
  });
  const upkeep = await startUpkeep(config, db.pool, logger);

  const signal = await stopSignal();
  logger.info({ signal }, 'draining');
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
  clearInterval(partitions);
  await upkeep.stop();
  await ruleEngine.stop();
  mailer?.close();
  await worker?.stop();
  await ingest.shutdown();
  await logs.shutdown();
  await buffer?.close();
  await hub.stop();
  await metrics.shutdown();
  await selfTracing?.shutdown();
  await db.close();
  logger.info('stopped');
}

/**
 * The background jobs every `serve` and `worker` runs: the rollup compactor, the daily retention run and the daily
 * drift computation. Every replica looks; an advisory lock lets one of them work at a time.
 */
async function startUpkeep(config: Config, pool: pg.Pool, logger: Logger) {
  const compactor = startRollupCompactor({ pool, logger });
  const retention = startRetentionSchedule({ pool, logger, archive: await archiveRangeFor(config, pool) });
  const drift = startDriftRunner({ pool, logger });
  return {
    async stop() {
      await Promise.all([retention.stop(), drift.stop(), compactor.stop()]);
    },
  };
}

/**
 * `observatory worker`: runs export jobs, the rollup compactor, the daily retention run and the daily drift
 * computation, so they scale apart from the API.
 */
export async function runWorker(config: Config): Promise<void> {
  const logger = createLogger(config.LOG_LEVEL);
  const db = await openDatabase(config, { onLog: (line) => logger.debug({ component: 'postgres' }, line) });
  const worker = createExportWorker(config, {
    pool: db.pool,
    readPool: db.readPool,
    logger,
    service: await createExportService(config),
  });
  worker.start();
  const upkeep = await startUpkeep(config, db.pool, logger);
  await stopSignal();
  logger.info('draining export jobs');
  await upkeep.stop();
  await worker.stop();
  await db.close();
  logger.info('stopped');
}

/**
 * `observatory writer`: commits what receivers put in the ingest buffer (OBSERVATORY_INGEST_BUFFER) to PostgreSQL,
 * acknowledging each batch after its commit and telling the live stream; run as many as PostgreSQL takes.
 */
export async function runWriter(config: Config): Promise<void> {
  const logger = createLogger(config.LOG_LEVEL);
  const db = await openDatabase(config, { onLog: (line) => logger.debug({ component: 'postgres' }, line) });
  let writers: Awaited<ReturnType<typeof runBufferWriters>>;
  try {
    writers = await runBufferWriters(config, db.pool, logger);
  } catch (err) {
    await db.close();
    throw err;
  }
  logger.info('ingest buffer writer running');
  await stopSignal();
  logger.info('draining the ingest buffer writer');
  await writers.stop();
  await db.close();
  logger.info('stopped');
}
