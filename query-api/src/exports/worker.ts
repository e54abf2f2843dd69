import { randomUUID } from 'node:crypto';
import { readdir, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { isConnectionError } from '../db/connection-errors.ts';
import type { SqlStatement } from '../db/sql-statement.ts';
import type { Logger } from '../log.ts';
import type { ExportFormat, ExportJobRow, ExportStatus } from './job.ts';
import { type Loop, startLoop } from './loop.ts';
import type { ExportMetrics } from './metrics.ts';
import { runExport } from './run-export.ts';
import * as sql from './sql.ts';
import type { ExportStorage } from './storage.ts';

export interface ExportWorkerOptions {
  /** The primary: jobs are claimed, leased and completed there. */
  pool: pg.Pool;
  /** Where the exported rows are read (`DATABASE_READ_URL`); `pool` when not given. */
  readPool?: pg.Pool;
  storage: ExportStorage;
  logger: Logger;
  metrics: ExportMetrics;
  /** Identifies this worker in `exports.locked_by`. */
  workerId?: string;
  concurrency?: number;
  pollMs?: number;
  leaseSeconds?: number;
  maxAttempts?: number;
  fileTtlSeconds?: number;
  failedTtlSeconds?: number;
  /** How often the cleanup pass runs. */
  cleanupIntervalMs?: number;
  throttleMs?: number;
}

/**
 * Claims export jobs and runs them, at most `concurrency` at once. While a job runs its lease is renewed
 * every third of the lease; a worker that dies stops renewing, and once the lease expires another worker
 * claims the job again. Each claim counts an attempt; after `maxAttempts` the job fails with its last error.
 */
export class ExportWorker {
  readonly workerId: string;
  private loop: Loop | undefined;
  private cleanupTimer: NodeJS.Timeout | undefined;
  private cleanupRunning: Promise<unknown> = Promise.resolve();
  private readonly o: Required<Omit<ExportWorkerOptions, 'workerId' | 'readPool'>>;
  private readonly readPool: pg.Pool;

  constructor(options: ExportWorkerOptions) {
    this.workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.readPool = options.readPool ?? options.pool;
    this.o = {
      concurrency: 5,
      pollMs: 1000,
      leaseSeconds: 60,
      maxAttempts: 3,
      fileTtlSeconds: 24 * 3600,
      failedTtlSeconds: 7 * 24 * 3600,
      cleanupIntervalMs: 10 * 60 * 1000,
      throttleMs: 0,
      ...options,
    };
  }

  start(): void {
    if (this.loop) return;
    const log = this.o.logger.child({ component: 'export-worker', worker: this.workerId });
    this.loop = startLoop<ExportJobRow>({
      concurrency: this.o.concurrency,
      intervalMs: this.o.pollMs,
      fetch: (limit) => this.claim(limit),
      handle: (job) => this.run(job),
      onError: (err) =>
        isConnectionError(err)
          ? log.warn({ err: (err as Error).message }, 'export worker: database unavailable')
          : log.error({ err }, 'export worker error'),
    });
    const cleanup = () => {
      this.cleanupRunning = this.cleanup().catch((err) => log.error({ err }, 'export cleanup failed'));
    };
    cleanup();
    this.cleanupTimer = setInterval(cleanup, this.o.cleanupIntervalMs);
    this.cleanupTimer.unref();
    log.info({ concurrency: this.o.concurrency }, 'export worker started');
  }

  /** Looks for work now instead of at the next poll. */
  poke(): void {
    this.loop?.poke();
  }

  /** Stops claiming and waits for running jobs and any cleanup pass to finish. */
  async stop(): Promise<void> {
    clearInterval(this.cleanupTimer);
    await this.loop?.stop();
    await this.cleanupRunning;
    this.loop = undefined;
  }

  private async claim(limit: number): Promise<ExportJobRow[]> {
    const abandoned = await this.query<{ format: ExportFormat }>(
      sql.failAbandonedJobs(this.o.maxAttempts, this.o.failedTtlSeconds),
    );
    for (const job of abandoned) this.o.metrics.jobsAbandoned(job.format);
    return this.query<ExportJobRow>(
      sql.claimJobs(this.workerId, limit, this.o.leaseSeconds, this.o.maxAttempts),
    );
  }

  private async run(job: ExportJobRow): Promise<void> {
    const log = this.o.logger.child({ component: 'export-worker', job_id: job.id, attempt: job.attempts });
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    const lost = new AbortController();
    const heartbeat = setInterval(
      () => {
        this.query(sql.extendLease(job.id, this.workerId, this.o.leaseSeconds))
          .then((rows) => {
            if (rows.length === 0) lost.abort(new Error('lease lost to another worker'));
          })
          .catch((err) => log.warn({ err }, 'lease renewal failed'));
      },
      (this.o.leaseSeconds * 1000) / 3,
    );
    try {
      log.info({ format: job.format, gzip: job.gzip }, 'export started');
      const result = await runExport(
        this.readPool,
        this.o.storage,
        { id: job.id, orgId: job.org_id, format: job.format, gzip: job.gzip, filters: job.filters },
        { signal: lost.signal, throttleMs: this.o.throttleMs },
      );
      const done = await this.query(
        sql.completeJob(job.id, this.workerId, { ...result, ttlSeconds: this.o.fileTtlSeconds }),
      );
      if (done.length === 0) {
        log.warn('export finished after its lease was lost; another worker owns the job');
        return;
      }
      this.o.metrics.jobFinished(job.format, 'completed', seconds(), result.rowCount);
      log.info({ rows: result.rowCount, bytes: result.fileSize, seconds: seconds() }, 'export completed');
    } catch (err) {
      if (lost.signal.aborted) {
        log.warn('export abandoned: lease lost to another worker');
        return;
      }
      const message = `Export failed: ${(err as Error).message}`;
      const [row] = await this.query<{ status: ExportStatus }>(
        sql.failAttempt(job.id, this.workerId, message, this.o.maxAttempts, this.o.failedTtlSeconds),
      );
      const outcome = row?.status === 'failed' ? 'failed' : 'retried';
      this.o.metrics.jobFinished(job.format, outcome, seconds(), 0);
      log.error({ err, outcome }, 'export attempt failed');
    } finally {
      clearInterval(heartbeat);
    }
  }

  /**
   * Removes files of expired completed jobs, the rows of expired jobs, and temporary files left by workers
   * that died mid-export.
   */
  async cleanup(batch = 100): Promise<number> {
    await this.removeStaleTempFiles();
    let removed = 0;
    for (;;) {
      const expired = await this.query<{ id: string; storage_key: string | null }>(sql.expiredJobs(batch));
      for (const job of expired) {
        if (job.storage_key) await this.o.storage.remove(job.storage_key);
        await this.query(sql.deleteJob(job.id));
        removed++;
      }
      if (expired.length < batch) return removed;
    }
  }

  private async removeStaleTempFiles(): Promise<void> {
    const { tempDir } = this.o.storage;
    for (const name of await readdir(tempDir).catch(() => [])) {
      const path = join(tempDir, name);
      const info = await stat(path).catch(() => undefined);
      if (info && Date.now() - info.mtimeMs > this.o.fileTtlSeconds * 1000) await rm(path, { force: true });
    }
  }

  private async query<R extends pg.QueryResultRow>(statement: SqlStatement): Promise<R[]> {
    return (await this.o.pool.query<R>(statement.text, statement.values)).rows;
  }
}
