import { ADVISORY_LOCKS } from '@observatory/exporter-postgres';
import type pg from 'pg';
import { checkout } from '../db/checkout.ts';
import { isConnectionError } from '../db/connection-errors.ts';
import type { Logger } from '../log.ts';
import { binEdges, type FeatureDrift, featureDrift } from './psi.ts';
import { DRIFT_FEATURES, type DriftFeature } from './schema.ts';
import * as sql from './sql.ts';

const DAY_MS = 86_400_000;

export interface DriftOptions {
  /** Days before the current 24 h that make the baseline. */
  baselineDays: number;
  /** Per statement (one model's quantiles, its bin counts, its upsert): a model past it is skipped for this pass. */
  statementTimeoutMs: number;
  /** Models per org per pass (busiest first is not known without a scan: in name order). */
  maxModelsPerOrg: number;
}

export const DEFAULT_DRIFT_OPTIONS: DriftOptions = {
  baselineDays: 7,
  statementTimeoutMs: 120_000,
  maxModelsPerOrg: 500,
};

export interface ModelDrift {
  orgId: string;
  model: string;
  features: FeatureDrift[];
  /** Wall time of this model's computation. */
  ms: number;
}

export interface DriftReport {
  /** False when another process held the drift lock, so this one computed nothing. */
  ran: boolean;
  computed: ModelDrift[];
  failed: { orgId: string; model: string; error: string }[];
}

export interface DriftRunRequest {
  /** Only this org (else every org). */
  orgId?: string | undefined;
  /** Recompute models already done today (else only the missing ones: the daily schedule). */
  force?: boolean | undefined;
  /** Checked between models, so that a stopping service does not wait for a whole pass. */
  signal?: AbortSignal | undefined;
}

/** The windows of a computation at `asOf`: the last 24 h, and the `baselineDays` days before them. */
export function windowsAt(asOf: Date, baselineDays: number): sql.Windows {
  const baselineEnd = new Date(asOf.getTime() - DAY_MS);
  return {
    baselineStart: new Date(baselineEnd.getTime() - baselineDays * DAY_MS),
    baselineEnd,
    currentEnd: asOf,
  };
}

/**
 * Computes and stores model drift. One process at a time across replicas: a pass holds a session advisory lock on
 * one connection (released when the pass ends or the connection dies), and computes one org × model at a time in its
 * own short transaction with a statement timeout. Bins are counted by PostgreSQL, so memory stays a few numbers per
 * model whatever the volume.
 */
export class DriftRunner {
  private readonly options: DriftOptions;
  /** The server process of the connection a pass is running on, so that `cancel()` can interrupt it. */
  private backendPid: number | undefined;

  constructor(
    private readonly deps: { pool: pg.Pool; logger: Logger; options?: Partial<DriftOptions> | undefined },
  ) {
    this.options = { ...DEFAULT_DRIFT_OPTIONS, ...deps.options };
  }

