import type { Context } from 'hono';
import type { Principal } from '../keys/keys.ts';

export interface AuditEntry {
  orgId: string | null;
  /** Who acted: an API key id, or "cli" / "system". */
  actor: string;
  /** Dotted verb, e.g. "keys.create", "export.download", "alert.ack". */
  action: string;
  target?: string | null;
  ip?: string | null;
  details?: Record<string, unknown>;
}

/** The client address of a request served by @hono/node-server. */
export function clientIp(c: Context): string | null {
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  return incoming?.socket?.remoteAddress ?? null;
}

/** Audit entry fields for an action taken by the caller of an authenticated request. */
export function auditActor(c: Context, principal: Principal): Pick<AuditEntry, 'orgId' | 'actor' | 'ip'> {
  return { orgId: principal.orgId, actor: principal.keyId, ip: clientIp(c) };
}
