import { setTimeout as sleep } from 'node:timers/promises';
import { ADVISORY_LOCKS } from '@observatory/exporter-postgres';
import pg from 'pg';
import { checkout } from '../db/checkout.ts';
import { withTransaction } from '../db/transaction.ts';
import type { Logger } from '../log.ts';
import { effectiveSettings, type OrgSettings, type SettingName } from '../settings/schema.ts';
import { readAllSettings } from '../settings/store.ts';
import * as sql from './sql.ts';
import { RETENTION_TABLES, type RetentionTable } from './tables.ts';

/**
 * Archives the org's events in [from, to) (writes, reads back and verifies) and resolves with the number of rows
 * archived; idempotent for the same org and bounds. `archiveEvents` in `src/archive/archive.ts`, adapted.
 */
export type ArchiveRange = (orgId: string, from: Date, to: Date) => Promise<number>;

export interface RetentionDeps {
  pool: pg.Pool;
  /** Without it, orgs whose `archive` setting is on keep their events: nothing is removed unarchived. */
  archive?: ArchiveRange | undefined;
  logger?: Logger | undefined;
}

export interface RetentionOptions {
  /** Only this org: its events and registered tables; partitions (shared by orgs) are left alone. */
  orgId?: string | undefined;
  now?: Date;
  /** Rows per delete transaction. */
  batchRows?: number;
  /** Pause between delete transactions, so ingest always gets its turn. */
  pauseMs?: number;
  tables?: readonly RetentionTable[];
  /** Called after each delete batch that removed rows (tests stop a run midway through it). */
  onBatch?: (batch: { orgId: string; deleted: number }) => void | Promise<void>;
}

export interface OrgReport {
  org_id: string;
  rows_archived: number;
  rows_deleted: number;
  partitions_dropped: number;
  rollup_rows_deleted: number;
}

export interface RetentionReport {
  /** False when another runner holds the retention lock: this one did nothing. */
  ran: boolean;
  orgs: OrgReport[];
  partitions_dropped: string[];
  /** What was left for a later run, and why. */
  notes: string[];
}

export const RETENTION_DEFAULTS = { batchRows: 5000, pauseMs: 50 } as const;

const DAY_MS = 86_400_000;
// Each delete batch waits at most this long for a lock, so it never queues ingest behind it for longer.
const BATCH_LOCK_TIMEOUT = '1s';
const BATCH_STATEMENT_TIMEOUT = '60s';
// DETACH PARTITION takes an ACCESS EXCLUSIVE lock on ai_events (CONCURRENTLY is refused while a default partition
// exists): ingest waits behind it for at most this long per try.
const DETACH_LOCK_TIMEOUT = '500ms';
const LOCK_TRIES = 5;

const startOfDay = (at: Date) => Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate());
const monthStart = (at: Date) => new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
const nextMonth = (at: Date) => new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1));

/** Where `setting` ends for an org: whole days before the start of today (UTC), so reruns on a day agree. */
export function cutoff(settings: OrgSettings, setting: SettingName, now: Date): Date {
  return new Date(startOfDay(now) - Number(settings[setting]) * DAY_MS);
}

function partitionMonth(name: string): Date {
  const digits = name.slice('ai_events_'.length);
  return new Date(Date.UTC(Number(digits.slice(0, 4)), Number(digits.slice(4)) - 1, 1));
}

const isLockTimeout = (err: unknown) => (err as { code?: string }).code === '55P03';

/**
 * `observatory retention run`: removes what is past each org's retention, archiving raw events first (unless the
 * org switched archiving off). One runner at a time across replicas (a session advisory lock); the others return
 * `ran: false` at once.
 */
export async function runRetention(
  deps: RetentionDeps,
  options: RetentionOptions = {},
): Promise<RetentionReport> {
  const { client, release } = await checkout(deps.pool);
  let broken = false;
  try {
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [
      ADVISORY_LOCKS.retention,
    ]);
    if (!rows[0]?.locked) return { ran: false, orgs: [], partitions_dropped: [], notes: [] };
    try {
      // Between steps: a lost lock connection means another replica may start, so this one stops.
      const lockHeld = async () => {
        await client.query('SELECT 1');
      };
      return await new RetentionRun(deps, options, lockHeld).run();
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCKS.retention]).catch(() => {
        broken = true;
      });
    }
  } finally {
    release(broken);
  }
}

