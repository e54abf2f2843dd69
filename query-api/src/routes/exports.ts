import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type pg from 'pg';
import { auditActor, clientIp, writeAudit } from '../audit.ts';
import type { SqlStatement } from '../db/sql-statement.ts';
import { withTransaction } from '../db/transaction.ts';
import { CONTENT_TYPES, fileExtension } from '../exports/encoders.ts';
import { ExportFormatSchema, type ExportJobRow, ExportStatusSchema } from '../exports/job.ts';
import type { ExportService } from '../exports/service.ts';
import * as sql from '../exports/sql.ts';
import { jsonBody } from '../http/body.ts';
import { clientUsesHttps } from '../http/client-protocol.ts';
import {
  AiEventJsonSchema,
  jsonContent,
  keyAccess,
  openApiRoutes,
  PROBLEM_RESPONSES,
  problems,
} from '../http/openapi.ts';
import { ProblemError } from '../http/problem.ts';
import { EventFiltersSchema, scopeFilters } from '../query/filters.ts';

const CreateExportSchema = z
  .strictObject({
    filters: EventFiltersSchema.default({}),
    format: ExportFormatSchema,
    gzip: z
      .boolean()
      .default(true)
      .describe('Ignored for parquet, whose columns are compressed inside the file'),
  })
  .openapi('ExportRequest');

const ExportJobSchema = z
  .object({
    job_id: z.uuid(),
    status: ExportStatusSchema,
    format: ExportFormatSchema,
    gzip: z.boolean(),
    filters: z.record(z.string(), z.unknown()).describe('The filters, scoped to the caller org'),
    row_count: z.number().int().nullable(),
    file_size: z.number().int().nullable(),
    attempts: z.number().int(),
    created_at: z.iso.datetime(),
    started_at: z.iso.datetime().nullable(),
    completed_at: z.iso.datetime().nullable(),
    error: z.string().nullable(),
    download_url: z.url().nullable().describe('Signed and short-lived; only when fetching one completed job'),
    expires_at: z.iso.datetime().nullable().describe('When download_url stops working'),
    file_expires_at: z.iso.datetime().nullable().describe('When the cleanup pass removes the file'),
  })
  .openapi('ExportJob');

const JobIdParams = z.object({ job_id: z.uuid() });
const ListQuerySchema = z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) });
/**
 * The signed link's parts, loosely typed: the signature covers them all, so a link missing or altering any of them
 * is answered like a forged one (403), not as a malformed request.
 */
const signedPart = z.string().max(128).optional();
const DownloadQuerySchema = z.object({
  org: signedPart,
  key: signedPart,
  expires: signedPart.describe('Unix seconds'),
  signature: signedPart,
});

function fileName(job: ExportJobRow): string {
  return `observatory-export-${job.id}.${fileExtension(job.format, job.gzip)}`;
}

const iso = (d: Date | null) => d?.toISOString() ?? null;

export interface ExportRoutesDeps {
  pool: pg.Pool;
  exports: ExportService;
  /** Behind a TLS-terminating proxy, download links keep the scheme the client used (OBSERVATORY_TRUST_PROXY). */
  trustProxy?: boolean;
}

/**
 * Export jobs: created and inspected with an org_admin key; the file is fetched from a signed, short-lived
 * URL that is itself the credential, so a browser can follow it.
 */
