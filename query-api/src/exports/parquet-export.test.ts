import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedEdgeEvents, textRows } from '../../../test-support/archive-rows.ts';
import { createTestDatabase } from '../../../test-support/database.ts';
import { seedEvents } from '../../../test-support/export-events.ts';
import { comparable, readParquetAsText } from '../../../test-support/parquet-reader.ts';
import { createApp } from '../app.ts';
import { createKey } from '../keys/keys.ts';
import { createLogger } from '../log.ts';
import { LocalStorage } from './local-storage.ts';
import { createExportMetrics } from './metrics.ts';
import type { ExportService } from './service.ts';
import { DownloadSigner } from './signing.ts';
import { ExportWorker } from './worker.ts';

const db = await createTestDatabase();
const logger = createLogger('silent');
const dir = await mkdtemp(join(tmpdir(), 'observatory-parquet-export-'));
const service: ExportService = {
  storage: await new LocalStorage(join(dir, 'exports')).init(),
  signer: new DownloadSigner(randomBytes(32)),
  metrics: createExportMetrics(),
  rateLimitPerMinute: 100,
  urlTtlSeconds: 900,
};
const app = createApp({ pool: db.pool, logger, exports: service });
const worker = new ExportWorker({
  pool: db.pool,
  storage: service.storage,
  logger,
  metrics: service.metrics,
  pollMs: 50,
});
const admin = (await createKey(db.pool, { orgId: 'acme', role: 'org_admin' })).key;
const day = { from: new Date('2026-05-20T00:00:00Z'), to: new Date('2026-05-21T00:00:00Z') };

beforeAll(async () => {
  await seedEvents(db.pool, 'acme', 3000, new Date('2026-05-20T12:00:00Z'));
  await seedEdgeEvents(db.pool, 'acme', new Date('2026-05-20T06:00:00Z'));
  await seedEvents(db.pool, 'globex', 200, new Date('2026-05-20T12:00:00Z'));
  worker.start();
});
afterAll(async () => {
  await worker.stop();
  await rm(dir, { recursive: true, force: true });
});

async function call(path: string, init: RequestInit = {}) {
  return app.request(path, {
    ...init,
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
  });
}

describe('Parquet exports', () => {
  it('create job → worker → signed download of a Parquet file whose every column equals the rows in PostgreSQL', async () => {
    const created = await call('/api/telemetry/export', {
      method: 'POST',
      body: JSON.stringify({ format: 'parquet', filters: { date_from: day.from.toISOString() } }),
    });
    expect(created.status).toBe(202);
    const { job_id } = (await created.json()) as { job_id: string };
    let job: { status: string; gzip: boolean; row_count: number; download_url: string } | undefined;
    for (let i = 0; i < 400 && job?.status !== 'completed' && job?.status !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      job = (await (await call(`/api/telemetry/export/${job_id}`)).json()) as typeof job;
    }
    expect(job).toMatchObject({ status: 'completed', gzip: false });

    const download = await app.request(job!.download_url);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('application/vnd.apache.parquet');
    expect(download.headers.get('content-disposition')).toBe(
      `attachment; filename="observatory-export-${job_id}.parquet"`,
    );
    const file = join(dir, 'download.parquet');
    await writeFile(file, Buffer.from(await download.arrayBuffer()));

    // Newest first, like every export; only the caller's org.
    const expected = comparable(await textRows(db.pool, 'acme', day.from, day.to)).reverse();
    expect(expected).toHaveLength(3002);
    expect(job!.row_count).toBe(expected.length);
    expect(await readParquetAsText(file)).toEqual(expected);
  });
});