class RetentionRun {
  private readonly now: Date;
  private readonly batchRows: number;
  private readonly pauseMs: number;
  private readonly reports = new Map<string, OrgReport>();
  private readonly dropped: string[] = [];
  private readonly notes: string[] = [];
  private settings = new Map<string, OrgSettings>();

  constructor(
    private readonly deps: RetentionDeps,
    private readonly options: RetentionOptions,
    private readonly lockHeld: () => Promise<void>,
  ) {
    this.now = options.now ?? new Date();
    this.batchRows = options.batchRows ?? RETENTION_DEFAULTS.batchRows;
    this.pauseMs = options.pauseMs ?? RETENTION_DEFAULTS.pauseMs;
  }

  async run(): Promise<RetentionReport> {
    const { pool } = this.deps;
    const only = this.options.orgId;
    this.settings = await readAllSettings(pool);
    if (only !== undefined && !this.settings.has(only)) throw new Error(`No org "${only}"`);
    // Orgs with events but no row of their own (rare: rows written before their org) follow the defaults.
    const { rows } = await pool.query<{ id: string }>(sql.orgsWithEvents());
    for (const { id } of rows) if (!this.settings.has(id)) this.settings.set(id, effectiveSettings({}));
    const orgs = only !== undefined ? [only] : [...this.settings.keys()];
    for (const org of orgs) this.report(org);

    if (only === undefined) await this.recoverDetached();
    await this.resumePending(only);
    if (only === undefined) await this.dropPartitions();
    for (const org of orgs) await this.removeEvents(org);
    for (const org of orgs) await this.removeTableRows(org);

    const report: RetentionReport = {
      ran: true,
      orgs: orgs.map((o) => this.report(o)),
      partitions_dropped: this.dropped,
      notes: this.notes,
    };
    await pool.query(sql.recordRun(this.now, only, report));
    return report;
  }

  private report(orgId: string): OrgReport {
    let r = this.reports.get(orgId);
    if (!r) {
      r = { org_id: orgId, rows_archived: 0, rows_deleted: 0, partitions_dropped: 0, rollup_rows_deleted: 0 };
      this.reports.set(orgId, r);
    }
    return r;
  }

  private settingsOf(orgId: string): OrgSettings {
    return this.settings.get(orgId) ?? effectiveSettings({});
  }

  /** Whether the org's events may be removed now: archived first unless it switched archiving off. */
  private canRemove(orgId: string): boolean {
    if (!this.settingsOf(orgId).archive || this.deps.archive) return true;
    const note = `${orgId}: archive is on but no archive is configured; its events are kept`;
    if (!this.notes.includes(note)) this.notes.push(note);
    return false;
  }

  /**
   * A table a stopped run detached and did not drop: its rows go back into ai_events (the default partition now
   * holds their month) without touching rollups, and the org ranges still pending are resumed from there.
   */
  private async recoverDetached(): Promise<void> {
    const { rows } = await this.deps.pool.query<{ name: string }>(sql.detachedMonthlyTables());
    for (const { name } of rows) {
      await this.moveBack(name);
      this.notes.push(`${name}: found detached, its rows moved back into ai_events`);
    }
  }

  private async moveBack(table: string): Promise<void> {
    const t = pg.escapeIdentifier(table);
    await withTransaction(this.deps.pool, async (client) => {
      await client.query(`SET LOCAL observatory.skip_rollups = 'on'`);
      await client.query(`INSERT INTO ai_events SELECT * FROM ${t} ON CONFLICT DO NOTHING`);
      await client.query(`DROP TABLE ${t}`);
    });
  }

