import { ADVISORY_LOCKS } from '@observatory/exporter-postgres';
import type { SqlStatement } from '../db/sql-statement.ts';
import type { ExportFormat } from './job.ts';

/** Every statement the export jobs run, as parameterised SQL. Nothing else in exports/ writes SQL. */

const COLUMNS = `id, org_id, created_by, status, format, gzip, filters, row_count, file_size, storage_key, error,
  attempts, locked_by, lease_until, created_at, started_at, completed_at, expires_at`;

export function insertJob(job: {
  id: string;
  orgId: string;
  createdBy: string;
  format: ExportFormat;
  gzip: boolean;
  filters: Record<string, unknown>;
}): SqlStatement {
  return {
    text: `INSERT INTO exports (id, org_id, created_by, format, gzip, filters)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
    values: [job.id, job.orgId, job.createdBy, job.format, job.gzip, JSON.stringify(job.filters)],
  };
}

/** Serialises job creation per org for the rate-limit check; run inside the creating transaction. */
export function lockOrgForCreate(orgId: string): SqlStatement {
  return {
    text: 'SELECT pg_advisory_xact_lock($1, hashtext($2))',
    values: [ADVISORY_LOCKS.exportCreate, orgId],
  };
}

/** How many jobs the org created within the window, and when the oldest of them leaves it. */
export function recentJobs(orgId: string, windowSeconds: number): SqlStatement {
  return {
    text: `SELECT count(*)::int AS count,
                  ceil(extract(epoch FROM min(created_at) + make_interval(secs => $2) - now()))::int AS retry_after
           FROM exports WHERE org_id = $1 AND created_at > now() - make_interval(secs => $2)`,
    values: [orgId, windowSeconds],
  };
}

export function jobById(id: string, orgId: string): SqlStatement {
  return { text: `SELECT ${COLUMNS} FROM exports WHERE id = $1 AND org_id = $2`, values: [id, orgId] };
}

/**
 * The job behind a signed download link, and whether the link still stands: the key that created the job and the
 * key the link was issued to must both still be unrevoked, so revoking either one ends every link it led to.
 */
export function jobForDownload(id: string, orgId: string, issuedTo: string): SqlStatement {
  return {
    text: `SELECT ${COLUMNS},
             NOT EXISTS (SELECT 1 FROM api_keys k
                         WHERE k.id IN (exports.created_by, $3::uuid) AND k.revoked_at IS NOT NULL)
               AND exports.created_by IS NOT NULL AS keys_active
           FROM exports WHERE id = $1 AND org_id = $2`,
    values: [id, orgId, issuedTo],
  };
}

export function jobsOfOrg(orgId: string, limit: number): SqlStatement {
  return {
    text: `SELECT ${COLUMNS} FROM exports WHERE org_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`,
    values: [orgId, limit],
  };
}

/**
 * Claims up to `limit` jobs for `workerId` in one statement: pending jobs, and running jobs whose worker
 * let the lease expire. SKIP LOCKED lets several workers claim at once without waiting or sharing a job.
 */
export function claimJobs(
  workerId: string,
  limit: number,
  leaseSeconds: number,
  maxAttempts: number,
): SqlStatement {
  return {
    text: `WITH next AS (
             SELECT id FROM exports
             WHERE (status = 'pending' OR (status = 'running' AND lease_until < now()))
               AND attempts < $4
             ORDER BY created_at
             LIMIT $2
             FOR UPDATE SKIP LOCKED
           )
           UPDATE exports e
           SET status = 'running', attempts = e.attempts + 1, locked_by = $1, error = NULL,
               lease_until = now() + make_interval(secs => $3), started_at = coalesce(e.started_at, now())
           FROM next WHERE e.id = next.id
           RETURNING ${COLUMNS.replace(/(\w+)/g, 'e.$1')}`,
    values: [workerId, limit, leaseSeconds, maxAttempts],
  };
}

/** Jobs whose worker died on their last allowed attempt: nobody will claim them again, so they fail. */
export function failAbandonedJobs(maxAttempts: number, failedTtlSeconds: number): SqlStatement {
  return {
    text: `UPDATE exports
           SET status = 'failed', locked_by = NULL, lease_until = NULL, completed_at = now(),
               expires_at = now() + make_interval(secs => $2),
               error = 'The worker running this export stopped ' || attempts || ' times before finishing; giving up'
           WHERE status = 'running' AND lease_until < now() AND attempts >= $1
           RETURNING id, format`,
    values: [maxAttempts, failedTtlSeconds],
  };
}

/** Extends the lease; returns no row when the job is no longer this worker's. */
export function extendLease(id: string, workerId: string, leaseSeconds: number): SqlStatement {
  return {
    text: `UPDATE exports SET lease_until = now() + make_interval(secs => $3)
           WHERE id = $1 AND locked_by = $2 AND status = 'running' RETURNING id`,
    values: [id, workerId, leaseSeconds],
  };
}

export function completeJob(
  id: string,
  workerId: string,
  result: { storageKey: string; rowCount: number; fileSize: number; ttlSeconds: number },
): SqlStatement {
  return {
    text: `UPDATE exports
           SET status = 'completed', storage_key = $3, row_count = $4, file_size = $5, completed_at = now(),
               expires_at = now() + make_interval(secs => $6), locked_by = NULL, lease_until = NULL, error = NULL
           WHERE id = $1 AND locked_by = $2 AND status = 'running' RETURNING id`,
    values: [id, workerId, result.storageKey, result.rowCount, result.fileSize, result.ttlSeconds],
  };
}

/** Records a failed attempt: back to pending while attempts remain, else failed for good. */
export function failAttempt(
  id: string,
  workerId: string,
  error: string,
  maxAttempts: number,
  failedTtlSeconds: number,
): SqlStatement {
  return {
    text: `UPDATE exports
           SET status = CASE WHEN attempts >= $4 THEN 'failed' ELSE 'pending' END,
               completed_at = CASE WHEN attempts >= $4 THEN now() END,
               expires_at = CASE WHEN attempts >= $4 THEN now() + make_interval(secs => $5) END,
               error = $3, locked_by = NULL, lease_until = NULL
           WHERE id = $1 AND locked_by = $2 AND status = 'running' RETURNING status`,
    values: [id, workerId, error, maxAttempts, failedTtlSeconds],
  };
}

/** Expired jobs (completed files past their time, failed rows past theirs), oldest first. */
export function expiredJobs(limit: number): SqlStatement {
  return {
    text: `SELECT id, storage_key FROM exports
           WHERE expires_at < now() AND status IN ('completed', 'failed')
           ORDER BY expires_at LIMIT $1`,
    values: [limit],
  };
}

export function deleteJob(id: string): SqlStatement {
  return { text: 'DELETE FROM exports WHERE id = $1', values: [id] };
}

/** The rows of one export, newest first like /events, with the job's filters applied. */
export function exportRows(where: SqlStatement, columns: readonly string[]): SqlStatement {
  return {
    text: `SELECT ${columns.join(', ')} FROM ai_events WHERE ${where.text} ORDER BY created_at DESC, id DESC`,
    values: where.values,
  };
}
