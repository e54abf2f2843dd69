import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import { main } from '../cli/main.ts';
import { ensureOrg } from '../keys/keys.ts';
import { AuditTrail } from './trail.ts';
import { verifyAudit } from './verify.ts';

const db = await createTestDatabase();
const KEY = randomBytes(32).toString('base64url');
const trail = new AuditTrail(Buffer.from(KEY, 'utf8'));
// Tampering is what this file is about: the append-only trigger would refuse it, as it refuses the service.
await db.pool.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');

/** An org whose chain holds `count` rows; returns their ids in chain order. */
async function chainOf(orgId: string, count = 5): Promise<string[]> {
  await ensureOrg(db.pool, orgId);
  for (let i = 1; i <= count; i++) {
    await trail.record(db.pool, {
      orgId,
      actor: `key-${i}`,
      action: 'keys.create',
      target: `target-${i}`,
      ip: '10.0.0.1',
      details: { role: 'viewer', n: i, nested: { b: [1, 2], a: 'x' } },
    });
  }
  const { rows } = await db.pool.query<{ id: string }>(
    'SELECT id::text FROM audit_log WHERE org_id = $1 ORDER BY seq',
    [orgId],
  );
  return rows.map((r) => r.id);
}

async function verify(orgId?: string) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    ['audit', 'verify', ...(orgId ? ['--org', orgId] : [])],
    { out: (t) => out.push(t), err: (t) => err.push(t) },
    { DATABASE_URL: db.url, OBSERVATORY_AUDIT_KEY: KEY, LOG_LEVEL: 'silent' },
  );
  return { code, stdout: out.join(''), stderr: err.join('') };
}

async function problemOf(orgId: string) {
  const [report] = await verifyAudit(db.pool, Buffer.from(KEY, 'utf8'), orgId);
  return report!.problem;
}