  private async resumePending(orgId: string | undefined): Promise<void> {
    const { rows } = await this.deps.pool.query<{
      org_id: string;
      range_from: Date;
      range_to: Date;
      archived_rows: number | null;
    }>(sql.listPending(orgId));
    for (const p of rows) await this.removeRange(p.org_id, p.range_from, p.range_to, p.archived_rows);
  }

  /**
   * Each org's events before its cutoff, one calendar month (UTC) at a time: [month start, min(month end, cutoff)).
   * Month starts (not the previous cutoff) so that late rows of a month already handled are taken along.
   */
  private async removeEvents(orgId: string): Promise<void> {
    if (!this.canRemove(orgId)) return;
    const end = cutoff(this.settingsOf(orgId), 'retention_days', this.now);
    let from = new Date(0);
    for (;;) {
      const { rows } = await this.deps.pool.query<{ at: Date | null }>(sql.firstEventTime(orgId, from, end));
      const first = rows[0]?.at;
      if (!first) return;
      const start = monthStart(first);
      const to = new Date(Math.min(nextMonth(start).getTime(), end.getTime()));
      if (!(await this.removeRange(orgId, start, to, null))) return;
      from = to;
    }
  }

  /**
   * Archives (unless off) and deletes the org's events in [from, to). The range is recorded as pending first, and
   * `archivedRows` set once its archive resolved, so a stopped run resumes it without archiving a half-deleted range.
   * Returns false when the range changed while it was archived and is left for the next run.
   */
  private async removeRange(
    orgId: string,
    from: Date,
    to: Date,
    archivedRows: number | null,
  ): Promise<boolean> {
    const { pool } = this.deps;
    if (!this.canRemove(orgId)) return false;
    await this.lockHeld();
    const report = this.report(orgId);
    let archived = archivedRows;
    if (archived === null) {
      await pool.query(sql.setPending(orgId, from, to));
      if (this.settingsOf(orgId).archive) {
        archived = await this.deps.archive!(orgId, from, to);
        const { rows } = await pool.query<{ n: number }>(sql.countRange(orgId, from, to));
        if (rows[0]!.n !== archived) {
          this.notes.push(
            `${orgId}: ${rows[0]!.n} events in ${from.toISOString()}..${to.toISOString()} but ${archived} archived (events arrived meanwhile); left for the next run`,
          );
          return false;
        }
        await pool.query(sql.pendingArchived(orgId, archived));
        report.rows_archived += archived;
      }
    }
    const deleted = await this.deleteRange(orgId, from, to);
    if (archived !== null && deleted > archived) {
      // Events of this old range that arrived during the delete batches: reported, never silent.
      this.deps.logger?.error({ orgId, deleted, archived }, 'retention deleted more events than it archived');
      this.notes.push(`${orgId}: ${deleted - archived} events arrived during deletion and were not archived`);
    }
    await pool.query(sql.clearPending(orgId));
    report.rows_deleted += deleted;
    return true;
  }

  /** Deletes in primary-key order, `batchRows` per short transaction, pausing between them. */
  private async deleteRange(orgId: string, from: Date, to: Date): Promise<number> {
    let after = sql.START;
    let total = 0;
    for (;;) {
      await this.lockHeld();
      const row = await this.batch(async (client) => {
        const { rows } = await client.query<{ n: number; last_at: string | null; last_id: string | null }>(
          sql.deleteEventBatch(orgId, from, to, after, this.batchRows),
        );
        return rows[0]!;
      });
      total += row.n;
      if (row.n > 0) await this.options.onBatch?.({ orgId, deleted: row.n });
      if (row.n < this.batchRows) return total;
      after = { at: row.last_at!, id: row.last_id! };
      await sleep(this.pauseMs);
    }
  }

