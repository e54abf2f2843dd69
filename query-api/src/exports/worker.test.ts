import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import { decodeExport, seedEvents } from '../../../test-support/export-events.ts';
import { until } from '../../../test-support/until.ts';
import { createLogger } from '../log.ts';
import type { ExportFormat, ExportJobRow } from './job.ts';
import { LocalStorage } from './local-storage.ts';
import { createExportMetrics } from './metrics.ts';
import * as sql from './sql.ts';
import type { ExportStorage } from './storage.ts';
import { ExportWorker, type ExportWorkerOptions } from './worker.ts';

const db = await createTestDatabase();
const logger = createLogger('silent');
const dir = await mkdtemp(join(tmpdir(), 'observatory-worker-'));
const storage = await new LocalStorage(dir).init();

class CollectingReader extends MetricReader {
  protected override async onForceFlush() {}
  protected override async onShutdown() {}
}

/** Real local storage that also counts how often each key is written. */
function countingStorage(inner: ExportStorage) {
  const puts = new Map<string, number>();
  const counted: ExportStorage = {
    tempDir: inner.tempDir,
    put: async (key, file) => {
      puts.set(key, (puts.get(key) ?? 0) + 1);
      await inner.put(key, file);
    },
    open: (key) => inner.open(key),
    remove: (key) => inner.remove(key),
  };
  return { storage: counted, puts };
}

function worker(options: Partial<ExportWorkerOptions> = {}) {
  return new ExportWorker({
    pool: db.pool,
    storage,
    logger,
    metrics: createExportMetrics(),
    pollMs: 50,
    ...options,
  });
}

async function addJob(filters: Record<string, unknown> = {}, format: ExportFormat = 'jsonl') {
  const id = randomUUID();
  const q = sql.insertJob({ id, orgId: 'acme', createdBy: randomUUID(), format, gzip: false, filters });
  await db.pool.query(q.text, q.values);
  return id;
}

async function jobs(ids: string[]) {
  const { rows } = await db.pool.query<ExportJobRow>('SELECT * FROM exports WHERE id = ANY($1) ORDER BY id', [
    ids,
  ]);
  return rows;
}

const finished = (ids: string[]) => async () =>
  (await jobs(ids)).every((j) => j.status === 'completed' || j.status === 'failed');

