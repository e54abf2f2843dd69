import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AI_EVENT_COLUMNS, type AiEvent } from '@observatory/exporter-postgres';
import { pino } from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { makeEvent } from '../../../exporter-postgres/test/make-event.ts';
import { createTestDatabase } from '../../../test-support/database.ts';
import { insertEvents } from '../../../test-support/insert-events.ts';
import { createApp } from '../app.ts';
import { restoreEvents } from '../archive/restore.ts';
import { main } from '../cli/main.ts';
import { loadConfig } from '../config.ts';
import { createArchiveStorage } from '../exports/service.ts';
import { createKey } from '../keys/keys.ts';
import { updateSettings } from '../settings/store.ts';
import { archiveRangeFor } from './archive-range.ts';
import { type ArchiveRange, runRetention } from './run.ts';

const db = await createTestDatabase();
const app = createApp({ pool: db.pool, logger: pino({ level: 'silent' }) });
const DAY = 86_400_000;
const ORGS = { short: 30, long: 180 } as const;
type Org = keyof typeof ORGS;

const viewers = {} as Record<Org, string>;
for (const org of Object.keys(ORGS) as Org[]) {
  viewers[org] = (await createKey(db.pool, { orgId: org, role: 'viewer' })).key;
}

/**
 * Stands in for the Parquet archive with the same contract: rows of [from, to) copied into a table, idempotent per
 * org × range (archiving a range again replaces what that range archived), resolving with the row count.
 */
await db.pool.query(`CREATE TABLE archived (LIKE ai_events, range_from timestamptz, range_to timestamptz)`);
const archive: ArchiveRange = async (orgId, from, to) => {
  await db.pool.query('DELETE FROM archived WHERE org_id = $1 AND range_from = $2 AND range_to = $3', [
    orgId,
    from,
    to,
  ]);
  const { rowCount } = await db.pool.query(
    `INSERT INTO archived SELECT *, $2::timestamptz, $3::timestamptz FROM ai_events
     WHERE org_id = $1 AND created_at >= $2 AND created_at < $3`,
    [orgId, from, to],
  );
  return rowCount ?? 0;
};

const daysAgo = (days: number, n = 0) => new Date(Date.now() - days * DAY + n * 1000);

/** `perAge` events of each org at each age in days, in partitions of their own month (created as the service does). */
async function seed(ages: number[], perAge = 3): Promise<AiEvent[]> {
  const events: AiEvent[] = [];
  for (const org of Object.keys(ORGS) as Org[]) {
    for (const age of ages) {
      for (let n = 0; n < perAge; n++) events.push(makeEvent({ org_id: org, created_at: daysAgo(age, n) }));
    }
  }
  for (const age of ages) await db.pool.query('SELECT ai_events_ensure_partition($1)', [daysAgo(age)]);
  await insertEvents(db.pool, events);
  return events;
}

/** The ids the API lists for the org, every page. */
async function apiIds(org: Org): Promise<string[]> {
  const res = await app.request('/api/telemetry/events?limit=1000', {
    headers: { authorization: `Bearer ${viewers[org]}` },
  });
  expect(res.status).toBe(200);
  const page = (await res.json()) as { items: { id: string }[]; next_cursor: string | null };
  expect(page.next_cursor).toBeNull();
  return page.items.map((e) => e.id).sort();
}

const kept = (events: AiEvent[], org: Org) =>
  events
    .filter((e) => e.org_id === org && e.created_at.getTime() > Date.now() - ORGS[org] * DAY)
    .map((e) => e.id)
    .sort();
const removed = (events: AiEvent[], org: Org) =>
  events
    .filter((e) => e.org_id === org && e.created_at.getTime() <= Date.now() - ORGS[org] * DAY)
    .map((e) => e.id)
    .sort();

async function archivedIds(org: Org): Promise<string[]> {
  const { rows } = await db.pool.query<{ id: string }>(
    'SELECT id FROM archived WHERE org_id = $1 ORDER BY id',
    [org],
  );
  return rows.map((r) => r.id);
}

async function setArchive(on: boolean) {
  for (const org of Object.keys(ORGS) as Org[]) {
    const days = ORGS[org];
    await updateSettings(db.pool, org, { retention_days: days, archive: on }, { actor: 'cli' });
  }
}

beforeEach(async () => {
  await db.pool.query('TRUNCATE ai_events, archived, retention_pending, archives');
});

