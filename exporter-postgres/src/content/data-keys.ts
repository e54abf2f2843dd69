import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { MasterKeyProvider } from './master-keys.ts';

type Db = pg.Pool | pg.PoolClient;

// Unwrapped data keys are kept this long, so a busy org costs one unwrap (one KMS call) per interval, not per batch.
const CACHE_MS = 5 * 60_000;

/** Per-org AES-256 data keys (`org_data_keys`), stored wrapped by the master key provider. */
export class DataKeys {
  private readonly cache = new Map<string, { key: Buffer; until: number }>();

  constructor(private readonly master: MasterKeyProvider) {}

  /** The org's data key, made (and stored wrapped) when the org has none and `create` is set. */
  async forOrg(db: Db, orgId: string, { create }: { create: boolean }): Promise<Buffer | undefined> {
    const cached = this.cache.get(orgId);
    if (cached && cached.until > Date.now()) return cached.key;
    let row = await this.read(db, orgId);
    if (!row && create) {
      const { wrapped, keyId } = await this.master.wrap(randomBytes(32));
      // Two processes may make one at once: the first insert wins and both use the stored one.
      await db.query(
        `INSERT INTO org_data_keys (org_id, wrapped_key, master_key_id) VALUES ($1, $2, $3)
         ON CONFLICT (org_id) DO NOTHING`,
        [orgId, wrapped, keyId],
      );
      row = await this.read(db, orgId);
    }
    if (!row) return undefined;
    const key = await this.master.unwrap(row.wrapped_key, row.master_key_id);
    this.cache.set(orgId, { key, until: Date.now() + CACHE_MS });
    return key;
  }

  private async read(db: Db, orgId: string) {
    const { rows } = await db.query<{ wrapped_key: Buffer; master_key_id: string }>(
      'SELECT wrapped_key, master_key_id FROM org_data_keys WHERE org_id = $1',
      [orgId],
    );
    return rows[0];
  }
}

/**
 * Re-wraps every data key not wrapped by the provider's current master key under it, in one transaction: the
 * ciphertexts are untouched, since the data keys themselves do not change. Returns how many were re-wrapped.
 */
export async function rewrapDataKeys(client: pg.PoolClient, master: MasterKeyProvider): Promise<number> {
  const { rows } = await client.query<{ org_id: string; wrapped_key: Buffer; master_key_id: string }>(
    'SELECT org_id, wrapped_key, master_key_id FROM org_data_keys WHERE master_key_id <> $1 ORDER BY org_id FOR UPDATE',
    [master.currentKeyId],
  );
  for (const row of rows) {
    const { wrapped, keyId } = await master.wrap(await master.unwrap(row.wrapped_key, row.master_key_id));
    await client.query(
      'UPDATE org_data_keys SET wrapped_key = $2, master_key_id = $3, rewrapped_at = now() WHERE org_id = $1',
      [row.org_id, wrapped, keyId],
    );
  }
  return rows.length;
}
