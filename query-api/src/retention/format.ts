import type { RetentionReport } from './run.ts';

/** What `observatory retention run` prints: one line per org, then dropped partitions and what was left. */
export function formatReport(report: RetentionReport): string {
  if (!report.ran) return 'Another retention run holds the lock; nothing done\n';
  const lines = report.orgs.map(
    (o) =>
      `${o.org_id}: ${o.rows_archived} rows archived, ${o.rows_deleted} rows deleted, ` +
      `${o.partitions_dropped} partitions dropped, ${o.rollup_rows_deleted} rollup rows deleted`,
  );
  lines.push(`Partitions dropped: ${report.partitions_dropped.join(', ') || 'none'}`);
  for (const note of report.notes) lines.push(`Note: ${note}`);
  return `${lines.join('\n')}\n`;
}
