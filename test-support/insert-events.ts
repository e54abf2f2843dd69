import type { AiEvent } from '@observatory/exporter-postgres';
import { createEventWriter } from '@observatory/exporter-postgres';
import type pg from 'pg';

/** Inserts events through the production writer, failing loudly if any row is refused. */
export async function insertEvents(pool: pg.Pool, events: AiEvent[]): Promise<void> {
  const result = await createEventWriter(pool).write(events);
  if (result.kind !== 'success' || result.rejected > 0)
    throw new Error(`insert failed: ${JSON.stringify(result)}`);
}