  async run(request: DriftRunRequest = {}): Promise<DriftReport> {
    const report: DriftReport = { ran: false, computed: [], failed: [] };
    const { client, release } = await checkout(this.deps.pool);
    let broken = false;
    try {
      const { rows: lock } = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock($1) AS locked',
        [ADVISORY_LOCKS.drift],
      );
      if (!lock[0]?.locked) return report;
      report.ran = true;
      const { rows: pid } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      this.backendPid = pid[0]?.pid;
      try {
        // Every statement of the pass, each model's included, is bounded; the connection goes back to the pool as
        // it came.
        await client.query(`SET statement_timeout = ${Math.floor(this.options.statementTimeoutMs)}`);
        await this.pass(client, request, report);
      } finally {
        await client.query('RESET statement_timeout');
        await client.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCKS.drift]);
      }
      return report;
    } catch (err) {
      broken = isConnectionError(err);
      throw err;
    } finally {
      this.backendPid = undefined;
      release(broken);
    }
  }

  /**
   * Cancels the statement a running pass is waiting for (one model's read can take minutes at scale): that model
   * fails, and a pass given an aborted `signal` stops before the next one. Nothing happens when no pass is running.
   */
  async cancel(): Promise<void> {
    if (this.backendPid !== undefined) {
      await this.deps.pool.query('SELECT pg_cancel_backend($1)', [this.backendPid]);
    }
  }

  private async pass(client: pg.PoolClient, request: DriftRunRequest, report: DriftReport): Promise<void> {
    // One clock for the whole pass, the database's, so every model of a pass shares its windows.
    const { rows: now } = await client.query<{ as_of: Date; day: string }>(
      "SELECT date_trunc('second', now()) AS as_of, to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day",
    );
    const { as_of: asOf, day } = now[0]!;
    const windows = windowsAt(asOf, this.options.baselineDays);
    const { rows: orgs } = await client.query<{ id: string }>(sql.orgIds(request.orgId ?? null));
    for (const { id: orgId } of orgs) {
      const { rows: models } = await client.query<{ model_name: string }>(
        sql.activeModels(orgId, windows.baselineEnd, this.options.maxModelsPerOrg),
      );
      const done = request.force
        ? new Set<string>()
        : new Set(
            (await client.query<{ model_name: string }>(sql.modelsDoneOn(orgId, day))).rows.map(
              (r) => r.model_name,
            ),
          );
      for (const { model_name: model } of models) {
        if (request.signal?.aborted) return;
        if (done.has(model)) continue;
        try {
          const started = performance.now();
          const features = await this.computeModel(client, orgId, model, day, windows);
          report.computed.push({ orgId, model, features, ms: performance.now() - started });
        } catch (err) {
          // A lost connection ends the pass; anything else (a statement timeout) skips this model only.
          if (isConnectionError(err)) throw err;
          if (request.signal?.aborted) return;
          const error = (err as Error).message;
          report.failed.push({ orgId, model, error });
          this.deps.logger.warn({ orgId, model, err: error }, 'drift: computing one model failed');
        }
      }
    }
  }

  private async computeModel(
    client: pg.PoolClient,
    orgId: string,
    model: string,
    day: string,
    windows: sql.Windows,
  ): Promise<FeatureDrift[]> {
    // One snapshot for the quantiles and the bins, so a late event cannot land in a bin the edges never saw.
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    try {
      const { rows: q } = await client.query<Record<DriftFeature, number[] | null>>(
        sql.baselineQuantiles(orgId, model, windows),
      );
      const edges = Object.fromEntries(DRIFT_FEATURES.map((f) => [f, binEdges(q[0]?.[f] ?? [])])) as Record<
        DriftFeature,
        number[]
      >;
      const { rows: counts } = await client.query<sql.BinCount>(sql.binCounts(orgId, model, windows, edges));
      const features = DRIFT_FEATURES.map((f) => {
        const baseline = new Array<number>(edges[f].length + 1).fill(0);
        const current = new Array<number>(edges[f].length + 1).fill(0);
        for (const c of counts) if (c.feature === f) (c.current ? current : baseline)[c.bin] = c.count;
        return featureDrift(f, edges[f], baseline, current);
      });
      await client.query(sql.upsertDrift(orgId, model, day, windows, features));
      await client.query('COMMIT');
      return features;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }
}

export interface RunningDriftRunner {
  runner: DriftRunner;
  stop(): Promise<void>;
}

/**
 * Runs a pass at start-up and every `checkMs` (default hourly): each pass computes the org × models that have calls
 * in the last 24 h and no row for today (UTC) yet, so each is computed once a day, soon after midnight or after its
 * first call of the day. A failing pass is logged; the next one runs anyway.
 */
export function startDriftRunner(deps: {
  pool: pg.Pool;
  logger: Logger;
  options?: Partial<DriftOptions>;
  checkMs?: number;
}): RunningDriftRunner {
  const runner = new DriftRunner(deps);
  const checkMs = deps.checkMs ?? 3_600_000;
  const stopping = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let pass: Promise<void> = Promise.resolve();
  const tick = () => {
    pass = runner
      .run({ signal: stopping.signal })
      .then((report) => {
        if (report.computed.length > 0 || report.failed.length > 0) {
          deps.logger.info(
            { computed: report.computed.length, failed: report.failed.length },
            'drift: daily PSI computed',
          );
        }
      })
      .catch((err: unknown) => {
        if (isConnectionError(err)) {
          deps.logger.warn({ err: (err as Error).message }, 'drift: database unavailable');
        } else deps.logger.error({ err }, 'drift: pass failed');
      })
      .finally(() => {
        if (!stopping.signal.aborted) timer = setTimeout(tick, checkMs);
      });
  };
  timer = setTimeout(tick, 0);
  return {
    runner,
    async stop() {
      stopping.abort();
      clearTimeout(timer);
      // A stopping service does not wait for a model's computation to finish.
      await runner.cancel().catch(() => undefined);
      await pass;
    },
  };
}