describe('retention run', () => {
  it('without archiving, leaves each org exactly the events inside its retention, dropping whole old months', async () => {
    await setArchive(false);
    const events = await seed([400, 200, 40, 0]);
    const oldMonth = `ai_events_${daysAgo(400).toISOString().slice(0, 7).replace('-', '')}`;

    const report = await runRetention({ pool: db.pool }, { batchRows: 2, pauseMs: 0 });

    expect(report.ran).toBe(true);
    expect(report.partitions_dropped).toContain(oldMonth);
    expect(await db.pool.query('SELECT to_regclass($1) AS t', [oldMonth])).toMatchObject({
      rows: [{ t: null }],
    });
    for (const org of Object.keys(ORGS) as Org[]) {
      expect(await apiIds(org)).toEqual(kept(events, org));
      const line = report.orgs.find((o) => o.org_id === org)!;
      expect(line).toMatchObject({ rows_archived: 0, rows_deleted: removed(events, org).length });
      expect(line.partitions_dropped).toBeGreaterThanOrEqual(1);
    }
    expect(await archivedIds('short')).toEqual([]);
  });

  it('archives exactly the rows it removes, row for row, and a second run does nothing', async () => {
    await setArchive(true);
    const events = await seed([400, 200, 40, 0]);
    const gone = [...removed(events, 'short'), ...removed(events, 'long')];
    await db.pool.query('DROP TABLE IF EXISTS expected');
    await db.pool.query('CREATE TABLE expected AS SELECT * FROM ai_events WHERE id = ANY($1::uuid[])', [
      gone,
    ]);

    const first = await runRetention({ pool: db.pool, archive }, { batchRows: 2, pauseMs: 0 });
    for (const org of Object.keys(ORGS) as Org[]) {
      expect(await apiIds(org)).toEqual(kept(events, org));
      expect(await archivedIds(org)).toEqual(removed(events, org));
      expect(first.orgs.find((o) => o.org_id === org)).toMatchObject({
        rows_archived: removed(events, org).length,
        rows_deleted: removed(events, org).length,
      });
    }
    // Archived rows are the rows as they were, every column: nothing in one that is not in the other.
    const columns = AI_EVENT_COLUMNS.join(', ');
    const { rows: diff } = await db.pool.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM (SELECT ${columns} FROM expected EXCEPT ALL SELECT ${columns} FROM archived) a)::int
            + (SELECT count(*) FROM (SELECT ${columns} FROM archived EXCEPT ALL SELECT ${columns} FROM expected) b)::int
            AS n`,
    );
    expect(diff[0]!.n).toBe(0);

    const second = await runRetention({ pool: db.pool, archive }, { pauseMs: 0 });
    expect(second.orgs.every((o) => o.rows_deleted === 0 && o.rows_archived === 0)).toBe(true);
    expect(await archivedIds('short')).toEqual(removed(events, 'short'));
  });

  it('with the Parquet archive: removed rows are in it row for row, and restoring brings back exactly them', async () => {
    await setArchive(true);
    const events = await seed([400, 200, 40, 0]);
    const gone = [...removed(events, 'short'), ...removed(events, 'long')];
    await db.pool.query('DROP TABLE IF EXISTS expected');
    await db.pool.query('CREATE TABLE expected AS SELECT * FROM ai_events WHERE id = ANY($1::uuid[])', [
      gone,
    ]);
    const dataDir = await mkdtemp(join(tmpdir(), 'observatory-retention-'));
    try {
      const config = loadConfig({ DATABASE_URL: db.url, OBSERVATORY_DATA_DIR: dataDir });
      const report = await runRetention(
        { pool: db.pool, archive: await archiveRangeFor(config, db.pool) },
        { pauseMs: 0 },
      );
      for (const org of Object.keys(ORGS) as Org[]) {
        expect(await apiIds(org)).toEqual(kept(events, org));
        expect(report.orgs.find((o) => o.org_id === org)?.rows_archived).toBe(removed(events, org).length);
      }
      const storage = await createArchiveStorage(config);
      for (const org of Object.keys(ORGS) as Org[]) {
        const result = await restoreEvents({ pool: db.pool, storage }, org, new Date(0), new Date());
        expect(result.inserted).toBe(removed(events, org).length);
      }
      const columns = AI_EVENT_COLUMNS.join(', ');
      const { rows } = await db.pool.query<{ n: number }>(
        `SELECT (SELECT count(*) FROM (SELECT ${columns} FROM expected
                   EXCEPT ALL SELECT ${columns} FROM ai_events WHERE id = ANY($1::uuid[])) a)::int
              + (SELECT count(*) FROM ai_events WHERE id = ANY($1::uuid[]))::int - $2::int AS n`,
        [gone, gone.length],
      );
      expect(rows[0]!.n).toBe(0);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('keeps the events of orgs that archive when no archive is configured, and says so', async () => {
    await setArchive(true);
    const events = await seed([200, 40, 0]);
    const report = await runRetention({ pool: db.pool }, { pauseMs: 0 });
    expect(report.notes.join('\n')).toMatch(/short: archive is on but no archive is configured/);
    expect(await apiIds('short')).toEqual(
      events
        .filter((e) => e.org_id === 'short')
        .map((e) => e.id)
        .sort(),
    );
  });

  it('stopped after its first delete batch, a rerun completes without loss or duplicates', async () => {
    await setArchive(true);
    // Only row deletes here (40-day-old events of the 30-day org, in a month the 180-day org still keeps).
    const events = await seed([40, 0], 10);
    const stop = new Error('killed');
    await expect(
      runRetention(
        { pool: db.pool, archive },
        {
          batchRows: 3,
          pauseMs: 0,
          onBatch: () => {
            throw stop;
          },
        },
      ),
    ).rejects.toBe(stop);
    const { rows: pending } = await db.pool.query(
      'SELECT org_id, archived_rows::int AS n FROM retention_pending',
    );
    expect(pending).toEqual([{ org_id: 'short', n: 10 }]);
    expect((await apiIds('short')).length).toBe(17);

    const rerun = await runRetention({ pool: db.pool, archive }, { batchRows: 3, pauseMs: 0 });
    expect(rerun.orgs.find((o) => o.org_id === 'short')).toMatchObject({ rows_archived: 0, rows_deleted: 7 });
    expect(await apiIds('short')).toEqual(kept(events, 'short'));
    expect(await archivedIds('short')).toEqual(removed(events, 'short'));
    expect(await apiIds('long')).toEqual(kept(events, 'long'));
    expect((await db.pool.query('SELECT * FROM retention_pending')).rowCount).toBe(0);
  });

  it('runs once at a time: a second runner skips while the first holds the lock', async () => {
    await setArchive(false);
    await seed([40, 0], 6);
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    let entered!: () => void;
    const inBatch = new Promise<void>((r) => {
      entered = r;
    });
    const first = runRetention(
      { pool: db.pool },
      {
        batchRows: 2,
        pauseMs: 0,
        onBatch: async () => {
          entered();
          await held;
        },
      },
    );
    await inBatch;
    const second = await runRetention({ pool: db.pool }, { pauseMs: 0 });
    expect(second).toEqual({ ran: false, orgs: [], partitions_dropped: [], notes: [] });
    release();
    expect((await first).orgs.find((o) => o.org_id === 'short')?.rows_deleted).toBe(6);
  });

  it('ingest keeps going during a run: no errors, no lost events', async () => {
    await setArchive(true);
    await seed([200, 40], 200);
    const written: AiEvent[] = [];
    let running = true;
    const ingest = (async () => {
      for (let i = 0; running || i < 3; i++) {
        const batch = Array.from({ length: 50 }, () => makeEvent({ org_id: i % 2 ? 'short' : 'long' }));
        await insertEvents(db.pool, batch);
        written.push(...batch);
      }
    })();
    const report = await runRetention({ pool: db.pool, archive }, { batchRows: 50, pauseMs: 1 });
    running = false;
    await ingest;
    expect(report.orgs.find((o) => o.org_id === 'short')?.rows_deleted).toBe(400);
    const { rows } = await db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM ai_events WHERE id = ANY($1::uuid[])',
      [written.map((e) => e.id)],
    );
    expect(rows[0]!.n).toBe(written.length);
  });

  it('deletes rows of registered tables past their setting, per org', async () => {
    await setArchive(false);
    await db.pool.query('CREATE TABLE test_rollup (org_id text NOT NULL, bucket timestamptz NOT NULL)');
    await updateSettings(db.pool, 'short', { rollup_retention_days: 100 }, { actor: 'cli' });
    await db.pool.query(
      `INSERT INTO test_rollup SELECT org, now() - d * interval '1 day'
       FROM unnest(ARRAY['short', 'long']) org, unnest(ARRAY[1, 150, 800]) d`,
    );
    const report = await runRetention(
      { pool: db.pool },
      {
        pauseMs: 0,
        tables: [{ table: 'test_rollup', timeColumn: 'bucket', setting: 'rollup_retention_days' }],
      },
    );
    expect(report.orgs.find((o) => o.org_id === 'short')?.rollup_rows_deleted).toBe(2);
    expect(report.orgs.find((o) => o.org_id === 'long')?.rollup_rows_deleted).toBe(1);
  });

  it('observatory retention run prints what it did per org and exits 0', async () => {
    await setArchive(false);
    await seed([40, 0], 2);
    const out: string[] = [];
    const dataDir = await mkdtemp(join(tmpdir(), 'observatory-retention-cli-'));
    const code = await main(
      ['retention', 'run', '--org', 'short'],
      { out: (t) => out.push(t), err: (t) => out.push(t) },
      { DATABASE_URL: db.url, LOG_LEVEL: 'silent', OBSERVATORY_DATA_DIR: dataDir },
    );
    await rm(dataDir, { recursive: true, force: true });
    expect(code).toBe(0);
    expect(out.join('')).toMatch(
      /^short: 0 rows archived, 2 rows deleted, 0 partitions dropped, \d+ rollup rows deleted\nPartitions dropped: none\n$/,
    );
  });
});
