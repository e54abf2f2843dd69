import type pg from 'pg';
import { AI_SPAN_COLUMNS, AI_SPAN_PG_TYPES, type AiSpan, isAiSpan, type StoredRow } from '../ai-span.ts';
import { type EventContentRow, isEventContent, writeContentRows } from '../content/content-row.ts';
import { AI_EVENT_COLUMNS, type AiEvent, AI_EVENT_PG_TYPES as COLUMN_TYPES } from '../event.ts';

export type WriteResult =
  | { kind: 'success'; inserted: number; rejected: number }
  | { kind: 'retryable'; error: Error }
  | { kind: 'failure'; error: Error };

// One array parameter per column: no 65,535-parameter ceiling, one statement per batch, and ON CONFLICT makes a
// re-export of the same row (same deterministic id) a no-op.
function insertSql<T>(table: string, columns: readonly (keyof T & string)[], types: Record<keyof T, string>) {
  return `INSERT INTO ${table} (${columns.join(', ')})
SELECT * FROM unnest(${columns.map((c, i) => `$${i + 1}::${types[c]}[]`).join(', ')})
ON CONFLICT DO NOTHING`;
}

function columnArrays<T>(
  rows: readonly T[],
  columns: readonly (keyof T & string)[],
  types: Record<keyof T, string>,
): unknown[][] {
  return columns.map((column) =>
    rows.map((row) => {
      const value = row[column];
      if (value === null || value === undefined) return null;
      if (types[column] === 'jsonb') return JSON.stringify(value);
      if (value instanceof Date) return value.toISOString();
      return value;
    }),
  );
}

// Connection loss, server shutdown, too many connections, serialization failures: worth trying again later.
const RETRYABLE_SQLSTATE = /^(08|53|57P0|40001|40P01)/;

export function isRetryable(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return RETRYABLE_SQLSTATE.test(code);
  // No SQLSTATE: a socket or timeout error from the driver.
  return true;
}

export interface RowWriter<T> {
  write(rows: readonly T[]): Promise<WriteResult>;
}

export type EventWriter = RowWriter<AiEvent>;

/** Writes batches of events idempotently into `ai_events`. */
export function createEventWriter(pool: pg.Pool): EventWriter {
  return createRowWriter(pool, 'ai_events', AI_EVENT_COLUMNS, COLUMN_TYPES);
}

const NOTHING: WriteResult = { kind: 'success', inserted: 0, rejected: 0 };

/** Two results as one: a retryable part makes the whole retryable (a retry rewrites the rest as no-ops). */
function sum(a: WriteResult, b: WriteResult): WriteResult {
  if (a.kind !== 'success') return a;
  if (b.kind !== 'success') return b;
  return { kind: 'success', inserted: a.inserted + b.inserted, rejected: a.rejected + b.rejected };
}

/**
 * Writes what the ingest pipeline carries: model calls into `ai_events`, the agent, tool, … spans around them into
 * `ai_spans`, and captured content (encrypted) into `ai_event_content` after its events, each idempotently. A batch
 * of model calls only (the common case) is the one statement it always was.
 */
export function createStoredRowWriter(pool: pg.Pool): RowWriter<StoredRow> {
  const events = createEventWriter(pool);
  const spans = createRowWriter<AiSpan>(pool, 'ai_spans', AI_SPAN_COLUMNS, AI_SPAN_PG_TYPES);
  return {
    async write(rows) {
      if (!rows.some((row) => isAiSpan(row) || isEventContent(row)))
        return events.write(rows as readonly AiEvent[]);
      const calls: AiEvent[] = [];
      const others: AiSpan[] = [];
      const contents: EventContentRow[] = [];
      for (const row of rows) {
        if (isAiSpan(row)) others.push(row);
        else if (isEventContent(row)) contents.push(row);
        else calls.push(row);
      }
      let written = calls.length > 0 ? await events.write(calls) : NOTHING;
      if (written.kind === 'success') written = sum(written, await spans.write(others));
      return written.kind === 'success' ? sum(written, await writeContentRows(pool, contents)) : written;
    },
  };
}

/**
 * Writes batches of rows idempotently into `table`, a column per key of `types`. A batch PostgreSQL refuses for its
 * data is split until the bad rows are isolated, so one malformed row never costs the others; those rows are
 * reported as `rejected`.
 */
export function createRowWriter<T>(
  pool: pg.Pool,
  table: string,
  columns: readonly (keyof T & string)[],
  types: Record<keyof T, string>,
): RowWriter<T> {
  const sql = insertSql(table, columns, types);
  async function insert(events: readonly T[]): Promise<WriteResult> {
    try {
      const result = await pool.query(sql, columnArrays(events, columns, types));
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
