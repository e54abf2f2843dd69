import type pg from 'pg';
import type { Config } from '../config.ts';
import { createArchiveStorage } from '../exports/service.ts';
import type { ArchiveRange } from './run.ts';

/**
 * The retention job's archive: `archiveEvents` on the configured archive storage, resolving with the rows its
 * verified manifests cover. DuckDB (a native module) is loaded on the first archive, not at start-up.
 */
export async function archiveRangeFor(config: Config, pool: pg.Pool): Promise<ArchiveRange> {
  const storage = await createArchiveStorage(config);
  return async (orgId, from, to) => {
    const { archiveEvents } = await import('../archive/archive.ts');
    const manifests = await archiveEvents({ pool, storage }, orgId, from, to);
    return manifests.reduce((rows, m) => rows + m.row_count, 0);
  };
}
