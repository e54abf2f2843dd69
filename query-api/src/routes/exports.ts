import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { type Context, Hono } from 'hono';
import type pg from 'pg';
import { z } from 'zod';
import type { AppEnv } from '../app.ts';
import { auditActor, clientIp, writeAudit } from '../audit.ts';
import { withTransaction } from '../db/transaction.ts';
import { CONTENT_TYPES, fileExtension } from '../exports/encoders.ts';
import { ExportFormatSchema, type ExportJobRow } from '../exports/job.ts';
import type { ExportService } from '../exports/service.ts';
import * as sql from '../exports/sql.ts';
import { requireKey, requireRole } from '../http/auth.ts';
import { ProblemError, problemFromZod } from '../http/problem.ts';
import { EventFiltersSchema, scopeFilters } from '../query/filters.ts';

const CreateExportSchema = z.strictObject({
  filters: EventFiltersSchema.default({}),
  format: ExportFormatSchema,
  gzip: z.boolean().default(true),
});

const JobIdSchema = z.object({ job_id: z.uuid() });
const ListQuerySchema = z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) });
const DownloadQuerySchema = z.object({
  org: z.string().min(1).max(64),
  key: z.uuid(),
  expires: z.coerce.number().int().positive(),
  signature: z.string().min(1).max(128),
});

function parse<T>(schema: z.ZodType<T>, value: unknown, where: 'query' | 'body' | 'param'): T {
  const result = schema.safeParse(value);
  if (!result.success) throw problemFromZod(result.error, where);
  return result.data;
}

function fileName(job: ExportJobRow): string {
  return `observatory-export-${job.id}.${fileExtension(job.format, job.gzip)}`;
}

const iso = (d: Date | null) => d?.toISOString() ?? null;

export interface ExportRoutesDeps {
  pool: pg.Pool;
  exports: ExportService;
}

/**
 * Export jobs: created and inspected with an org_admin key; the file is fetched from a signed, short-lived
 * URL that is itself the credential, so a browser can follow it.
 */
