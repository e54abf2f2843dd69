import { randomUUID } from 'node:crypto';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ADVISORY_LOCKS, OrgIdSchema } from '@observatory/exporter-postgres';
import type pg from 'pg';
import { checkout } from '../db/checkout.ts';
import { withTransaction } from '../db/transaction.ts';
import type { ExportStorage } from '../exports/storage.ts';
import { ARCHIVE_COLUMNS, ARCHIVE_SCHEMA_VERSION } from './columns.ts';
import { csvSource, literal, withDuckDb } from './duckdb.ts';
import * as sql from './manifest.ts';
import { type ArchiveManifest, ArchiveManifestSchema } from './manifest.ts';
import { type MonthRange, monthRanges, rangeKey } from './months.ts';
import { removeQuietly } from './parquet-file.ts';
import { spoolRangeToCsv } from './spool.ts';
import { fetchStored, sha256OfFile } from './stored-file.ts';

export type { ArchiveManifest } from './manifest.ts';

export interface ArchiveDeps {
  pool: pg.Pool;
  /** Where archive files go: a local directory or an S3-compatible bucket (`createArchiveStorage`). */
  storage: ExportStorage;
  /** About this many rows per file at most; a larger month is split into parts. */
  partRows?: number;
  signal?: AbortSignal;
}

export class ArchiveVerificationError extends Error {
  override name = 'ArchiveVerificationError';
}

const COLUMN_NAMES = ARCHIVE_COLUMNS.map((c) => c.name);
const ROW_GROUP_ROWS = 100_000;

/**
 * Archives the org's events with `from <= created_at < to` to Parquet, one file (or several parts when large) per
 * month, and resolves with the manifests only once every file has been read back from storage and matched its
 * row count and SHA-256: whatever a returned manifest covers may then be deleted from `ai_events`.
 *
 * Idempotent per org and range: archiving the same range again replaces its files and manifests, never adds more.
 * Rows archived before and since deleted from the table are carried over from the earlier files, so a run that
 * follows a partial deletion loses nothing; a range with no rows left keeps its earlier manifests as they are.
 */
export async function archiveEvents(
  deps: ArchiveDeps,
  orgId: string,
  from: Date,
  to: Date,
): Promise<ArchiveManifest[]> {
  OrgIdSchema.parse(orgId);
  if (!(from.getTime() < to.getTime())) throw new RangeError('archiveEvents: from must be before to');
  const manifests: ArchiveManifest[] = [];
  for (const range of monthRanges(from, to)) manifests.push(...(await archiveRange(deps, orgId, range)));
  return manifests;
}

async function archiveRange(deps: ArchiveDeps, orgId: string, range: MonthRange): Promise<ArchiveManifest[]> {
  const { pool, storage } = deps;
  const work = join(storage.tempDir, `archive-${randomUUID()}`);
  await mkdir(work, { recursive: true, mode: 0o700 });
  const { client, release } = await checkout(pool);
  let broken = false;
  try {
    await client.query(sql.lockRange(ADVISORY_LOCKS.archiveRange, orgId, range.from));
    try {
      const existing = (await client.query(sql.manifestsOfRange(orgId, range.from, range.to))).rows.map((r) =>
        ArchiveManifestSchema.parse(r),
      );
      const csv = join(work, 'rows.csv');
      const rows = await spoolRangeToCsv(pool, COLUMN_NAMES, { orgId, ...range }, csv, deps.signal);
      if (rows === 0) return existing;
      const previous: string[] = [];
      for (const manifest of existing) {
        const file = join(work, `previous-${manifest.part}.parquet`);
        await fetchVerified(storage, manifest, file, work);
        previous.push(file);
      }
      const parts = await writeParts(work, csv, previous, deps.partRows ?? 1_000_000);
      const manifests: ArchiveManifest[] = [];
      for (const [part, file] of parts.entries()) {
        manifests.push(await storeVerified(storage, work, { orgId, range, part, file: file.path, ...file }));
      }
      await withTransaction(pool, async (tx) => {
        await tx.query(sql.deleteManifestsOfRange(orgId, range.from, range.to));
        for (const m of manifests) await tx.query(sql.insertManifest(m));
      });
      const kept = new Set(manifests.map((m) => m.storage_key));
      for (const old of existing.filter((m) => !kept.has(m.storage_key))) {
        await storage.remove(old.storage_key);
        await storage.remove(`${old.storage_key}.json`);
      }
      return manifests;
    } finally {
      await client.query(sql.unlockRange(ADVISORY_LOCKS.archiveRange, orgId, range.from));
    }
  } catch (err) {
    broken = true;
    throw err;
  } finally {
    release(broken);
    await removeQuietly(work);
  }
}

interface PartFile {
  path: string;
  rows: number;
  min: Date | null;
  max: Date | null;
}

