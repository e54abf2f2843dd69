import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { afterAll, describe, expect, it } from 'vitest';
import { textRows } from '../../../test-support/archive-rows.ts';
import { createTestDatabase } from '../../../test-support/database.ts';
import { seedEvents } from '../../../test-support/export-events.ts';
import { comparable, readParquetAsText } from '../../../test-support/parquet-reader.ts';
import { loadConfig } from '../config.ts';
import type { S3Storage } from '../exports/s3-storage.ts';
import { createArchiveStorage } from '../exports/service.ts';
import { archiveEvents } from './archive.ts';
import { ArchiveManifestSchema } from './manifest.ts';
import { restoreEvents } from './restore.ts';
import { fetchStored } from './stored-file.ts';

const db = await createTestDatabase();
const dir = await mkdtemp(join(tmpdir(), 'observatory-s3-archive-'));
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
const storage = (await createArchiveStorage(
  loadConfig({
    OBSERVATORY_DATA_DIR: join(dir, 'data'),
    OBSERVATORY_EXPORT_STORAGE: 's3',
    OBSERVATORY_EXPORT_S3_BUCKET: 'observatory',
    OBSERVATORY_EXPORT_S3_ENDPOINT: `http://127.0.0.1:${port}`,
  }),
)) as S3Storage;
const june = { from: new Date('2024-06-01T00:00:00Z'), to: new Date('2024-07-01T00:00:00Z') };

afterAll(async () => {
  await s3rver.close();
  await rm(dir, { recursive: true, force: true });
});

describe('archive on S3-compatible storage (s3rver)', () => {
  it('uploads verified files with JSON manifests under archive/, and restores from them', async () => {
    await seedEvents(db.pool, 'acme', 1500, new Date('2024-06-15T00:00:00Z'));
    const expected = await textRows(db.pool, 'acme', june.from, june.to);
    const [manifest, ...more] = await archiveEvents({ pool: db.pool, storage }, 'acme', june.from, june.to);
    expect(more).toEqual([]);

    const listed = await storage.client.send(new ListObjectsV2Command({ Bucket: 'observatory' }));
    expect(listed.Contents?.map((o) => o.Key).sort()).toEqual([
      `archive/${manifest!.storage_key}`,
      `archive/${manifest!.storage_key}.json`,
    ]);
    const sidecar = await storage.client.send(
      new GetObjectCommand({ Bucket: 'observatory', Key: `archive/${manifest!.storage_key}.json` }),
    );
    expect(ArchiveManifestSchema.parse(JSON.parse(await sidecar.Body!.transformToString()))).toEqual(
      manifest,
    );

    const file = join(dir, 'downloaded.parquet');
    expect(await fetchStored(storage, manifest!.storage_key, file)).toBe(manifest!.sha256);
    expect(await readParquetAsText(file)).toEqual(comparable(expected));

    await db.pool.query("DELETE FROM ai_events WHERE org_id = 'acme'");
    expect(await restoreEvents({ pool: db.pool, storage }, 'acme', june.from, june.to)).toEqual({
      files: 1,
      rows: 1500,
      inserted: 1500,
    });
    expect(await textRows(db.pool, 'acme', june.from, june.to)).toEqual(expected);
  });
});