export function exportRoutes({ pool, exports }: ExportRoutesDeps): Hono<AppEnv> {
  const query = async <R extends pg.QueryResultRow>(
    statement: sql.SqlStatement,
    db: pg.Pool | pg.PoolClient = pool,
  ) => (await db.query<R>(statement.text, statement.values)).rows;

  async function downloadUrl(c: Context, job: ExportJobRow, keyId: string) {
    const expires = Math.floor(Date.now() / 1000) + exports.urlTtlSeconds;
    if (exports.storage.presignedUrl) {
      // The object store serves the file itself, so the download is audited when its URL is handed out.
      const url = await exports.storage.presignedUrl(job.storage_key!, fileName(job), exports.urlTtlSeconds);
      await writeAudit(pool, {
        orgId: job.org_id,
        actor: keyId,
        action: 'export.download',
        target: job.id,
        ip: clientIp(c),
        details: { via: 'presigned-url' },
      });
      return { url, expires };
    }
    const signature = exports.signer.sign({ jobId: job.id, orgId: job.org_id, keyId, expires });
    const url = new URL(`/api/telemetry/export/${job.id}/download`, c.req.url);
    url.search = new URLSearchParams({
      org: job.org_id,
      key: keyId,
      expires: String(expires),
      signature,
    }).toString();
    return { url: url.toString(), expires };
  }

  /** The job as the API shows it; `keyId` asks for a download URL (issued for that key) when completed. */
  async function present(c: Context, job: ExportJobRow, keyId?: string) {
    const download =
      keyId && job.status === 'completed' && job.storage_key ? await downloadUrl(c, job, keyId) : undefined;
    return {
      job_id: job.id,
      status: job.status,
      format: job.format,
      gzip: job.gzip,
      filters: job.filters,
      row_count: job.row_count === null ? null : Number(job.row_count),
      file_size: job.file_size === null ? null : Number(job.file_size),
      attempts: job.attempts,
      created_at: iso(job.created_at),
      started_at: iso(job.started_at),
      completed_at: iso(job.completed_at),
      error: job.error,
      download_url: download?.url ?? null,
      /** When download_url stops working. */
      expires_at: download ? new Date(download.expires * 1000).toISOString() : null,
      /** When the file (or a failed job's record) is removed by the cleanup pass. */
      file_expires_at: iso(job.expires_at),
    };
  }

  const admin = [requireKey(pool), requireRole('org_admin')] as const;

  return new Hono<AppEnv>()
    .post('/api/telemetry/export', ...admin, async (c) => {
      const principal = c.get('principal');
      const raw = await c.req.json().catch(() => {
        throw new ProblemError(400, 'The request body must be a JSON object', {
          errors: [{ field: 'body', message: 'invalid JSON' }],
        });
      });
      const body = parse(CreateExportSchema, raw, 'body');
      const filters = scopeFilters(body.filters, principal);
      const job = await withTransaction(pool, async (client) => {
        await query(sql.lockOrgForCreate(principal.orgId), client);
        const [recent] = await query<{ count: number; retry_after: number | null }>(
          sql.recentJobs(principal.orgId, 60),
          client,
        );
        if (recent && recent.count >= exports.rateLimitPerMinute) {
          const retryAfter = String(Math.max(1, recent.retry_after ?? 60));
          throw new ProblemError(
            429,
            `At most ${exports.rateLimitPerMinute} export jobs per minute per org; retry in ${retryAfter} s`,
            {},
            { 'Retry-After': retryAfter },
          );
        }
        const [created] = (await query<ExportJobRow>(
          sql.insertJob({
            id: randomUUID(),
            orgId: principal.orgId,
            createdBy: principal.keyId,
            format: body.format,
            gzip: body.gzip,
            filters,
          }),
          client,
        )) as [ExportJobRow];
        await writeAudit(client, {
          ...auditActor(c, principal),
          action: 'export.create',
          target: created.id,
          details: { format: created.format, gzip: created.gzip },
        });
        return created;
      });
      exports.metrics.jobCreated(job.format);
      exports.onJobCreated?.();
      c.header('Location', `/api/telemetry/export/${job.id}`);
      return c.json({ job_id: job.id, status: job.status }, 202);
    })
    .get('/api/telemetry/exports', ...admin, async (c) => {
      const { limit } = parse(ListQuerySchema, c.req.query(), 'query');
      const principal = c.get('principal');
      const jobs = await query<ExportJobRow>(sql.jobsOfOrg(principal.orgId, limit));
      // No download URLs here: handing one out is audited, so it happens per job, on request.
      return c.json({ items: await Promise.all(jobs.map((job) => present(c, job))) });
    })
    .get('/api/telemetry/export/:job_id', ...admin, async (c) => {
      const { job_id } = parse(JobIdSchema, c.req.param(), 'param');
      const principal = c.get('principal');
      const [job] = await query<ExportJobRow>(sql.jobById(job_id, principal.orgId));
      if (!job) throw new ProblemError(404, `No export job ${job_id}`);
      return c.json(await present(c, job, principal.keyId));
    })
    .get('/api/telemetry/export/:job_id/download', async (c) => {
      const { job_id } = parse(JobIdSchema, c.req.param(), 'param');
      const signed = DownloadQuerySchema.safeParse(c.req.query());
      const valid =
        signed.success &&
        exports.signer.verify(
          { jobId: job_id, orgId: signed.data.org, keyId: signed.data.key, expires: signed.data.expires },
          signed.data.signature,
        );
      if (!valid)
        throw new ProblemError(403, 'The download link is invalid or has expired; request a new one');
      const { org, key } = signed.data;
      const [job] = await query<ExportJobRow & { keys_active: boolean }>(
        sql.jobForDownload(job_id, org, key),
      );
      if (job && !job.keys_active) {
        throw new ProblemError(
          403,
          'The key behind this download link has been revoked; the link no longer works',
        );
      }
      const file =
        job?.status === 'completed' && job.storage_key
          ? await exports.storage.open(job.storage_key)
          : undefined;
      if (!job || !file) throw new ProblemError(404, `No export file for job ${job_id}`);
      await writeAudit(pool, {
        orgId: org,
        actor: key,
        action: 'export.download',
        target: job.id,
        ip: clientIp(c),
      });
      return new Response(Readable.toWeb(Readable.from(file)) as ReadableStream, {
        headers: {
          'content-type': job.gzip ? 'application/gzip' : CONTENT_TYPES[job.format],
          'content-disposition': `attachment; filename="${fileName(job)}"`,
          ...(job.file_size ? { 'content-length': String(job.file_size) } : {}),
          'cache-control': 'private, no-store',
        },
      });
    });
}
