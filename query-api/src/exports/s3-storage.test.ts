import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import { decodeExport, seedEvents, selectEvents } from '../../../test-support/export-events.ts';
import { createApp } from '../app.ts';
import { loadConfig } from '../config.ts';
import { createKey } from '../keys/keys.ts';
import { createLogger } from '../log.ts';
import { createExportMetrics } from './metrics.ts';
import type { S3Storage } from './s3-storage.ts';
import { createStorage, type ExportService } from './service.ts';
import { DownloadSigner } from './signing.ts';
import { ExportWorker } from './worker.ts';

const db = await createTestDatabase();
const logger = createLogger('silent');
const dir = await mkdtemp(join(tmpdir(), 'observatory-s3-'));
// s3rver's fixed credentials; the SDK reads them from the environment like any AWS credentials.
process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
const s3rver = new S3rver({
  address: '127.0.0.1',
  port: 0,
  directory: join(dir, 's3'),
  silent: true,
  configureBuckets: [{ name: 'observatory' }],
});
const { port } = await s3rver.run();

const sentHeaders: Record<string, string>[] = [];
let storage: S3Storage;
let worker: ExportWorker;
let service: ExportService;

beforeAll(async () => {
  const config = loadConfig({
    OBSERVATORY_DATA_DIR: join(dir, 'data'),
    OBSERVATORY_EXPORT_STORAGE: 's3',
    OBSERVATORY_EXPORT_S3_BUCKET: 'observatory',
    OBSERVATORY_EXPORT_S3_ENDPOINT: `http://127.0.0.1:${port}`,
  });
  storage = (await createStorage(config)) as S3Storage;
  storage.client.middlewareStack.add(
    (next) => async (args) => {
      sentHeaders.push({ ...(args.request as { headers: Record<string, string> }).headers });
      return next(args);
    },
    { step: 'finalizeRequest' },
  );
  service = {
    storage,
    signer: new DownloadSigner(randomBytes(32)),
    metrics: createExportMetrics(),
    rateLimitPerMinute: 100,
    urlTtlSeconds: 900,
  };
  worker = new ExportWorker({ pool: db.pool, storage, logger, metrics: service.metrics, pollMs: 50 });
  await seedEvents(db.pool, 'acme', 1500);
  worker.start();
});

afterAll(async () => {
  await worker.stop();
  await s3rver.close();
  await rm(dir, { recursive: true, force: true });
});

describe('exports on S3-compatible storage (s3rver)', () => {
  it('upload with server-side encryption requested and download through a presigned GET', async () => {
    const app = createApp({ pool: db.pool, logger, exports: service });
    const { key } = await createKey(db.pool, { orgId: 'acme', role: 'org_admin' });
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const created = await app.request('/api/telemetry/export', {
      method: 'POST',
      headers,
      body: JSON.stringify({ format: 'jsonl', gzip: true, filters: { model_name: 'claude-3' } }),
    });
    const { job_id } = (await created.json()) as { job_id: string };
    let job: { status: string; download_url: string; row_count: number; expires_at: string } | undefined;
    for (let i = 0; i < 200 && job?.status !== 'completed'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      job = (await (await app.request(`/api/telemetry/export/${job_id}`, { headers })).json()) as typeof job;
    }
    expect(job?.status).toBe('completed');

    const put = sentHeaders.find((h) => h['x-amz-server-side-encryption']);
    expect(put?.['x-amz-server-side-encryption']).toBe('AES256');

    const url = new URL(job!.download_url);
    expect(url.origin).toBe(`http://127.0.0.1:${port}`);
    expect(url.searchParams.get('X-Amz-Expires')).toBe('900');
    const response = await fetch(url);
    expect(response.status).toBe(200);
    const { rows } = decodeExport(Buffer.from(await response.arrayBuffer()), 'jsonl', true);
    const expected = await selectEvents(db.pool, { org_id: 'acme', model_name: 'claude-3' });
    expect(rows).toEqual(expected);
    expect(job!.row_count).toBe(expected.length);

    const audit = await db.pool.query(
      "SELECT details FROM audit_log WHERE action = 'export.download' AND target = $1",
      [job_id],
    );
    expect(audit.rows).toEqual([{ details: { via: 'presigned-url' } }]);

    await db.pool.query("UPDATE exports SET expires_at = now() - interval '1 s' WHERE id = $1", [job_id]);
    expect(await worker.cleanup()).toBe(1);
    expect(await storage.open(`acme/${job_id}.jsonl.gz`)).toBeUndefined();
  });
});
