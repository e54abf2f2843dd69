import { describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import { createKey, listKeys, revokeKey, verifyKey } from './keys.ts';

const db = await createTestDatabase();

describe('API keys', () => {
  it('work once created, are stored only as a hash, and stop working when revoked', async () => {
    const created = await createKey(db.pool, { orgId: 'acme', role: 'viewer', name: 'ci' });
    expect(created.key).toMatch(/^obs_[A-Za-z0-9_-]{32}$/);
    expect(await verifyKey(db.pool, created.key)).toEqual({
      keyId: created.id,
      orgId: 'acme',
      role: 'viewer',
      scopes: [],
    });

    const { rows } = await db.pool.query('SELECT * FROM api_keys WHERE id = $1', [created.id]);
    const stored = JSON.stringify(rows[0], (_k, v) =>
      v?.type === 'Buffer' ? Buffer.from(v.data).toString('hex') : v,
    );
    expect(stored).not.toContain(created.key);
    expect(stored).not.toContain(created.key.slice(12));
    expect(rows[0].key_hash).toHaveLength(32);

    expect((await listKeys(db.pool, 'acme')).map((k) => k.id)).toEqual([created.id]);
    expect(await revokeKey(db.pool, created.id)).toMatchObject({ id: created.id });
    expect(await verifyKey(db.pool, created.key)).toBeUndefined();
  });

  it('refuse unknown keys and keys of another shape', async () => {
    expect(await verifyKey(db.pool, 'obs_not-a-real-key-at-all-000000000000')).toBeUndefined();
    expect(await verifyKey(db.pool, 'Bearer nonsense')).toBeUndefined();
  });

  it('only revoke within the given org', async () => {
    const other = await createKey(db.pool, { orgId: 'globex', role: 'org_admin' });
    expect(await revokeKey(db.pool, other.id, 'acme')).toBeUndefined();
    expect(await verifyKey(db.pool, other.key)).toMatchObject({ orgId: 'globex' });
  });
});
