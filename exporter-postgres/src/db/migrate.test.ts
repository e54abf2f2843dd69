import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import { migrate } from './migrate.ts';
import { ensurePartitions } from './partitions.ts';

const db = await createTestDatabase({ empty: true });

async function insertEvent(createdAt: Date): Promise<string> {
  const id = randomUUID();
  await db.pool.query(
    `INSERT INTO ai_events (id, org_id, model_name, latency_ms, cost_source, success, created_at)
     VALUES ($1, 'acme', 'gpt-4o', 12.5, 'unpriced', true, $2)`,
    [id, createdAt],
  );
  return id;
}

async function partitionOf(id: string): Promise<string> {
  const { rows } = await db.pool.query(
    'SELECT tableoid::regclass::text AS part FROM ai_events WHERE id = $1',
    [id],
  );
  return rows[0].part;
}

describe('migrations', () => {
  it('apply on an empty database, record themselves, and re-apply as a no-op', async () => {
    const first = await migrate(db.pool);
    expect(first.map((m) => m.version)).toContain('0001');
    const { rows } = await db.pool.query('SELECT version FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual(first.map((m) => m.version));
    expect(await migrate(db.pool)).toEqual([]);
  });

  it('run concurrently from several processes apply each migration once', async () => {
    const results = await Promise.all([migrate(db.pool), migrate(db.pool), migrate(db.pool)]);
    expect(results.flat()).toEqual([]);
  });

  it('store rows of this month, next month and 1999 in partitions, readable back', async () => {
    const now = new Date();
    const created = await ensurePartitions(db.pool, now, 1);
    const thisMonth = `ai_events_${now.getUTCFullYear()}${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
    expect(created[0]).toBe(thisMonth);

    const nextMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 15));
    const ids = [
      await insertEvent(now),
      await insertEvent(nextMonth),
      await insertEvent(new Date('1999-06-01T12:00:00Z')),
    ];
    expect(await partitionOf(ids[0]!)).toBe(thisMonth);
    expect(await partitionOf(ids[1]!)).toBe(created[1]);
    expect(await partitionOf(ids[2]!)).toBe('ai_events_default');

    const { rows } = await db.pool.query('SELECT id FROM ai_events WHERE id = ANY($1)', [ids]);
    expect(rows).toHaveLength(3);
  });

  it('move rows out of the default partition when their month gets a partition later', async () => {
    const id = await insertEvent(new Date('1998-03-10T00:00:00Z'));
    expect(await partitionOf(id)).toBe('ai_events_default');
    await db.pool.query("SELECT ai_events_ensure_partition('1998-03-01Z')");
    expect(await partitionOf(id)).toBe('ai_events_199803');
  });

  it('keep audit_log append-only', async () => {
    await db.pool.query("INSERT INTO audit_log (actor, action) VALUES ('test', 'keys.create')");
    await expect(db.pool.query('DELETE FROM audit_log')).rejects.toThrow(/append-only/);
    await expect(db.pool.query("UPDATE audit_log SET action = 'x'")).rejects.toThrow(/append-only/);
  });
});
