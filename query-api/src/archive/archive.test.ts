import { appendFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedEdgeEvents, textRows } from '../../../test-support/archive-rows.ts';
import { createTestDatabase } from '../../../test-support/database.ts';
import { seedEvents } from '../../../test-support/export-events.ts';
import { comparable, readParquetAsText } from '../../../test-support/parquet-reader.ts';
import { LocalStorage } from '../exports/local-storage.ts';
import { type ArchiveManifest, ArchiveVerificationError, archiveEvents } from './archive.ts';
import { restoreEvents } from './restore.ts';

const db = await createTestDatabase();
const dir = await mkdtemp(join(tmpdir(), 'observatory-archive-'));
const storage = await new LocalStorage(dir).init();
const deps = { pool: db.pool, storage, partRows: 1000 };

const march = { from: new Date('2024-03-01T00:00:00Z'), to: new Date('2024-04-01T00:00:00Z') };

async function filesOf(manifests: ArchiveManifest[]) {
  return Promise.all(manifests.map((m) => readParquetAsText(join(dir, m.storage_key))));
}

async function storedFiles(under = dir): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(under, { withFileTypes: true })) {
    const path = join(under, entry.name);
    if (entry.isDirectory()) found.push(...(await storedFiles(path)));
    else if (/\.(parquet|json)$/.test(entry.name)) found.push(path);
  }
  return found.sort();
}

