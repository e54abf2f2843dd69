import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type pg from 'pg';
import { z } from 'zod';

export const RoleSchema = z.enum(['viewer', 'org_admin', 'ingest']);
export type Role = z.infer<typeof RoleSchema>;

/** Rights a key holds beyond its role: `traces:read` lets a viewer key read decision traces (content). */
export const ScopeSchema = z.enum(['traces:read']);
export type Scope = z.infer<typeof ScopeSchema>;

export interface ApiKeyInfo {
  id: string;
  org_id: string;
  name: string;
  role: Role;
  scopes: Scope[];
  key_prefix: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export interface CreatedKey extends ApiKeyInfo {
  /** The key itself: returned once, never stored. */
  key: string;
}

/** The identity a verified key grants. */
export interface Principal {
  keyId: string;
  orgId: string;
  role: Role;
  /** The key's scopes; absent means none. */
  scopes?: readonly Scope[];
}

const KEY_PREFIX = 'obs_';
const INFO_COLUMNS = 'id, org_id, name, role, scopes, key_prefix, created_at, last_used_at, revoked_at';

// Keys carry 192 random bits, so a fast unsalted hash is enough: nothing can be guessed from it.
export function hashKey(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

/** Creates the org if it is new, with its default alert rules (`migrations/0020_default_rules.sql`). */
export async function ensureOrg(db: pg.Pool | pg.PoolClient, orgId: string): Promise<void> {
  await db.query(
    `WITH created AS (INSERT INTO orgs (id, name) VALUES ($1, $1) ON CONFLICT (id) DO NOTHING RETURNING id)
     SELECT observatory_create_default_rules(id) FROM created`,
    [orgId],
  );
}

export async function createKey(
  db: pg.Pool | pg.PoolClient,
  input: { orgId: string; role: Role; name?: string | undefined; scopes?: readonly Scope[] | undefined },
): Promise<CreatedKey> {
  if (input.scopes?.length && input.role !== 'viewer') {
    throw new ScopeError(
      `scopes are for viewer keys: an ${input.role} key cannot hold ${input.scopes.join(', ')}`,
    );
  }
  const key = `${KEY_PREFIX}${randomBytes(24).toString('base64url')}`;
  await ensureOrg(db, input.orgId);
  const { rows } = await db.query<ApiKeyInfo>(
    `INSERT INTO api_keys (id, org_id, name, role, key_prefix, key_hash, scopes)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${INFO_COLUMNS}`,
    [
      randomUUID(),
      input.orgId,
      input.name ?? '',
      input.role,
      key.slice(0, 12),
      hashKey(key),
      [...new Set(input.scopes ?? [])],
    ],
  );
  return { ...rows[0]!, key };
}

/** A scope given to a key whose role cannot hold it (org_admin has every right already; ingest keys only write). */
export class ScopeError extends Error {
  override name = 'ScopeError';
}

export async function listKeys(pool: pg.Pool, orgId: string): Promise<ApiKeyInfo[]> {
  const { rows } = await pool.query<ApiKeyInfo>(
    `SELECT ${INFO_COLUMNS} FROM api_keys WHERE org_id = $1 ORDER BY created_at, id`,
    [orgId],
  );
  return rows;
}

/** Revokes a key; with `orgId`, only a key of that org. Returns the revoked key, or undefined if none matched. */
export async function revokeKey(
  db: pg.Pool | pg.PoolClient,
  keyId: string,
  orgId?: string,
): Promise<ApiKeyInfo | undefined> {
  const { rows } = await db.query<ApiKeyInfo>(
    `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
     WHERE id = $1 AND ($2::text IS NULL OR org_id = $2) RETURNING ${INFO_COLUMNS}`,
    [keyId, orgId ?? null],
  );
  return rows[0];
}

export async function verifyKey(pool: pg.Pool, key: string): Promise<Principal | undefined> {
  if (!key.startsWith(KEY_PREFIX)) return undefined;
  // One round trip; last_used_at is written at most once a minute so that busy keys cost no extra writes.
  const { rows } = await pool.query<{ id: string; org_id: string; role: Role; scopes: Scope[] }>(
    `WITH k AS (
       SELECT id, org_id, role, scopes, last_used_at FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL
     ), touched AS (
       UPDATE api_keys SET last_used_at = now() FROM k
       WHERE api_keys.id = k.id AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute')
     )
     SELECT id, org_id, role, scopes FROM k`,
    [hashKey(key)],
  );
  const row = rows[0];
  return row ? { keyId: row.id, orgId: row.org_id, role: row.role, scopes: row.scopes } : undefined;
}
