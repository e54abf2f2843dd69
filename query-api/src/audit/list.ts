import type pg from 'pg';
import { z } from 'zod';
import { storableText } from '../http/storable-text.ts';
import { DATES_OUT_OF_ORDER, datesInOrder, EVENT_FILTER_FIELDS } from '../query/filters.ts';
import type { AuditContent } from './chain.ts';

export const AuditQuerySchema = z
  .object({
    actor: storableText.min(1).max(200).optional().describe('key id, "cli" or "system"'),
    action: storableText.min(1).max(100).optional().describe('e.g. keys.create, export.download, alert.ack'),
    date_from: EVENT_FILTER_FIELDS.date_from,
    date_to: EVENT_FILTER_FIELDS.date_to,
    limit: z.coerce.number().int().min(1).max(500).default(100),
    cursor: z.string().max(200).optional().describe('next_cursor of the previous page'),
  })
  .refine(datesInOrder, DATES_OUT_OF_ORDER);
export type AuditQuery = z.infer<typeof AuditQuerySchema>;

/** One row of the org's trail as the API shows it (the org is the caller's). */
export interface AuditRow extends Omit<AuditContent, 'org_id'> {
  id: string;
  seq: string | null;
}

/** Where the previous page ended: newest first, by time and then id, so pages stay put while rows are appended. */
export interface AuditCursor {
  createdAt: Date;
  id: string;
}

export function encodeAuditCursor(row: AuditRow): string {
  return Buffer.from(`${row.created_at.toISOString()}|${row.id}`).toString('base64url');
}

export function decodeAuditCursor(text: string): AuditCursor | undefined {
  const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\|(\d{1,19})$/.exec(
    Buffer.from(text, 'base64url').toString('utf8'),
  );
  const createdAt = match ? new Date(match[1]!) : undefined;
  return match && createdAt && !Number.isNaN(createdAt.getTime()) ? { createdAt, id: match[2]! } : undefined;
}

/** One page of an org's audit rows, newest first, read along `audit_log_org_idx`. */
export async function listAudit(
  db: pg.Pool,
  orgId: string,
  query: Omit<AuditQuery, 'cursor'>,
  cursor: AuditCursor | undefined,
): Promise<{ items: AuditRow[]; next_cursor: string | null }> {
  const { rows } = await db.query<AuditRow>(
    `SELECT id::text, seq::text, actor, action, target, ip, details, created_at FROM audit_log
     WHERE org_id = $1 AND ($2::text IS NULL OR actor = $2) AND ($3::text IS NULL OR action = $3)
       AND ($4::timestamptz IS NULL OR created_at >= $4) AND ($5::timestamptz IS NULL OR created_at <= $5)
       AND ($6::timestamptz IS NULL OR (created_at, id) < ($6, $7::bigint))
     ORDER BY audit_log.created_at DESC, audit_log.id DESC LIMIT $8`,
    [
      orgId,
      query.actor ?? null,
      query.action ?? null,
      query.date_from ?? null,
      query.date_to ?? null,
      cursor?.createdAt ?? null,
      cursor?.id ?? null,
      query.limit + 1,
    ],
  );
  const more = rows.length > query.limit;
  const items = more ? rows.slice(0, query.limit) : rows;
  return { items, next_cursor: more ? encodeAuditCursor(items[items.length - 1]!) : null };
}
