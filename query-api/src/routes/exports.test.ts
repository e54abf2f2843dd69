import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import {
  decodeExport,
  expectedCsvRows,
  seedEvents,
  selectEvents,
} from '../../../test-support/export-events.ts';
import { createApp } from '../app.ts';
import { LocalStorage } from '../exports/local-storage.ts';
import { createExportMetrics } from '../exports/metrics.ts';
import type { ExportService } from '../exports/service.ts';
import { DownloadSigner } from '../exports/signing.ts';
import { ExportWorker } from '../exports/worker.ts';
import { createKey, revokeKey } from '../keys/keys.ts';
import { createLogger } from '../log.ts';
import { CSV_COLUMNS } from '../query/csv.ts';

const db = await createTestDatabase();
const logger = createLogger('silent');
const dir = await mkdtemp(join(tmpdir(), 'observatory-exports-'));
const service: ExportService = {
  storage: await new LocalStorage(dir).init(),
  signer: new DownloadSigner(randomBytes(32)),
  metrics: createExportMetrics(),
  rateLimitPerMinute: 1000,
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

const keys = {
  admin: (await createKey(db.pool, { orgId: 'acme', role: 'org_admin' })).key,
  viewer: (await createKey(db.pool, { orgId: 'acme', role: 'viewer' })).key,
  otherAdmin: (await createKey(db.pool, { orgId: 'globex', role: 'org_admin' })).key,
};

/** The fields of the response bodies these tests read. */
interface Body {
  job_id: string;
  status: string;
  format: string;
  download_url: string;
  row_count: number;
  file_size: number;
  filters: Record<string, unknown>;
  items: Body[];
  created_at: string;
  errors: { field: string }[];
}

const read = (res: Response) => res.json() as Promise<Body>;

function call(key: string | undefined, path: string, init: RequestInit = {}) {
  const headers = new Headers(init.headers);
  if (key) headers.set('authorization', `Bearer ${key}`);
  if (init.body) headers.set('content-type', 'application/json');
  return app.request(path, { ...init, headers });
}

async function createJob(key: string, body: unknown) {
  return call(key, '/api/telemetry/export', { method: 'POST', body: JSON.stringify(body) });
}

async function waitForJob(key: string, id: string) {
  for (let i = 0; i < 400; i++) {
    const job = await read(await call(key, `/api/telemetry/export/${id}`));
    if (job.status === 'completed' || job.status === 'failed') return job;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`job ${id} did not finish`);
}

const NOW = new Date('2026-05-20T12:00:00Z');

beforeAll(async () => {
  await seedEvents(db.pool, 'acme', 3000, NOW);
  await seedEvents(db.pool, 'globex', 500, NOW);
  worker.start();
});
afterAll(async () => {
  await worker.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('export files', () => {
  const filters = { model_name: 'gpt-4o', success: true, date_from: '2026-05-20T11:30:00Z' };
  for (const format of ['csv', 'json', 'jsonl'] as const) {
    for (const gzip of [true, false]) {
      it(`hold exactly the filtered events as ${format}${gzip ? ' gzip' : ''}`, async () => {
        const created = await createJob(keys.admin, { filters, format, gzip });
        expect(created.status).toBe(202);
        const { job_id, status } = await read(created);
        expect(status).toBe('pending');

        const job = await waitForJob(keys.admin, job_id);
        expect(job).toMatchObject({ status: 'completed', format, error: null });
        const expected = await selectEvents(db.pool, {
          org_id: 'acme',
          model_name: 'gpt-4o',
          success: true,
          date_from: new Date(filters.date_from),
        });
        expect(expected.length).toBeGreaterThan(100);
        expect(job.row_count).toBe(expected.length);

        const download = await app.request(job.download_url);
        expect(download.status).toBe(200);
        expect(download.headers.get('content-disposition')).toContain(
          `${job_id}.${format}${gzip ? '.gz' : ''}`,
        );
        const file = Buffer.from(await download.arrayBuffer());
        expect(file.length).toBe(job.file_size);
        const decoded = decodeExport(file, format, gzip);
        if (format === 'csv') {
          expect(decoded.header).toEqual([...CSV_COLUMNS]);
          expect(decoded.rows).toEqual(expectedCsvRows(expected));
        } else {
          expect(decoded.rows).toEqual(expected);
        }
      });
    }
  }

  it('neutralise formulas in CSV cells and export an empty selection as a header only', async () => {
    const { job_id } = await read(
      await createJob(keys.admin, { filters: { error_code: 'rate_limit' }, format: 'csv', gzip: false }),
    );
    const job = await waitForJob(keys.admin, job_id);
    const { header, rows } = decodeExport(
      Buffer.from(await (await app.request(job.download_url)).arrayBuffer()),
      'csv',
      false,
    );
    const message = rows[0]![header!.indexOf('error_message')];
    expect(message).toMatch(/^'=HYPERLINK\("x"\), "quoted", comma\nline \d+$/);

    const empty = await read(
      await createJob(keys.admin, { filters: { model_name: 'nope' }, format: 'json', gzip: false }),
    );
    const emptyJob = await waitForJob(keys.admin, empty.job_id);
    expect(emptyJob.row_count).toBe(0);
    expect(JSON.parse(await (await app.request(emptyJob.download_url)).text())).toEqual([]);
  });

  it('are listed newest first, only for the caller org, and each download is audited', async () => {
    const { job_id } = await read(await createJob(keys.otherAdmin, { format: 'jsonl' }));
    const job = await waitForJob(keys.otherAdmin, job_id);
    expect(job.row_count).toBe(500);
    expect(job.filters).toEqual({ org_id: 'globex' });

    const acme = await read(await call(keys.admin, '/api/telemetry/exports'));
    expect(acme.items.length).toBeGreaterThanOrEqual(8);
    expect(acme.items.every((j) => j.filters.org_id === 'acme')).toBe(true);
    expect(acme.items.every((j) => j.download_url === null)).toBe(true);
    const created = acme.items.map((j) => j.created_at);
    expect(created).toEqual([...created].sort().reverse());

    await app.request(job.download_url);
    await app.request(job.download_url);
    const { rows } = await db.pool.query(
      "SELECT org_id, action, target FROM audit_log WHERE action = 'export.download' AND target = $1",
      [job_id],
    );
    expect(rows).toEqual([
      { org_id: 'globex', action: 'export.download', target: job_id },
      { org_id: 'globex', action: 'export.download', target: job_id },
    ]);
  });
});

describe('export access', () => {
  let completed: Body;
  beforeAll(async () => {
    const { job_id } = await read(
      await createJob(keys.admin, { format: 'csv', filters: { model_name: 'llama-3' } }),
    );
    completed = await waitForJob(keys.admin, job_id);
  });

  it('keep the https scheme behind a trusted TLS proxy, and only then', async () => {
    const linkFrom = async (trustProxy: boolean) => {
      const proxied = createApp({ pool: db.pool, logger, exports: service, trustProxy });
      const res = await proxied.request(`/api/telemetry/export/${completed.job_id}`, {
        headers: { authorization: `Bearer ${keys.admin}`, 'x-forwarded-proto': 'https' },
      });
      return new URL((await read(res)).download_url);
    };
    expect((await linkFrom(true)).protocol).toBe('https:');
    expect((await linkFrom(false)).protocol).toBe('http:');
  });

  it('refuse forged, altered and expired download URLs with 403', async () => {
    const url = new URL(completed.download_url);
    const altered = (name: string, value: string) => {
      const u = new URL(url);
      u.searchParams.set(name, value);
      return u.toString();
    };
    const forged = altered('signature', 'A'.repeat(43));
    const laterExpiry = altered('expires', String(Number(url.searchParams.get('expires')) + 3600));
    const otherOrg = altered('org', 'globex');
    const noSignature = new URL(url);
    noSignature.searchParams.delete('signature');
    for (const bad of [forged, laterExpiry, otherOrg, noSignature.toString()]) {
      const res = await app.request(bad);
      expect(res.status).toBe(403);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
    }

    const expires = Math.floor(Date.now() / 1000) - 1;
    const past = new URL(url);
    past.searchParams.set('expires', String(expires));
    past.searchParams.set(
      'signature',
      service.signer.sign({
        jobId: completed.job_id,
        orgId: 'acme',
        keyId: url.searchParams.get('key')!,
        expires,
      }),
    );
    expect((await app.request(past.toString())).status).toBe(403);
    expect((await app.request(completed.download_url)).status).toBe(200);
  });

  it('stop working once the key that created the job, or the one the link was issued to, is revoked', async () => {
    const creator = await createKey(db.pool, { orgId: 'acme', role: 'org_admin' });
    const { job_id } = await read(await createJob(creator.key, { format: 'csv' }));
    const ownLink = (await waitForJob(creator.key, job_id)).download_url;
    const colleagueLink = (await read(await call(keys.admin, `/api/telemetry/export/${job_id}`)))
      .download_url;
    expect((await app.request(ownLink)).status).toBe(200);
    expect((await app.request(colleagueLink)).status).toBe(200);

    await revokeKey(db.pool, creator.id);
    for (const link of [ownLink, colleagueLink]) {
      const res = await app.request(link);
      expect(res.status).toBe(403);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
    }

    const issuer = await createKey(db.pool, { orgId: 'acme', role: 'org_admin' });
    const other = await read(await createJob(keys.admin, { format: 'csv' }));
    await waitForJob(keys.admin, other.job_id);
    const issuedLink = (await read(await call(issuer.key, `/api/telemetry/export/${other.job_id}`)))
      .download_url;
    expect((await app.request(issuedLink)).status).toBe(200);
    await revokeKey(db.pool, issuer.id);
    expect((await app.request(issuedLink)).status).toBe(403);
  });

  it('hide another org job (404) and refuse naming another org in filters (403)', async () => {
    expect((await call(keys.otherAdmin, `/api/telemetry/export/${completed.job_id}`)).status).toBe(404);
    const list = await read(await call(keys.otherAdmin, '/api/telemetry/exports'));
    expect(list.items.map((j) => j.job_id)).not.toContain(completed.job_id);

    const res = await createJob(keys.otherAdmin, { format: 'csv', filters: { org_id: 'acme' } });
    expect(res.status).toBe(403);
    expect((await read(res)).errors[0]!.field).toBe('org_id');
  });

  it('need an org_admin key', async () => {
    expect((await createJob(keys.viewer, { format: 'csv' })).status).toBe(403);
    expect((await call(undefined, '/api/telemetry/exports')).status).toBe(401);
    expect((await call(keys.viewer, `/api/telemetry/export/${completed.job_id}`)).status).toBe(403);
  });

  it('reject a bad format, bad filters, unknown fields and non-JSON bodies with 400 naming the field', async () => {
    const cases: [unknown, string][] = [
      [{ format: 'xlsx' }, 'format'],
      [{}, 'format'],
      [{ format: 'csv', gzip: 'yes' }, 'gzip'],
      [{ format: 'csv', filters: { date_from: 'yesterday' } }, 'filters.date_from'],
      [{ format: 'csv', filters: { trace_id: 'xyz' } }, 'filters.trace_id'],
      [{ format: 'csv', filters: { date_from: '2026-02-01', date_to: '2026-01-01' } }, 'filters.date_from'],
      [{ format: 'csv', limit: 5 }, 'body'],
    ];
    for (const [body, field] of cases) {
      const res = await createJob(keys.admin, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const problem = await read(res);
      expect(problem.errors.map((e) => e.field)).toContain(field);
    }
    const notJson = await call(keys.admin, '/api/telemetry/export', { method: 'POST', body: '{"format":' });
    expect(notJson.status).toBe(400);
    expect((await call(keys.admin, '/api/telemetry/export/not-a-uuid')).status).toBe(400);
  });

  it('limit job creation per org per minute with 429 and Retry-After', async () => {
    const limited = createApp({ pool: db.pool, logger, exports: { ...service, rateLimitPerMinute: 3 } });
    const post = (key: string) =>
      limited.request('/api/telemetry/export', {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ format: 'csv', filters: { model_name: 'none' } }),
      });
    const globexBefore = (
      await db.pool.query(
        "SELECT count(*)::int AS n FROM exports WHERE org_id = 'globex' AND created_at > now() - interval '1 minute'",
      )
    ).rows[0].n;
    const statuses: number[] = [];
    for (let i = 0; i < 3 - globexBefore + 1; i++) statuses.push((await post(keys.otherAdmin)).status);
    expect(statuses.at(-1)).toBe(429);
    expect(statuses.slice(0, -1).every((s) => s === 202)).toBe(true);
    const refused = await post(keys.otherAdmin);
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
  });
});
