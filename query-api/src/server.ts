import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { ensurePartitions } from '@observatory/exporter-postgres';
import { type RunningRuleEngine, startRuleEngine } from './alerts/engine.ts';
import { AlertEvents } from './alerts/events.ts';
import { createApp } from './app.ts';
import { bootstrapDefaultOrg } from './bootstrap.ts';
import { type Config, ConfigError } from './config.ts';
import { openDatabase } from './db/database.ts';
import { createExportService, createExportWorker } from './exports/service.ts';
import type { ExportWorker } from './exports/worker.ts';
import { createLogger } from './log.ts';

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

/** `observatory serve`: migrate, listen, and drain on SIGTERM/SIGINT. Resolves once the service has stopped. */
export async function runServe(config: Config): Promise<void> {
  const logger = createLogger(config.LOG_LEVEL);
  const db = await openDatabase(config, {
    adoptOrphan: true,
    onLog: (line) => logger.debug({ component: 'postgres' }, line),
  });
  let server: Server;
  const alerting = {
    alertmanagerToken: config.OBSERVATORY_ALERTMANAGER_TOKEN,
    allowPrivateWebhooks: config.OBSERVATORY_ALLOW_PRIVATE_WEBHOOKS,
    events: new AlertEvents(),
  };
  let worker: ExportWorker | undefined;
  try {
    const keys = await bootstrapDefaultOrg(db.pool);
    if (keys) {
      process.stderr.write(
        `\nCreated org "default". These keys are shown once; store them now:\n${keys
          .map((k) => `  ${k.role.padEnd(9)} ${k.key}`)
          .join('\n')}\n\n`,
      );
    }
    const exports = await createExportService(config);
    if (config.OBSERVATORY_WORKER) {
      worker = createExportWorker(config, { pool: db.pool, logger, service: exports });
      exports.onJobCreated = () => worker?.poke();
      worker.start();
    }
    server = await listen(
      createApp({ pool: db.pool, logger, alerting, exports }).fetch,
      config.HOST,
      config.PORT,
    );
  } catch (err) {
    await worker?.stop();
    await db.close();
    throw err;
  }
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  logger.info({ port, database: db.description }, 'observatory listening');
  const partitions = setInterval(() => {
    ensurePartitions(db.pool).catch((err) => logger.warn({ err }, 'creating ai_events partitions failed'));
  }, PARTITION_CHECK_MS).unref();
  const ruleEngine: RunningRuleEngine = startRuleEngine({
    pool: db.pool,
    logger,
    events: alerting.events,
    delivery: { allowPrivate: alerting.allowPrivateWebhooks },
  });

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'draining');
      server.close(() => resolve());
      server.closeIdleConnections();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  clearInterval(partitions);
  await ruleEngine.stop();
  await worker?.stop();
  await db.close();
  logger.info('stopped');
}

/** `observatory worker`: runs export jobs only, so exports can scale apart from the API. */
export async function runWorker(config: Config): Promise<void> {
  const logger = createLogger(config.LOG_LEVEL);
  const db = await openDatabase(config, { onLog: (line) => logger.debug({ component: 'postgres' }, line) });
  const worker = createExportWorker(config, {
    pool: db.pool,
    logger,
    service: await createExportService(config),
  });
  worker.start();
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  logger.info('draining export jobs');
  await worker.stop();
  await db.close();
  logger.info('stopped');
}