/**
 * Writes the range's rows, in time order, as Parquet parts of about `partRows` rows, merged with the rows of the
 * range's earlier files that the table no longer has (the table's version wins where both have a row).
 */
async function writeParts(
  work: string,
  csv: string,
  previous: string[],
  partRows: number,
): Promise<PartFile[]> {
  const rowGroup = Math.min(ROW_GROUP_ROWS, partRows);
  const groupsPerFile = Math.max(1, Math.floor(partRows / rowGroup));
  const columns = COLUMN_NAMES.map((c) => `"${c}"`).join(', ');
  const source = previous.length
    ? `SELECT ${columns} FROM (
         SELECT *, 0 AS source FROM ${csvSource(csv)}
         UNION ALL BY NAME
         SELECT *, 1 AS source FROM read_parquet([${previous.map(literal).join(', ')}], union_by_name = true)
       ) QUALIFY row_number() OVER (PARTITION BY id, created_at ORDER BY source) = 1 ORDER BY created_at, id`
    : `SELECT * FROM ${csvSource(csv)}`;
  const dir = join(work, 'parts');
  return withDuckDb({ tempDir: work }, async (db) => {
    await db.run(
      `COPY (${source}) TO ${literal(dir)} (FORMAT parquet, ROW_GROUP_SIZE ${rowGroup},
         ROW_GROUPS_PER_FILE ${groupsPerFile}, FILENAME_PATTERN 'part-{i}')`,
    );
    const reader = await db.runAndReadAll(
      `SELECT filename, count(*)::BIGINT AS n, epoch_us(min(created_at)) AS lo, epoch_us(max(created_at)) AS hi
       FROM read_parquet(${literal(join(dir, '*.parquet'))}, filename = true) GROUP BY filename`,
    );
    return reader
      .getRowObjects()
      .map((r) => ({
        path: String(r.filename),
        rows: Number(r.n),
        min: r.lo === null ? null : new Date(Number(r.lo) / 1000),
        max: r.hi === null ? null : new Date(Number(r.hi) / 1000),
      }))
      .sort((a, b) => (a.min?.getTime() ?? 0) - (b.min?.getTime() ?? 0));
  });
}

/** Rows in a Parquet file, as its footer says after DuckDB has read every row group of it. */
export async function parquetRowCount(file: string, tempDir: string): Promise<number> {
  return withDuckDb({ tempDir }, async (db) => {
    const reader = await db.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM read_parquet(${literal(file)})`);
    return Number(reader.getRowObjects()[0]?.n);
  });
}

/** Copies a manifest's file from storage to `target`, refusing it unless its SHA-256 and row count match. */
export async function fetchVerified(
  storage: ExportStorage,
  manifest: ArchiveManifest,
  target: string,
  tempDir: string,
): Promise<void> {
  const sha256 = await fetchStored(storage, manifest.storage_key, target);
  if (sha256 === undefined)
    throw new ArchiveVerificationError(`Archive file ${manifest.storage_key} is missing`);
  if (sha256 !== manifest.sha256) {
    throw new ArchiveVerificationError(
      `Archive file ${manifest.storage_key} has SHA-256 ${sha256}, expected ${manifest.sha256}`,
    );
  }
  const rows = await parquetRowCount(target, tempDir);
  if (rows !== manifest.row_count) {
    throw new ArchiveVerificationError(
      `Archive file ${manifest.storage_key} has ${rows} rows, expected ${manifest.row_count}`,
    );
  }
}

async function storeVerified(
  storage: ExportStorage,
  work: string,
  p: {
    orgId: string;
    range: MonthRange;
    part: number;
    file: string;
    rows: number;
    min: Date | null;
    max: Date | null;
  },
): Promise<ArchiveManifest> {
  const sha256 = await sha256OfFile(p.file);
  const { size } = await stat(p.file);
  // The hash in the name: a new version never overwrites the file a committed manifest points to.
  const key = `${p.orgId}/${rangeKey(p.range)}/part-${p.part}-${sha256.slice(0, 16)}.parquet`;
  await storage.put(key, p.file);
  const now = new Date();
  const manifest: ArchiveManifest = {
    id: randomUUID(),
    org_id: p.orgId,
    month: p.range.month,
    range_from: p.range.from,
    range_to: p.range.to,
    part: p.part,
    row_count: p.rows,
    min_created_at: p.min,
    max_created_at: p.max,
    schema_version: ARCHIVE_SCHEMA_VERSION,
    sha256,
    file_size: size,
    storage_key: key,
    created_at: now,
    verified_at: now,
  };
  await fetchVerified(storage, manifest, join(work, `verify-${p.part}.parquet`), work);
  manifest.verified_at = new Date();
  const sidecar = join(storage.tempDir, `${randomUUID()}.json`);
  await writeFile(sidecar, `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
  await storage.put(`${key}.json`, sidecar);
  return manifest;
}
