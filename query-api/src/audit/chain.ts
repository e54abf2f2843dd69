import { createHmac } from 'node:crypto';
import canonicalize from 'canonicalize';

/** The previous hash of a chain's first row. */
export const GENESIS = Buffer.alloc(32);

/** An audit row's own content: what it records, as stored. */
export interface AuditContent {
  org_id: string | null;
  actor: string;
  action: string;
  target: string | null;
  ip: string | null;
  details: Record<string, unknown>;
  created_at: Date;
}

/** What a row's HMAC covers. The sequence number is left out: the links between rows fix the order. */
export interface ChainedContent extends AuditContent {
  prev_hash: Buffer;
}

/**
 * HMAC-SHA256 over the RFC 8785 canonical JSON of the row: fixed field names, sorted keys at every depth, ISO
 * timestamps, so that the same row always gives the same bytes however PostgreSQL hands `details` back.
 */
export function rowMac(key: Buffer, row: ChainedContent): Buffer {
  const canonical = canonicalize({
    v: 1,
    org_id: row.org_id,
    actor: row.actor,
    action: row.action,
    target: row.target,
    ip: row.ip,
    details: row.details,
    created_at: row.created_at.toISOString(),
    prev_hash: row.prev_hash.toString('hex'),
  });
  return createHmac('sha256', key).update(canonical!, 'utf8').digest();
}

/** Each org has its own chain; rows without an org share the '' chain (no org id can be empty). */
export function chainOf(orgId: string | null): string {
  return orgId ?? '';
}

/** `details` as it will read back from jsonb: what JSON cannot hold (undefined, functions) dropped, dates as text. */
export function storedDetails(details: Record<string, unknown> | undefined): Record<string, unknown> {
  return JSON.parse(JSON.stringify(details ?? {})) as Record<string, unknown>;
}
