import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { textRows } from '../../../test-support/archive-rows.ts';
import { createTestDatabase } from '../../../test-support/database.ts';
import { seedEvents } from '../../../test-support/export-events.ts';
import { main } from '../cli/main.ts';
import { LocalStorage } from '../exports/local-storage.ts';
import { archiveEvents } from './archive.ts';

const db = await createTestDatabase();
const dataDir = await mkdtemp(join(tmpdir(), 'observatory-archive-cli-'));
const env = { DATABASE_URL: db.url, OBSERVATORY_DATA_DIR: dataDir, LOG_LEVEL: 'silent' };
const may = { from: new Date('2024-05-01T00:00:00Z'), to: new Date('2024-06-01T00:00:00Z') };

async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (t) => out.push(t), err: (t) => err.push(t) }, env);
  return { code, stdout: out.join(''), stderr: err.join('') };
}

beforeAll(async () => {
  await seedEvents(db.pool, 'acme', 1200, new Date('2024-05-10T00:00:00Z'));
  const storage = await new LocalStorage(join(dataDir, 'archive')).init();
  await archiveEvents({ pool: db.pool, storage }, 'acme', may.from, may.to);
});
afterAll(() => rm(dataDir, { recursive: true, force: true }));

describe('observatory archive', () => {
  it('lists the org’s archive files with their manifests', async () => {
    const listed = await cli(['archive', 'list', '--org', 'acme']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(
      /^2024-05 {2}part 0 {2}2024-05-01T00:00:00.000Z \.\. 2024-06-01T00:00:00.000Z {2}1200 rows {2}\d+ bytes {2}schema v1 {2}sha256 [0-9a-f]{64} {2}acme\/2024-05\/part-0-[0-9a-f]{16}\.parquet\n$/,
    );
    expect((await cli(['archive', 'list', '--org', 'other'])).stdout).toBe(
      'No archive files for org other\n',
    );
  });

  it('restores a range twice: the first run brings the rows back, the second adds nothing', async () => {
    const expected = await textRows(db.pool, 'acme', may.from, may.to);
    await db.pool.query("DELETE FROM ai_events WHERE org_id = 'acme'");
    const first = await cli([
      'archive',
      'restore',
      '--org',
      'acme',
      '--from',
      '2024-05-01',
      '--to',
      '2024-06-01',
    ]);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).toBe(
      'Restored 1200 of 1200 archived events of org acme from 1 file(s); 0 were already present\n',
    );
    expect(await textRows(db.pool, 'acme', may.from, may.to)).toEqual(expected);
    const second = await cli([
      'archive',
      'restore',
      '--org',
      'acme',
      '--from',
      '2024-05-01',
      '--to',
      '2024-06-01',
    ]);
    expect(second.stdout).toBe(
      'Restored 0 of 1200 archived events of org acme from 1 file(s); 1200 were already present\n',
    );
    const { rows } = await db.pool.query(
      "SELECT count(*)::int AS n FROM audit_log WHERE action = 'archive.restore'",
    );
    expect(rows[0].n).toBe(2);
  });

  it('refuses a bad date or an empty range in one line', async () => {
    const bad = await cli([
      'archive',
      'restore',
      '--org',
      'acme',
      '--from',
      'yesterday',
      '--to',
      '2024-06-01',
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^observatory: --from is invalid: expected YYYY-MM-DD or an ISO date-time/);
    const empty = await cli([
      'archive',
      'restore',
      '--org',
      'acme',
      '--from',
      '2024-06-01',
      '--to',
      '2024-05-01',
    ]);
    expect(empty.stderr).toBe('observatory: --from must be before --to\n');
  });

  it('prints a BigQuery schema with every column of ai_events, its nullability and a matching type', async () => {
    const printed = await cli(['archive', 'bigquery-schema']);
    const schema = JSON.parse(printed.stdout) as { name: string; type: string; mode: string }[];
    // xact_id is the live stream's position (0044), not part of an event: archives leave it out.
    const { rows } = await db.pool.query<{ name: string; type: string; nullable: string }>(
      `SELECT column_name AS name, data_type AS type, is_nullable AS nullable FROM information_schema.columns
       WHERE table_name = 'ai_events' AND table_schema = current_schema() AND column_name <> 'xact_id'
       ORDER BY column_name`,
    );
    const bigQueryTypeOf: Record<string, string> = {
      uuid: 'STRING',
      text: 'STRING',
      integer: 'INT64',
      bigint: 'INT64',
      'double precision': 'FLOAT64',
      numeric: 'BIGNUMERIC',
      boolean: 'BOOL',
      jsonb: 'STRING',
      'timestamp with time zone': 'TIMESTAMP',
    };
    expect(schema.map((f) => [f.name, f.type, f.mode]).sort()).toEqual(
      rows
        .map((c) => [c.name, bigQueryTypeOf[c.type], c.nullable === 'YES' ? 'NULLABLE' : 'REQUIRED'])
        .sort(),
    );
  });
});
