import pg from 'pg';
import type { RetentionTable } from './tables.ts';

/** A statement as node-postgres takes it. */
export interface Statement {
  text: string;
  values: unknown[];
}

/** The orgs that have rows in `relation` (a loose index scan over the primary key: one probe per org). */
export function orgsWithEvents(relation = 'ai_events'): Statement {
  const t = pg.escapeIdentifier(relation);
  return {
    text: `WITH RECURSIVE o AS (
             SELECT min(org_id) AS id FROM ${t}
             UNION ALL
             SELECT (SELECT min(org_id) FROM ${t} WHERE org_id > o.id) FROM o WHERE o.id IS NOT NULL
           )
           SELECT id FROM o WHERE id IS NOT NULL`,
    values: [],
  };
}

/** The oldest event time of the org in [from, to), or null. */
export function firstEventTime(orgId: string, from: Date, to: Date): Statement {
  return {
    text: `SELECT min(created_at) AS at FROM ai_events WHERE org_id = $1 AND created_at >= $2 AND created_at < $3`,
    values: [orgId, from, to],
  };
}

export function countRange(orgId: string, from: Date, to: Date, relation = 'ai_events'): Statement {
  return {
    text: `SELECT count(*)::int AS n FROM ${pg.escapeIdentifier(relation)}
           WHERE org_id = $1 AND created_at >= $2 AND created_at < $3`,
    values: [orgId, from, to],
  };
}

export function countByOrg(relation: string): Statement {
  return {
    text: `SELECT org_id, count(*)::int AS n FROM ${pg.escapeIdentifier(relation)} GROUP BY org_id`,
    values: [],
  };
}

/** A position in primary-key order inside one org: (created_at as exact text, id). */
export interface KeyCursor {
  at: string;
  id: string;
}

export const START: KeyCursor = { at: '-infinity', id: '00000000-0000-0000-0000-000000000000' };

/**
 * Deletes the org's next `limit` events of [from, to) after `after` in primary-key order, and returns how many and
 * the last key deleted: each batch starts its index scan where the previous one ended.
 */
export function deleteEventBatch(
  orgId: string,
  from: Date,
  to: Date,
  after: KeyCursor,
  limit: number,
): Statement {
  return {
    text: `WITH batch AS (
             SELECT created_at, id FROM ai_events
             WHERE org_id = $1 AND created_at >= $2 AND created_at < $3
               AND (created_at, id) > ($4::timestamptz, $5::uuid)
             ORDER BY created_at, id
             LIMIT $6
           ), gone AS (
             DELETE FROM ai_events e USING batch b
             WHERE e.org_id = $1 AND e.created_at = b.created_at AND e.id = b.id
             RETURNING e.created_at, e.id
           )
           SELECT count(*)::int AS n,
                  (array_agg(created_at::text ORDER BY created_at DESC, id DESC))[1] AS last_at,
                  (array_agg(id::text ORDER BY created_at DESC, id DESC))[1] AS last_id
           FROM gone`,
    values: [orgId, from, to, after.at, after.id, limit],
  };
}

/** Deletes up to `limit` of the org's rows of a registered table older than `before`. */
export function deleteTableBatch(
  entry: RetentionTable,
  orgId: string,
  before: Date,
  limit: number,
): Statement {
  const t = pg.escapeIdentifier(entry.table);
  const col = pg.escapeIdentifier(entry.timeColumn);
  return {
    text: `DELETE FROM ${t} WHERE (tableoid, ctid) IN (
             SELECT tableoid, ctid FROM ${t} WHERE org_id = $1 AND ${col} < $2 LIMIT $3
           )`,
    values: [orgId, before, limit],
  };
}

/** Monthly tables detached from ai_events by a run that stopped before dropping them. */
export function detachedMonthlyTables(): Statement {
  return {
    text: `SELECT relname AS name FROM pg_class
           WHERE relname ~ '^ai_events_[0-9]{6}$' AND relkind = 'r' AND NOT relispartition
             AND pg_table_is_visible(oid)
           ORDER BY relname`,
    values: [],
  };
}

/** The monthly partitions of ai_events (`ai_events_YYYYMM`), oldest first. */
export function monthlyPartitions(): Statement {
  return {
    text: `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'ai_events'::regclass AND c.relname ~ '^ai_events_[0-9]{6}$'
           ORDER BY c.relname`,
    values: [],
  };
}

export function setPending(orgId: string, from: Date, to: Date): Statement {
  return {
    text: `INSERT INTO retention_pending (org_id, range_from, range_to) VALUES ($1, $2, $3)
           ON CONFLICT (org_id) DO UPDATE SET range_from = $2, range_to = $3, archived_rows = NULL, started_at = now()`,
    values: [orgId, from, to],
  };
}

/** The archive of the pending range resolved (written, read back, verified) with `rows` rows. */
export function pendingArchived(orgId: string, rows: number): Statement {
  return { text: 'UPDATE retention_pending SET archived_rows = $2 WHERE org_id = $1', values: [orgId, rows] };
}

export function clearPending(orgId: string): Statement {
  return { text: 'DELETE FROM retention_pending WHERE org_id = $1', values: [orgId] };
}

export function listPending(orgId?: string): Statement {
  return {
    text: `SELECT org_id, range_from, range_to, archived_rows::int AS archived_rows FROM retention_pending
           WHERE $1::text IS NULL OR org_id = $1 ORDER BY org_id`,
    values: [orgId ?? null],
  };
}

export function recordRun(startedAt: Date, orgId: string | undefined, report: unknown): Statement {
  return {
    text: 'INSERT INTO retention_runs (started_at, org_id, report) VALUES ($1, $2, $3)',
    values: [startedAt, orgId ?? null, JSON.stringify(report)],
  };
}

/** When the newest full run (all orgs) finished, or null. */
export function lastFullRun(): Statement {
  return {
    text: 'SELECT max(finished_at) AS at FROM retention_runs WHERE org_id IS NULL',
    values: [],
  };
}
