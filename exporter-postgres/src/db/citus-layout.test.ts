import { describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import { CITUS_LAYOUT } from './citus-layout.ts';

// The migrated schema against the rules Citus enforces when tables are distributed (Citus cannot be installed here,
// so its rules are checked through pg_catalog): https://docs.citusdata.com/en/stable/develop/reference_ddl.html

const db = await createTestDatabase();
const distributed = new Set<string>(CITUS_LAYOUT.distributed);
const reference = new Set(Object.keys(CITUS_LAYOUT.reference));
const local = new Set<string>(CITUS_LAYOUT.local);

/** Top-level tables of the public schema (partitions are Citus's business once their parent is distributed). */
async function tables(): Promise<{ name: string; orgId: 'not null' | 'null' | undefined }[]> {
  const { rows } = await db.pool.query<{ name: string; not_null: boolean | null }>(
    `SELECT c.relname AS name, a.attnotnull AS not_null
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'org_id' AND NOT a.attisdropped
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition`,
  );
  return rows.map((r) => ({
    name: r.name,
    orgId: r.not_null === null ? undefined : r.not_null ? 'not null' : 'null',
  }));
}

describe('the schema on Citus (CITUS_LAYOUT)', () => {
  it('places every table once: distributed, reference or local', async () => {
    const names = (await tables()).map((t) => t.name).sort();
    expect(names).toEqual([...distributed, ...reference, ...local].sort());
    for (const name of distributed) expect(reference.has(name) || local.has(name), name).toBe(false);
  });

  it('distributes only tables with a NOT NULL org_id (the distribution column)', async () => {
    for (const t of await tables()) {
      if (distributed.has(t.name)) expect(t.orgId, t.name).toBe('not null');
    }
  });

  it('has org_id as a plain column in every primary key and unique index of a distributed table', async () => {
    const { rows } = await db.pool.query<{ table: string; index: string; columns: (string | null)[] }>(
      `SELECT c.relname AS table, i.relname AS index,
              array(SELECT a.attname FROM unnest(x.indkey) k LEFT JOIN pg_attribute a
                      ON a.attrelid = c.oid AND a.attnum = k) AS columns
         FROM pg_index x
         JOIN pg_class c ON c.oid = x.indrelid
         JOIN pg_class i ON i.oid = x.indexrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND x.indisunique AND NOT c.relispartition`,
    );
    const offending = rows
      .filter((r) => distributed.has(r.table) && !r.columns.includes('org_id'))
      .map((r) => `${r.table}.${r.index}`);
    expect(offending).toEqual([]);
    // The check sees the keys it must: every distributed table but the rollups' pending-key log has a unique key.
    expect(new Set(rows.filter((r) => distributed.has(r.table)).map((r) => r.table)).size).toBe(
      distributed.size - 1,
    );
  });

  it('has no foreign key from a reference table into a distributed one, nor between distributed tables without org_id', async () => {
    const { rows } = await db.pool.query<{ from: string; to: string; columns: string[] }>(
      `SELECT f.relname AS from, t.relname AS to,
              array(SELECT a.attname FROM unnest(k.conkey) n JOIN pg_attribute a
                      ON a.attrelid = k.conrelid AND a.attnum = n) AS columns
         FROM pg_constraint k
         JOIN pg_class f ON f.oid = k.conrelid
         JOIN pg_class t ON t.oid = k.confrelid
        WHERE k.contype = 'f' AND k.connamespace = 'public'::regnamespace AND NOT f.relispartition`,
    );
    expect(rows.length).toBeGreaterThan(5);
    const offending = rows.filter(
      (r) =>
        distributed.has(r.to) &&
        (reference.has(r.from) || local.has(r.from) || !r.columns.includes('org_id')),
    );
    expect(offending).toEqual([]);
  });
});