beforeAll(async () => {
  await seedEvents(db.pool, 'acme', 2500, new Date('2024-03-20T12:00:00Z'));
  await seedEdgeEvents(db.pool, 'acme', new Date('2024-03-10T08:00:00Z'));
  await seedEvents(db.pool, 'beta', 300, new Date('2024-03-05T00:00:00Z'));
  // Outside March: April's rows and (one a second before 1 March) February's stay out of its archive.
  await seedEvents(db.pool, 'acme', 10, new Date('2024-04-01T00:00:10Z'));
  await seedEvents(db.pool, 'acme', 10, new Date('2024-03-01T00:00:00Z'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('archiveEvents', () => {
  it("writes a month of two orgs' rows to Parquet parts that an independent reader reads back row for row", async () => {
    const expected = await textRows(db.pool, 'acme', march.from, march.to);
    expect(expected.length).toBe(2500 + 2);

    const manifests = await archiveEvents(deps, 'acme', march.from, march.to);
    expect(manifests.length).toBeGreaterThanOrEqual(2);
    expect(manifests.map((m) => m.part)).toEqual(manifests.map((_, i) => i));
    expect(manifests.reduce((n, m) => n + m.row_count, 0)).toBe(expected.length);
    for (const m of manifests) {
      expect(m).toMatchObject({
        org_id: 'acme',
        month: '2024-03',
        range_from: march.from,
        range_to: march.to,
      });
      expect(m.storage_key).toMatch(/^acme\/2024-03\/part-\d+-[0-9a-f]{16}\.parquet$/);
      const sidecar = JSON.parse(await readFile(join(dir, `${m.storage_key}.json`), 'utf8'));
      expect(sidecar).toEqual(JSON.parse(JSON.stringify(m)));
    }
    const read = (await filesOf(manifests)).flat();
    expect(read).toEqual(comparable(expected));

    const beta = await archiveEvents(deps, 'beta', march.from, march.to);
    expect(beta.map((m) => m.row_count)).toEqual([300]);
    expect((await filesOf(beta)).flat()).toEqual(
      comparable(await textRows(db.pool, 'beta', march.from, march.to)),
    );

    const { rows } = await db.pool.query(
      'SELECT org_id, count(*)::int AS n FROM archives GROUP BY 1 ORDER BY 1',
    );
    expect(rows).toEqual([
      { org_id: 'acme', n: manifests.length },
      { org_id: 'beta', n: 1 },
    ]);
  });

  it('archiving the same range again replaces its manifests and files instead of adding to them', async () => {
    const before = await storedFiles();
    const again = await archiveEvents(deps, 'acme', march.from, march.to);
    const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM archives WHERE org_id = 'acme'");
    expect(rows[0].n).toBe(again.length);
    expect(await storedFiles()).toEqual(before);
  });

  it('keeps rows already deleted from the table when the range is archived again', async () => {
    const expected = await textRows(db.pool, 'acme', march.from, march.to);
    await db.pool.query(
      `DELETE FROM ai_events WHERE org_id = 'acme' AND created_at >= $1 AND created_at < $2 AND input_tokens % 2 = 0`,
      [march.from, new Date('2024-03-15T00:00:00Z')],
    );
    const manifests = await archiveEvents(deps, 'acme', march.from, march.to);
    expect((await filesOf(manifests)).flat()).toEqual(comparable(expected));
  });

  it('splits a range across months and keeps a part of a month apart from the whole month', async () => {
    const manifests = await archiveEvents(
      deps,
      'acme',
      new Date('2024-03-31T00:00:00Z'),
      new Date('2024-04-02T00:00:00Z'),
    );
    expect(manifests.map((m) => [m.month, m.row_count])).toEqual([['2024-04', 10]]);
    expect(manifests[0]!.storage_key).toMatch(/^acme\/2024-04\/20240401T000000000Z-20240402T000000000Z\//);
  });
});

describe('restoreEvents', () => {
  it('brings every row of an emptied range back identical, and a second restore adds nothing', async () => {
    // The row deleted before the last archive run is only in the archive: restoring brings it back too.
    const archived = (
      await db.pool.query(
        "SELECT sum(row_count)::int AS n FROM archives WHERE org_id = 'acme' AND month = '2024-03'",
      )
    ).rows[0].n;
    expect((await restoreEvents(deps, 'acme', march.from, march.to)).inserted).toBe(1);
    const expected = await textRows(db.pool, 'acme', march.from, march.to);
    expect(expected).toHaveLength(archived);
    await db.pool.query(
      `DELETE FROM ai_events WHERE org_id = 'acme' AND created_at >= $1 AND created_at < $2`,
      [march.from, march.to],
    );
    const deltas = async () => (await db.pool.query('SELECT count(*) AS n FROM ai_rollup_pending')).rows[0].n;
    const deltasBefore = await deltas();
    expect(Number(deltasBefore)).toBeGreaterThan(0);
    const first = await restoreEvents(deps, 'acme', march.from, march.to);
    expect(first.inserted).toBe(expected.length);
    // Rollups counted these events when they first arrived: restoring them adds nothing there.
    expect(await deltas()).toBe(deltasBefore);
    expect(await textRows(db.pool, 'acme', march.from, march.to)).toEqual(expected);

    const second = await restoreEvents(deps, 'acme', march.from, march.to);
    expect(second).toMatchObject({ rows: expected.length, inserted: 0 });
    expect(await textRows(db.pool, 'acme', march.from, march.to)).toEqual(expected);
  });

  it('restores only the rows inside the range and only the org asked for', async () => {
    const from = new Date('2024-03-20T11:00:00Z');
    const to = new Date('2024-03-20T11:30:00Z');
    const expected = await textRows(db.pool, 'acme', from, to);
    await db.pool.query(`DELETE FROM ai_events WHERE created_at >= $1`, [march.from]);
    const result = await restoreEvents(deps, 'acme', from, to);
    expect(result.inserted).toBe(expected.length);
    const { rows } = await db.pool.query('SELECT org_id, count(*)::int AS n FROM ai_events GROUP BY 1');
    // What is left: the restored rows and acme's February rows, which were never deleted.
    expect(rows).toEqual([{ org_id: 'acme', n: expected.length + 10 }]);
  });

  it('refuses a file that no longer matches its manifest, and archiving refuses to build on it', async () => {
    const [manifest] = (await db.pool.query("SELECT storage_key FROM archives WHERE org_id = 'beta'")).rows;
    await appendFile(join(dir, manifest.storage_key), 'tampered');
    const range = { from: march.from, to: march.to };
    await expect(restoreEvents(deps, 'beta', range.from, range.to)).rejects.toThrow(ArchiveVerificationError);
    await expect(restoreEvents(deps, 'beta', range.from, range.to)).rejects.toThrow(
      /has SHA-256 [0-9a-f]{64}, expected/,
    );
    // A late row arrives: archiving merges the earlier file, and must not merge a damaged one.
    await seedEvents(db.pool, 'beta', 1, new Date('2024-03-07T00:00:00Z'));
    await expect(archiveEvents(deps, 'beta', range.from, range.to)).rejects.toThrow(ArchiveVerificationError);
    const { rows } = await db.pool.query("SELECT storage_key FROM archives WHERE org_id = 'beta'");
    expect(rows).toEqual([manifest]);
  });
});
