import { readFile } from 'node:fs/promises';
import type pg from 'pg';
import type { AckedBurst, ExportJob, StreamReport } from './protocol.ts';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** Span id → rows stored, for the org's soak spans. */
export async function storedSpans(pool: pg.Pool, orgId: string): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ span_id: string; n: number }>(
    `SELECT span_id, count(*)::int AS n FROM ai_events WHERE org_id = $1 AND service_name = 'soak' GROUP BY span_id`,
    [orgId],
  );
  return new Map(rows.map((r) => [r.span_id, r.n]));
}

/** Every acknowledged span is stored, and no span (acknowledged or not) is stored twice. */
export function checkSpans(orgId: string, acked: string[], stored: Map<string, number>): Check {
  const missing = acked.filter((id) => !stored.has(id));
  const duplicated = [...stored.values()].filter((n) => n > 1).length;
  return {
    name: `spans of ${orgId} stored exactly once`,
    ok: missing.length === 0 && duplicated === 0 && acked.length > 0,
    detail: `${acked.length} acknowledged, ${stored.size} stored, ${missing.length} acknowledged but missing${
      missing.length ? ` (e.g. ${missing.slice(0, 3).join(', ')})` : ''
    }, ${duplicated} stored more than once`,
  };
}

/** Each stream client received every event of its org stored after it first connected, and nothing of another org. */
export async function checkStream(
  pool: pg.Pool,
  orgId: string,
  index: number,
  report: StreamReport,
): Promise<Check> {
  const { rows } = await pool.query<{ span_id: string; received_at: Date }>(
    `SELECT span_id, received_at FROM ai_events WHERE org_id = $1 AND received_at >= $2`,
    [orgId, new Date(report.firstConnectedAt)],
  );
  const received = new Set(report.received);
  const missing = rows.filter((r) => !received.has(r.span_id));
  const times = missing.map((r) => r.received_at.getTime());
  const when = missing.length
    ? ` (received by the database from ${new Date(Math.min(...times)).toISOString()} to ${new Date(Math.max(...times)).toISOString()})`
    : '';
  return {
    name: `stream client ${index + 1} of ${orgId} got every event of its org`,
    ok: report.firstConnectedAt > 0 && missing.length === 0 && report.foreign === 0 && rows.length > 0,
    detail: `${rows.length} events since it connected, ${report.received.length} received, ${missing.length} missing${when}, ${
      report.foreign
    } of another org, ${report.duplicates} repeated, ${report.connects} connections`,
  };
}

/** Job id → "export completed" lines in the workers' logs: a job completed twice would have two. */
export async function completionsLogged(logFiles: string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const file of logFiles) {
    for (const line of (await readFile(file, 'utf8')).split('\n')) {
      if (!line.includes('"export completed"')) continue;
      const { job_id } = JSON.parse(line) as { job_id: string };
      counts.set(job_id, (counts.get(job_id) ?? 0) + 1);
    }
  }
  return counts;
}

/** Every export job a client created completed, exactly once, and its file holds the rows it claims. */
export async function checkExports(
  pool: pg.Pool,
  jobs: ExportJob[],
  logged: Map<string, number>,
): Promise<Check> {
  const { rows } = await pool.query<{
    id: string;
    status: string;
    attempts: number;
    error: string | null;
    row_count: number | null;
  }>('SELECT id, status, attempts, error, row_count::int AS row_count FROM exports WHERE id = ANY($1)', [
    jobs.map((j) => j.id),
  ]);
  const byId = new Map(rows.map((r) => [r.id, r]));
  const notCompleted = jobs.filter((j) => byId.get(j.id)?.status !== 'completed');
  const notOnce = jobs.filter((j) => logged.get(j.id) !== 1);
  const badFile = jobs.filter((j) => j.downloadedRows !== byId.get(j.id)?.row_count);
  const retried = rows.filter((r) => r.attempts > 1).length;
  const unfinished = notCompleted.map((j) => {
    const row = byId.get(j.id);
    return `${j.id}: ${row ? `${row.status} after ${row.attempts} attempts${row.error ? ` (${row.error})` : ''}` : 'not found'}`;
  });
  return {
    name: 'every export completed once',
    ok: jobs.length > 0 && notCompleted.length === 0 && notOnce.length === 0 && badFile.length === 0,
    detail: `${jobs.length} created, ${jobs.length - notCompleted.length} completed, ${notOnce.length} not completed exactly once, ${badFile.length} files not matching their row count, ${retried} taken over after a worker died${
      unfinished.length ? `; not completed: ${unfinished.join('; ')}` : ''
    }`,
  };
}

/**
 * The rule fired once per burst of its model and never twice within its cooldown: every alert of the rule opened at
 * least `cooldownSeconds` after the one before, and one alert per burst (bursts are shorter than the cooldown, so
 * one never fires twice; and further apart than it, while a burst's spans stay in the window for the burst plus the
 * window, so the cooldown of one alert ends before the next burst leaves the window). Each alert is paired with the
 * latest burst that began before it opened: no alert may open before the first burst, no burst may have two, and
 * every owed burst must have one. A burst is owed an alert only when one of its spans was acknowledged within
 * `windowSeconds / 2` and it began after the database outage's end plus the window, or ended before the outage
 * began: one acknowledged later (the request retried) or during the outage (into a replica's spill file, stored when
 * the database is back) may reach the table after the rule's window has passed it. On a machine so loaded that no
 * burst was acknowledged in time, only the upper bounds are checked; the report says so ("0 in time").
 */
export async function checkAlerts(
  pool: pg.Pool,
  rule: { id: string; cooldownSeconds: number; windowSeconds: number },
  bursts: AckedBurst[],
  { burstMs, outage }: { burstMs: number; outage: { from: number; to: number } },
): Promise<Check> {
  const { rows } = await pool.query<{ started_at: Date }>(
    'SELECT started_at FROM alerts WHERE rule_id = $1 ORDER BY started_at',
    [rule.id],
  );
  const gaps = rows.slice(1).map((r, i) => (r.started_at.getTime() - rows[i]!.started_at.getTime()) / 1000);
  const tooClose = gaps.filter((g) => g < rule.cooldownSeconds).length;
  const byStart = [...bursts].sort((a, b) => a.at - b.at);
  const alertsOf = new Map<AckedBurst, number>();
  let unpaired = 0;
  for (const { started_at } of rows) {
    const burst = byStart.findLast((b) => b.at <= started_at.getTime());
    if (burst) alertsOf.set(burst, (alertsOf.get(burst) ?? 0) + 1);
    else unpaired++;
  }
  const windowMs = rule.windowSeconds * 1000;
  const clearOfOutage = (b: AckedBurst) => b.at + burstMs < outage.from || b.at > outage.to + windowMs;
  const owed = bursts.filter((b) => b.firstAckMs <= windowMs / 2 && clearOfOutage(b));
  const unanswered = owed.filter((b) => !alertsOf.has(b)).length;
  const doubled = [...alertsOf.values()].filter((n) => n > 1).length;
  return {
    name: 'every alert fired once per cooldown',
    ok: tooClose === 0 && unpaired === 0 && unanswered === 0 && doubled === 0,
    detail: `${bursts.length} bursts acknowledged (${owed.length} in time to be owed an alert), ${rows.length} alerts (${
      unanswered
    } owed bursts without one, ${doubled} bursts with two or more, ${unpaired} before any burst), ${tooClose} within ${
      rule.cooldownSeconds
    } s of the one before (gaps ${gaps.map((g) => g.toFixed(0)).join(', ') || 'none'} s)`,
  };
}
