import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { Principal, Role, Scope } from './keys.ts';

export const SESSION_COOKIE = 'obs_session';
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

/** What is stored of a session token, and what identifies the session everywhere else. */
export const sessionTokenHash = (token: string) => createHash('sha256').update(token).digest();

/** A console session for a verified key: a random token (only its hash is stored) that expires. */
export async function createSession(
  pool: pg.Pool,
  principal: Principal,
): Promise<{ token: string; expiresAt: Date }> {
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(Date.now() + SESSION_TTL_MS);
  await pool.query(
    'INSERT INTO sessions (token_hash, key_id, org_id, role, expires_at) VALUES ($1, $2, $3, $4, $5)',
    [sessionTokenHash(token), principal.keyId, principal.orgId, principal.role, expiresAt],
  );
  // Housekeeping on the side: expired sessions are useless.
  await pool.query('DELETE FROM sessions WHERE expires_at < now()');
  return { token, expiresAt };
}

/** The session's principal, while it has not expired and its key is not revoked. */
export async function verifySession(pool: pg.Pool, token: string): Promise<Principal | undefined> {
  const { rows } = await pool.query<{ key_id: string; org_id: string; role: Role; scopes: Scope[] }>(
    `SELECT s.key_id, s.org_id, s.role, k.scopes FROM sessions s JOIN api_keys k ON k.id = s.key_id
     WHERE s.token_hash = $1 AND s.expires_at > now() AND k.revoked_at IS NULL`,
    [sessionTokenHash(token)],
  );
  const row = rows[0];
  return row ? { keyId: row.key_id, orgId: row.org_id, role: row.role, scopes: row.scopes } : undefined;
}

export async function endSession(pool: pg.Pool, token: string): Promise<void> {
  await pool.query('DELETE FROM sessions WHERE token_hash = $1', [sessionTokenHash(token)]);
}