export function exportRoutes({ pool, exports, trustProxy = false }: ExportRoutesDeps) {
  const query = async <R extends pg.QueryResultRow>(
    statement: SqlStatement,
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
    if (clientUsesHttps(c, { trustProxy })) url.protocol = 'https:';
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

  const common = { tags: ['exports'] };

  const create = createRoute({
    ...common,
    method: 'post',
    path: '/api/telemetry/export',
    operationId: 'createExport',
    summary: 'Start an export job (org_admin)',
    ...keyAccess(pool, ['org_admin'], jsonBody()),
    request: { body: { ...jsonContent(CreateExportSchema, 'What to export'), required: true } },
    responses: {
      202: {
        ...jsonContent(ExportJobSchema.pick({ job_id: true, status: true }), 'Queued'),
        headers: { Location: { schema: { type: 'string' }, description: 'The job' } },
      },
      ...PROBLEM_RESPONSES,
      ...problems(413, 415, 429),
    },
  });
  const list = createRoute({
    ...common,
    method: 'get',
    path: '/api/telemetry/exports',
    operationId: 'listExports',
    summary: "The org's export jobs, newest first (org_admin)",
    ...keyAccess(pool, ['org_admin']),
    request: { query: ListQuerySchema },
    responses: {
      200: jsonContent(z.object({ items: z.array(ExportJobSchema) }), 'Jobs, without download URLs'),
      ...PROBLEM_RESPONSES,
    },
  });
  const get = createRoute({
    ...common,
    method: 'get',
    path: '/api/telemetry/export/{job_id}',
    operationId: 'getExport',
    summary: 'An export job, with a signed download URL once completed (org_admin)',
    ...keyAccess(pool, ['org_admin']),
    request: { params: JobIdParams },
    responses: { 200: jsonContent(ExportJobSchema, 'The job'), ...PROBLEM_RESPONSES, ...problems(404) },
  });
  const download = createRoute({
    method: 'get',
    path: '/api/telemetry/export/{job_id}/download',
    operationId: 'downloadExport',
    tags: ['exports'],
    summary: 'Download an export file; the signed URL is the credential',
    request: { params: JobIdParams, query: DownloadQuerySchema },
    responses: {
      200: {
        description: 'The file (gzip when the job asked for it; Parquet never is)',
        content: {
          'application/gzip': { schema: z.string().openapi({ format: 'binary' }) },
          'text/csv': { schema: z.string() },
          'application/json': { schema: z.array(AiEventJsonSchema) },
          'application/x-ndjson': { schema: z.string() },
          'application/vnd.apache.parquet': { schema: z.string().openapi({ format: 'binary' }) },
        },
      },
      ...problems(400, 403, 404),
    },
  });

  return openApiRoutes()
    .openapi(create, async (c) => {
      const principal = c.get('principal')!;
      const body = c.req.valid('json');
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
            // Parquet compresses its columns itself; wrapped in gzip no Parquet reader could open it.
            gzip: body.format === 'parquet' ? false : body.gzip,
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
    .openapi(list, async (c) => {
      const { limit } = c.req.valid('query');
      const principal = c.get('principal')!;
      const jobs = await query<ExportJobRow>(sql.jobsOfOrg(principal.orgId, limit));
      // No download URLs here: handing one out is audited, so it happens per job, on request.
      return c.json({ items: await Promise.all(jobs.map((job) => present(c, job))) } as never, 200);
    })
    .openapi(get, async (c) => {
      const { job_id } = c.req.valid('param');
      const principal = c.get('principal')!;
      const [job] = await query<ExportJobRow>(sql.jobById(job_id, principal.orgId));
      if (!job) throw new ProblemError(404, `No export job ${job_id}`);
      return c.json((await present(c, job, principal.keyId)) as never, 200);
    })
    .openapi(download, async (c) => {
      const { job_id } = c.req.valid('param');
      const { org, key, expires, signature } = c.req.valid('query');
      const valid =
        org !== undefined &&
        key !== undefined &&
        expires !== undefined &&
        signature !== undefined &&
        exports.signer.verify({ jobId: job_id, orgId: org, keyId: key, expires: Number(expires) }, signature);
      if (!valid)
        throw new ProblemError(403, 'The download link is invalid or has expired; request a new one');
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
      return c.body(Readable.toWeb(Readable.from(file)) as ReadableStream, 200, {
        'content-type': job.gzip ? 'application/gzip' : CONTENT_TYPES[job.format],
        'content-disposition': `attachment; filename="${fileName(job)}"`,
        ...(job.file_size ? { 'content-length': String(job.file_size) } : {}),
        'cache-control': 'private, no-store',
      });
    });
}
