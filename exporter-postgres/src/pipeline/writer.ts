import type pg from 'pg';
import { AI_EVENT_COLUMNS, type AiEvent, AI_EVENT_PG_TYPES as COLUMN_TYPES } from '../event.ts';

export type WriteResult =
  | { kind: 'success'; inserted: number; rejected: number }
  | { kind: 'retryable'; error: Error }
  | { kind: 'failure'; error: Error };

// One array parameter per column: no 65,535-parameter ceiling, one statement per batch, and ON CONFLICT makes a
// re-export of the same span (same deterministic id) a no-op.
const INSERT_SQL = `INSERT INTO ai_events (${AI_EVENT_COLUMNS.join(', ')})
SELECT * FROM unnest(${AI_EVENT_COLUMNS.map((c, i) => `$${i + 1}::${COLUMN_TYPES[c]}[]`).join(', ')})
ON CONFLICT DO NOTHING`;

function columnArrays(events: readonly AiEvent[]): unknown[][] {
  return AI_EVENT_COLUMNS.map((column) =>
    events.map((event) => {
      const value = event[column];
      if (value === null || value === undefined) return null;
      if (COLUMN_TYPES[column] === 'jsonb') return JSON.stringify(value);
      if (value instanceof Date) return value.toISOString();
      return value;
    }),
  );
}

// Connection loss, server shutdown, too many connections, serialization failures: worth trying again later.
const RETRYABLE_SQLSTATE = /^(08|53|57P0|40001|40P01)/;

function isRetryable(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return RETRYABLE_SQLSTATE.test(code);
  // No SQLSTATE: a socket or timeout error from the driver.
  return true;
}

export interface EventWriter {
  write(events: readonly AiEvent[]): Promise<WriteResult>;
}

/**
 * Writes batches of events idempotently. A batch PostgreSQL refuses for its data is split until the bad rows are
 * isolated, so one malformed event never costs the others; those rows are reported as `rejected`.
 */
export function createEventWriter(pool: pg.Pool): EventWriter {
  async function insert(events: readonly AiEvent[]): Promise<WriteResult> {
    try {
      const result = await pool.query(INSERT_SQL, columnArrays(events));
      return { kind: 'success', inserted: result.rowCount ?? 0, rejected: 0 };
    } catch (err) {
      if (isRetryable(err)) return { kind: 'retryable', error: err as Error };
      if (events.length === 1) return { kind: 'success', inserted: 0, rejected: 1 };
      const middle = Math.ceil(events.length / 2);
      const parts = [await insert(events.slice(0, middle)), await insert(events.slice(middle))];
      const retry = parts.find((p) => p.kind === 'retryable');
      if (retry) return retry;
      return parts.reduce<WriteResult>(
        (sum, p) =>
          sum.kind === 'success' && p.kind === 'success'
            ? { kind: 'success', inserted: sum.inserted + p.inserted, rejected: sum.rejected + p.rejected }
            : sum,
        { kind: 'success', inserted: 0, rejected: 0 },
      );
    }
  }
  return {
    async write(events) {
      if (events.length === 0) return { kind: 'success', inserted: 0, rejected: 0 };
      try {
        return await insert(events);
      } catch (err) {
        return { kind: 'failure', error: err as Error };
      }
    },
  };
}