describe('observatory audit verify', () => {
  it('passes an untouched chain, and fails it with another key', async () => {
    await chainOf('intact');
    expect(await verify('intact')).toMatchObject({ code: 0, stdout: 'org intact: 5 rows intact\n' });
    const [report] = await verifyAudit(db.pool, randomBytes(32), 'intact');
    expect(report!.problem).toMatchObject({ kind: 'edited', seq: '1' });
    expect(report!.problem!.message).toMatch(/not the one that wrote/);
  });

  it('names an edited row', async () => {
    const ids = await chainOf('edit');
    await db.pool.query(`UPDATE audit_log SET details = details || '{"role":"org_admin"}' WHERE id = $1`, [
      ids[2],
    ]);
    expect(await problemOf('edit')).toMatchObject({ kind: 'edited', id: ids[2], seq: '3' });
    const result = await verify('edit');
    expect(result.code).toBe(1);
    expect(result.stdout).toBe(
      `org edit: TAMPERED: row ${ids[2]} (seq 3) was edited: its HMAC does not match its content\n`,
    );
    expect(result.stderr).toBe('observatory: audit verify: 1 of 1 chains failed\n');
  });

  it('names a row edited together with its stored hash fields', async () => {
    const ids = await chainOf('edit-time');
    await db.pool.query(`UPDATE audit_log SET created_at = created_at - interval '1 day' WHERE id = $1`, [
      ids[0],
    ]);
    expect(await problemOf('edit-time')).toMatchObject({ kind: 'edited', id: ids[0] });
  });

  it('names a deleted row, in the middle and at the end', async () => {
    const ids = await chainOf('delete');
    await db.pool.query('DELETE FROM audit_log WHERE id = $1', [ids[1]]);
    expect(await problemOf('delete')).toMatchObject({ kind: 'deleted', id: ids[2] });
    expect((await problemOf('delete'))!.message).toMatch(/seq 2 were deleted/);

    const tail = await chainOf('delete-tail');
    await db.pool.query('DELETE FROM audit_log WHERE id = $1', [tail[4]]);
    expect(await problemOf('delete-tail')).toMatchObject({ kind: 'deleted', id: null });
    expect((await problemOf('delete-tail'))!.message).toMatch(/seq 5 at the end of the chain/);
  });

  it('names a row deleted with the rows after it renumbered to hide the gap', async () => {
    const ids = await chainOf('delete-renumber');
    await db.pool.query('DELETE FROM audit_log WHERE id = $1', [ids[1]]);
    // In two steps: the chain's unique (org, seq) index would refuse a row moving onto its neighbour's number.
    await db.pool.query(`UPDATE audit_log SET seq = seq + 100 WHERE org_id = 'delete-renumber' AND seq > 2`);
    await db.pool.query(
      `UPDATE audit_log SET seq = seq - 101 WHERE org_id = 'delete-renumber' AND seq > 100`,
    );
    await db.pool.query(`UPDATE audit_chain_heads SET seq = seq - 1 WHERE chain = 'delete-renumber'`);
    expect(await problemOf('delete-renumber')).toMatchObject({ kind: 'deleted', id: ids[2] });
  });

  it('names an inserted row: forged, copied, or without chain fields', async () => {
    const ids = await chainOf('insert');
    // A forged row slotted in as seq 3, the rows after it moved up by one.
    await db.pool.query(`UPDATE audit_log SET seq = seq + 100 WHERE org_id = 'insert' AND seq >= 3`);
    await db.pool.query(`UPDATE audit_log SET seq = seq - 99 WHERE org_id = 'insert' AND seq >= 100`);
    const { rows } = await db.pool.query<{ id: string }>(
      `INSERT INTO audit_log (org_id, actor, action, target, details, created_at, seq, prev_hash, hmac)
       SELECT org_id, 'intruder', 'keys.revoke', target, details, created_at, 3, hmac, $2
       FROM audit_log WHERE id = $1 RETURNING id::text`,
      [ids[1], randomBytes(32)],
    );
    await db.pool.query(`UPDATE audit_chain_heads SET seq = seq + 1 WHERE chain = 'insert'`);
    expect(await problemOf('insert')).toMatchObject({ kind: 'inserted', id: rows[0]!.id, seq: '3' });

    const copied = await chainOf('insert-copy');
    await db.pool.query(`UPDATE audit_log SET seq = seq + 1 WHERE org_id = 'insert-copy' AND seq >= 4`);
    const { rows: copy } = await db.pool.query<{ id: string }>(
      `INSERT INTO audit_log (org_id, actor, action, target, ip, details, created_at, seq, prev_hash, hmac)
       SELECT org_id, actor, action, target, ip, details, created_at, 4, prev_hash, hmac
       FROM audit_log WHERE id = $1 RETURNING id::text`,
      [copied[1]],
    );
    await db.pool.query(`UPDATE audit_chain_heads SET seq = seq + 1 WHERE chain = 'insert-copy'`);
    expect(await problemOf('insert-copy')).toMatchObject({ kind: 'inserted', id: copy[0]!.id });
    expect((await problemOf('insert-copy'))!.message).toMatch(`it copies row ${copied[1]}`);

    await chainOf('insert-bare');
    const { rows: bare } = await db.pool.query<{ id: string }>(
      `INSERT INTO audit_log (org_id, actor, action) VALUES ('insert-bare', 'intruder', 'keys.create') RETURNING id::text`,
    );
    expect(await problemOf('insert-bare')).toMatchObject({ kind: 'inserted', id: bare[0]!.id });
  });

  it('names a reordered row when two rows swap places', async () => {
    const ids = await chainOf('swap');
    await db.pool.query('UPDATE audit_log SET seq = seq + 100 WHERE id IN ($1, $2)', [ids[1], ids[2]]);
    await db.pool.query('UPDATE audit_log SET seq = CASE id WHEN $1 THEN 3 ELSE 2 END WHERE id IN ($1, $2)', [
      ids[1],
      ids[2],
    ]);
    expect(await problemOf('swap')).toMatchObject({ kind: 'reordered', id: ids[2], seq: '2' });
    expect((await problemOf('swap'))!.message).toMatch(`belongs right after row ${ids[1]}`);
  });

  it('keeps the chains of two orgs independent, and checks every chain without --org', async () => {
    await chainOf('alpha', 3);
    await chainOf('beta', 3);
    // Interleaved appends: each org's chain only links its own rows.
    await trail.record(db.pool, { orgId: 'alpha', actor: 'cli', action: 'keys.revoke' });
    await trail.record(db.pool, { orgId: 'beta', actor: 'cli', action: 'keys.revoke' });
    await trail.record(db.pool, { orgId: 'alpha', actor: 'cli', action: 'keys.revoke' });
    const beta = await db.pool.query<{ id: string }>(
      `SELECT id::text FROM audit_log WHERE org_id = 'beta' AND seq = 2`,
    );
    await db.pool.query(`UPDATE audit_log SET actor = 'someone else' WHERE id = $1`, [beta.rows[0]!.id]);
    expect(await verify('alpha')).toMatchObject({ code: 0, stdout: 'org alpha: 5 rows intact\n' });
    expect((await verify('beta')).code).toBe(1);

    const all = await verify();
    expect(all.code).toBe(1);
    expect(all.stdout).toContain('org alpha: 5 rows intact\n');
    expect(all.stdout).toContain('org intact: 5 rows intact\n');
    expect(all.stdout).toContain(`org beta: TAMPERED: row ${beta.rows[0]!.id} (seq 2) was edited`);
  });

  it('serialises concurrent appends of one org into one unbroken chain', async () => {
    await ensureOrg(db.pool, 'busy');
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        trail.record(db.pool, { orgId: 'busy', actor: `key-${i}`, action: 'alert.ack' }),
      ),
    );
    expect(await verify('busy')).toMatchObject({ code: 0, stdout: 'org busy: 20 rows intact\n' });
  });

  it('writes nothing when the action it records rolls back', async () => {
    await ensureOrg(db.pool, 'rollback');
    await trail.record(db.pool, { orgId: 'rollback', actor: 'cli', action: 'keys.create' });
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await trail.append(client, { orgId: 'rollback', actor: 'cli', action: 'keys.revoke' });
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    await trail.record(db.pool, { orgId: 'rollback', actor: 'cli', action: 'keys.create' });
    expect(await verify('rollback')).toMatchObject({ code: 0, stdout: 'org rollback: 2 rows intact\n' });
  });
});
