import { OrgIdSchema } from '@observatory/exporter-postgres';
import { z } from 'zod';
import type { SqlStatement } from '../db/sql-statement.ts';

/**
 * One verified archive file: the row of `archives` and, with dates as ISO strings, the JSON sidecar stored next to
 * the file (`<key>.json`), so the archive describes itself without the database.
 */
export const ArchiveManifestSchema = z.object({
  id: z.uuid(),
  org_id: OrgIdSchema,
  /** The month (UTC) the file's rows belong to, `YYYY-MM`. */
  month: z.string().regex(/^\d{4}-\d{2}$/),
  /** The archived range [range_from, range_to): every row of the org in it is in this file or its sibling parts. */
  range_from: z.coerce.date(),
  range_to: z.coerce.date(),
  part: z.number().int().min(0),
  row_count: z.coerce.number().int().min(0),
  min_created_at: z.coerce.date().nullable(),
  max_created_at: z.coerce.date().nullable(),
  schema_version: z.number().int().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  file_size: z.coerce.number().int().min(0),
  storage_key: z.string().min(1),
  created_at: z.coerce.date(),
  verified_at: z.coerce.date(),
});
export type ArchiveManifest = z.infer<typeof ArchiveManifestSchema>;

const COLUMNS = Object.keys(ArchiveManifestSchema.shape);

/** Every statement of the archive, as parameterised SQL. */

export function manifestsOfRange(orgId: string, from: Date, to: Date): SqlStatement {
  return {
    text: `SELECT ${COLUMNS.join(', ')} FROM archives
           WHERE org_id = $1 AND range_from = $2 AND range_to = $3 ORDER BY part`,
    values: [orgId, from, to],
  };
}

/** The org's manifests whose range overlaps [from, to), oldest first; all of them without a range. */
export function manifestsOverlapping(orgId: string, from?: Date, to?: Date): SqlStatement {
  return {
    text: `SELECT ${COLUMNS.join(', ')} FROM archives
           WHERE org_id = $1 AND ($2::timestamptz IS NULL OR range_to > $2) AND ($3::timestamptz IS NULL OR range_from < $3)
           ORDER BY range_from, range_to, part`,
    values: [orgId, from ?? null, to ?? null],
  };
}

export function deleteManifestsOfRange(orgId: string, from: Date, to: Date): SqlStatement {
  return {
    text: 'DELETE FROM archives WHERE org_id = $1 AND range_from = $2 AND range_to = $3',
    values: [orgId, from, to],
  };
}

export function insertManifest(m: ArchiveManifest): SqlStatement {
  return {
    text: `INSERT INTO archives (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})`,
    values: COLUMNS.map((c) => m[c as keyof ArchiveManifest]),
  };
}

/** Serialises archiving of one org's range across processes; two-key form, held for the session. */
export function lockRange(lockId: number, orgId: string, from: Date): SqlStatement {
  return { text: 'SELECT pg_advisory_lock($1, hashtext($2 || $3::text))', values: [lockId, orgId, from] };
}

export function unlockRange(lockId: number, orgId: string, from: Date): SqlStatement {
  return { text: 'SELECT pg_advisory_unlock($1, hashtext($2 || $3::text))', values: [lockId, orgId, from] };
}
