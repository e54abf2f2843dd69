import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import { decodeExport, seedEvents } from '../../../test-support/export-events.ts';
import { createKey } from '../keys/keys.ts';

const CLI = fileURLToPath(new URL('../../bin/observatory.mjs', import.meta.url));
const db = await createTestDatabase();
const dataDir = await mkdtemp(join(tmpdir(), 'observatory-serve-'));
const children: ChildProcess[] = [];

/** Starts `observatory serve` on a free port and resolves with its base URL once it listens. */
function serve(env: Record<string, string> = {}): Promise<string> {
  const child = spawn(process.execPath, [CLI, 'serve'], {
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      OBSERVATORY_DATA_DIR: dataDir,
      PORT: '0',
      HOST: '127.0.0.1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.includes('observatory listening')) return;
      resolve(`http://127.0.0.1:${JSON.parse(line).port}`);
    });
  });
}

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await rm(dataDir, { recursive: true, force: true });
});

describe('observatory serve', () => {
  it('runs export jobs with its own worker, and leaves them to others with OBSERVATORY_WORKER=false', async () => {
    await seedEvents(db.pool, 'acme', 700);
    const { key } = await createKey(db.pool, { orgId: 'acme', role: 'org_admin' });
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const create = async (base: string) => {
      const res = await fetch(`${base}/api/telemetry/export`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ format: 'csv', gzip: true }),
      });
      expect(res.status).toBe(202);
      return ((await res.json()) as { job_id: string }).job_id;
    };
    const status = async (base: string, id: string) =>
      (await (await fetch(`${base}/api/telemetry/export/${id}`, { headers })).json()) as {
        status: string;
        download_url: string | null;
      };

    const apiOnly = await serve({ OBSERVATORY_WORKER: 'false' });
    const waiting = await create(apiOnly);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await status(apiOnly, waiting)).status).toBe('pending');

    const withWorker = await serve({ OBSERVATORY_EXPORT_POLL_MS: '100' });
    const id = await create(withWorker);
    let job = await status(withWorker, id);
    for (let i = 0; i < 200 && job.status !== 'completed'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      job = await status(withWorker, id);
    }
    expect(job.status).toBe('completed');
    expect((await status(withWorker, waiting)).status).toBe('completed');

    // A browser following the link sends no Authorization header.
    const download = await fetch(job.download_url!);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('application/gzip');
    const { rows } = decodeExport(Buffer.from(await download.arrayBuffer()), 'csv', true);
    expect(rows).toHaveLength(700);
  });
});