beforeAll(() => seedEvents(db.pool, 'acme', 2000));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('export worker', () => {
  it('runs every one of twenty jobs exactly once with two workers', async () => {
    const { storage: counted, puts } = countingStorage(storage);
    const workers = [
      worker({ storage: counted, workerId: 'w1' }),
      worker({ storage: counted, workerId: 'w2' }),
    ];
    const ids = await Promise.all(
      Array.from({ length: 20 }, (_, i) => addJob({ model_name: ['gpt-4o', 'claude-3'][i % 2] })),
    );
    for (const w of workers) w.start();
    await until('twenty jobs', finished(ids));
    await Promise.all(workers.map((w) => w.stop()));

    const done = await jobs(ids);
    expect(done.map((j) => [j.status, j.attempts])).toEqual(ids.map(() => ['completed', 1]));
    expect([...puts.values()]).toEqual(ids.map(() => 1));
    expect(puts.size).toBe(20);
    for (const job of done) {
      const file = await readFile(join(dir, job.storage_key!));
      const { rows } = decodeExport(file, 'jsonl', false);
      expect(rows).toHaveLength(Number(job.row_count));
      expect(new Set(rows.map((r) => (r as { id: string }).id)).size).toBe(rows.length);
    }
  });

  it('runs at most `concurrency` jobs at once', async () => {
    const ids = await Promise.all(Array.from({ length: 5 }, () => addJob()));
    const w = worker({ concurrency: 2, throttleMs: 20 });
    w.start();
    let most = 0;
    await until('five throttled jobs', async () => {
      const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM exports WHERE status = 'running'");
      most = Math.max(most, rows[0].n);
      return finished(ids)();
    });
    await w.stop();
    expect(most).toBe(2);
  });

  it('keeps a long job through heartbeats, so a second worker does not take it over', async () => {
    const id = await addJob();
    const workers = [
      worker({ leaseSeconds: 1, throttleMs: 150 }),
      worker({ leaseSeconds: 1, throttleMs: 150 }),
    ];
    for (const w of workers) w.start();
    await until('the long job', finished([id]));
    await Promise.all(workers.map((w) => w.stop()));
    const [job] = await jobs([id]);
    expect(job).toMatchObject({ status: 'completed', attempts: 1, row_count: '2000' });
    expect(job!.completed_at!.getTime() - job!.started_at!.getTime()).toBeGreaterThan(1500);
  });

  it('takes over a job whose worker let the lease expire, and fails one whose last attempt died', async () => {
    const orphan = await addJob();
    const exhausted = await addJob();
    await db.pool.query(
      `UPDATE exports SET status = 'running', locked_by = 'dead', attempts = 1, lease_until = now() - interval '1 s'
       WHERE id = $1`,
      [orphan],
    );
    await db.pool.query(
      `UPDATE exports SET status = 'running', locked_by = 'dead', attempts = 3, lease_until = now() - interval '1 s'
       WHERE id = $1`,
      [exhausted],
    );
    const w = worker({ maxAttempts: 3 });
    w.start();
    await until('orphaned jobs', finished([orphan, exhausted]));
    await w.stop();
    const byId = new Map((await jobs([orphan, exhausted])).map((j) => [j.id, j]));
    expect(byId.get(orphan)).toMatchObject({ status: 'completed', attempts: 2, row_count: '2000' });
    expect(byId.get(exhausted)).toMatchObject({ status: 'failed', attempts: 3 });
    expect(byId.get(exhausted)!.error).toBe(
      'The worker running this export stopped 3 times before finishing; giving up',
    );
  });

  it('retries a failing job a bounded number of times, then fails it with a readable error', async () => {
    const bad = await addJob({ date_from: 'not a date' });
    const reader = new CollectingReader();
    const meter = new MeterProvider({ readers: [reader] }).getMeter('test');
    const w = worker({ maxAttempts: 2, metrics: createExportMetrics(meter) });
    w.start();
    await until('the failing job', finished([bad]));
    await w.stop();
    const [job] = await jobs([bad]);
    expect(job).toMatchObject({ status: 'failed', attempts: 2 });
    expect(job!.error).toMatch(/^Export failed: .*date_from/s);
    expect(job!.expires_at!.getTime()).toBeGreaterThan(Date.now() + 6 * 24 * 3600_000);

    const { resourceMetrics } = await reader.collect();
    const points = resourceMetrics.scopeMetrics
      .flatMap((s) => s.metrics)
      .filter((m) => m.descriptor.name === 'observatory_export_jobs_finished')
      .flatMap((m) => m.dataPoints.map((p) => [p.attributes.outcome, p.value]));
    expect(points).toEqual(
      expect.arrayContaining([
        ['retried', 1],
        ['failed', 1],
      ]),
    );
  });

  it('cleans up expired files, expired job rows and stale temporary files, and nothing else', async () => {
    const w = worker({ fileTtlSeconds: 3600 });
    const [oldDone, freshDone, oldFailed] = [await addJob(), await addJob(), await addJob()];
    w.start();
    await until('jobs to clean', finished([oldDone, freshDone]));
    await w.stop();
    await db.pool.query("UPDATE exports SET expires_at = now() - interval '1 minute' WHERE id = $1", [
      oldDone,
    ]);
    await db.pool.query(
      "UPDATE exports SET status = 'failed', expires_at = now() - interval '1 minute' WHERE id = $1",
      [oldFailed],
    );
    const [old, fresh] = await jobs([oldDone, freshDone]).then((rows) => [
      rows.find((j) => j.id === oldDone)!,
      rows.find((j) => j.id === freshDone)!,
    ]);
    const stale = join(storage.tempDir, 'dead-worker.part');
    await writeFile(stale, 'partial');
    const { utimes } = await import('node:fs/promises');
    await utimes(stale, new Date(Date.now() - 7200_000), new Date(Date.now() - 7200_000));

    expect(await w.cleanup()).toBe(2);
    expect((await jobs([oldDone, freshDone, oldFailed])).map((j) => j.id)).toEqual([freshDone]);
    await expect(stat(join(dir, old!.storage_key!))).rejects.toThrow(/ENOENT/);
    expect((await stat(join(dir, fresh!.storage_key!))).size).toBeGreaterThan(0);
    expect(await readdir(storage.tempDir)).not.toContain('dead-worker.part');
  });
});