  /** One delete transaction with short lock and statement timeouts, tried again when a lock is not had in time. */
  private async batch<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await withTransaction(this.deps.pool, async (client) => {
          await client.query(`SET LOCAL lock_timeout = '${BATCH_LOCK_TIMEOUT}'`);
          await client.query(`SET LOCAL statement_timeout = '${BATCH_STATEMENT_TIMEOUT}'`);
          return fn(client);
        });
      } catch (err) {
        if (!isLockTimeout(err) || attempt >= LOCK_TRIES) throw err;
        await sleep(this.pauseMs * attempt);
      }
    }
  }

  /**
   * Monthly partitions past the retention of every org with rows in them: each such org's rows are archived (unless
   * off) and counted, then the partition is detached and its counts checked again (rows that arrived between send
   * it back into ai_events for the row path), then dropped, clearing the pending ranges in the same transaction.
   */
  private async dropPartitions(): Promise<void> {
    const { pool } = this.deps;
    const { rows: partitions } = await pool.query<{ name: string }>(sql.monthlyPartitions());
    for (const { name } of partitions) {
      const start = partitionMonth(name);
      const end = nextMonth(start);
      if (end.getTime() > startOfDay(this.now)) break;
      const { rows: present } = await pool.query<{ id: string }>(sql.orgsWithEvents(name));
      const orgs = present.map((r) => r.id);
      // An empty month: past everyone's retention when past the shortest one.
      const judged = orgs.length ? orgs : [...this.settings.keys()];
      if (!judged.every((o) => cutoff(this.settingsOf(o), 'retention_days', this.now) >= end)) continue;
      if (!orgs.every((o) => this.canRemove(o))) continue;
      await this.lockHeld();
      const before = await this.counts(name);
      let archivedAll = true;
      for (const org of orgs) {
        await pool.query(sql.setPending(org, start, end));
        if (!this.settingsOf(org).archive) continue;
        const archived = await this.deps.archive!(org, start, end);
        if (archived !== before.get(org)) {
          this.notes.push(`${name}: ${org} changed while it was archived; left for the row path`);
          archivedAll = false;
          break;
        }
        await pool.query(sql.pendingArchived(org, archived));
      }
      if (!archivedAll) continue;
      try {
        await this.detach(name);
      } catch (err) {
        if (!isLockTimeout(err)) throw err;
        // Busy: the pending ranges are archived, so the row path deletes them in batches instead.
        this.notes.push(`${name}: not detached (ai_events stayed busy); its rows are deleted in batches`);
        continue;
      }
      const after = await this.counts(name);
      if (orgs.some((o) => after.get(o) !== before.get(o)) || after.size !== before.size) {
        await this.moveBack(name);
        this.notes.push(`${name}: events arrived before it was detached; moved back for the row path`);
        continue;
      }
      await withTransaction(pool, async (client) => {
        await client.query(`DROP TABLE ${pg.escapeIdentifier(name)}`);
        for (const org of orgs) await client.query(sql.clearPending(org));
      });
      this.dropped.push(name);
      for (const org of orgs) {
        const r = this.report(org);
        r.partitions_dropped += 1;
        r.rows_deleted += before.get(org)!;
        if (this.settingsOf(org).archive) r.rows_archived += before.get(org)!;
      }
    }
  }

  private async counts(relation: string): Promise<Map<string, number>> {
    const { rows } = await this.deps.pool.query<{ org_id: string; n: number }>(sql.countByOrg(relation));
    return new Map(rows.map((r) => [r.org_id, r.n]));
  }

  private async detach(name: string): Promise<void> {
    await this.batch(async (client) => {
      await client.query(`SET LOCAL lock_timeout = '${DETACH_LOCK_TIMEOUT}'`);
      await client.query(`ALTER TABLE ai_events DETACH PARTITION ${pg.escapeIdentifier(name)}`);
    });
  }

  /** Rows of registered tables (rollups, …) past the org's setting for each, unarchived, in batches. */
  private async removeTableRows(orgId: string): Promise<void> {
    for (const entry of this.options.tables ?? RETENTION_TABLES) {
      const before = cutoff(this.settingsOf(orgId), entry.setting, this.now);
      for (;;) {
        await this.lockHeld();
        const n = await this.batch(async (client) => {
          const { rowCount } = await client.query(sql.deleteTableBatch(entry, orgId, before, this.batchRows));
          return rowCount ?? 0;
        });
        this.report(orgId).rollup_rows_deleted += n;
        if (n < this.batchRows) break;
        await sleep(this.pauseMs);
      }
    }
  }
}
