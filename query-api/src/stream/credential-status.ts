import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { Credential } from '../http/auth.ts';

/** One presented key or session token, by its SHA-256 rather than the secret itself. */
export function credentialId({ kind, secret }: Credential): string {
  return `${kind}:${createHash('sha256').update(secret).digest('hex')}`;
}

/** Why a credential no longer grants access. */
export type CredentialEnd = 'key_revoked' | 'session_ended' | 'session_expired';

/** A credential open streams rely on: a key, or a console session of a key. */
export interface HeldCredential {
  keyId: string;
  /** Hex SHA-256 of the session token, for session-authenticated streams. */
  sessionHash?: string | undefined;
}

export interface CredentialStatus {
  liveKeyIds: ReadonlySet<string>;
  /** Sessions that still exist, by hash: true while unexpired. */
  sessions: ReadonlyMap<string, boolean>;
}

/** Every key and session asked about, in one round trip however many streams hold them. */
export async function fetchCredentialStatus(
  pool: pg.Pool,
  keyIds: readonly string[],
  sessionHashes: readonly string[],
): Promise<CredentialStatus> {
  const { rows } = await pool.query<{ kind: 'key' | 'session'; ref: string; live: boolean }>(
    `SELECT 'key' AS kind, id::text AS ref, revoked_at IS NULL AS live FROM api_keys WHERE id = ANY($1::uuid[])
     UNION ALL
     SELECT 'session', encode(token_hash, 'hex'), expires_at > now() FROM sessions
     WHERE token_hash = ANY(SELECT decode(h, 'hex') FROM unnest($2::text[]) AS h)`,
    [keyIds, sessionHashes],
  );
  const liveKeyIds = new Set<string>();
  const sessions = new Map<string, boolean>();
  for (const row of rows) {
    if (row.kind === 'key' && row.live) liveKeyIds.add(row.ref);
    if (row.kind === 'session') sessions.set(row.ref, row.live);
  }
  return { liveKeyIds, sessions };
}

export function credentialEnd(held: HeldCredential, status: CredentialStatus): CredentialEnd | undefined {
  if (!status.liveKeyIds.has(held.keyId)) return 'key_revoked';
  if (held.sessionHash === undefined) return undefined;
  const unexpired = status.sessions.get(held.sessionHash);
  if (unexpired === undefined) return 'session_ended';
  return unexpired ? undefined : 'session_expired';
}
