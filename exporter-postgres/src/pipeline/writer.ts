import { once } from 'node:events';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { AI_SPAN_COLUMNS, AI_SPAN_PG_TYPES, type AiSpan, isAiSpan, type StoredRow } from '../ai-span.ts';
import { type EventContentRow, isEventContent, writeContentRows } from '../content/content-row.ts';
import { checkout } from '../db/checkout.ts';
import { AI_EVENT_COLUMNS, type AiEvent, AI_EVENT_PG_TYPES as COLUMN_TYPES } from '../event.ts';
import { copyLines } from './copy-rows.ts';

export type WriteResult =
  | { kind: 'success'; inserted: number; rejected: number }
  | { kind: 'retryable'; error: Error }
  | { kind: 'failure'; error: Error };

// Connection loss, server shutdown, too many connections, serialization failures: worth trying again later.
const RETRYABLE_SQLSTATE = /^(08|53|57P0|40001|40P01)/;

const UNIQUE_VIOLATION = '23505';

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
export function createEventWriter(pool: Database): EventWriter {
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
export function createStoredRowWriter(pool: Database): RowWriter<StoredRow> {
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
 * Where rows go: a pool (each write on a connection of its own), or one client, for a caller that writes inside
 * its own transaction.
 */
export type Database = pg.Pool | pg.ClientBase;

const isPool = (db: Database): db is pg.Pool => 'totalCount' in db;

async function onConnection<T>(db: Database, work: (client: pg.ClientBase) => Promise<T>): Promise<T> {
  if (!isPool(db)) return work(db);
  const { client, release } = await checkout(db);
  let broken = false;
  try {
    return await work(client);
  } catch (err) {
    // A connection that failed mid-COPY may be in any state: it is closed, not reused.
    broken = isRetryable(err);
    throw err;
  } finally {
    release(broken);
  }
}

/** Runs one `COPY … FROM STDIN` of `lines`; the rows it stored. */
async function copy(client: pg.ClientBase, sql: string, lines: readonly string[]): Promise<number> {
  const stream = client.query(copyFrom(sql));
  // One chunk: the batch is bounded (OBSERVATORY_INGEST_BATCH_SIZE rows), and one CopyData message costs least.
  stream.end(lines.join(''));
  // Rejects when the stream fails (PostgreSQL refused the data, the connection was lost).
  await once(stream, 'finish');
  return stream.rowCount;
}

/**
 * Writes batches of rows idempotently into `table`, a column per key of `types`, encoded once as COPY text. A batch
 * is copied straight into the table: the fastest way in, and the common case. When a row is already there (a
 * re-export, a client retrying a request that did commit) the COPY fails whole on the unique key, and the batch
 * goes through a session-local staging table instead: COPY there, then `INSERT … SELECT … ON CONFLICT DO NOTHING`
 * (so a re-export is a no-op). With a client rather than a pool the staging path is the only one: a failed COPY
 * would abort the caller's transaction. A batch PostgreSQL refuses for its data is split until the bad rows are
 * isolated, so one malformed row never costs the others; those rows are reported as `rejected`.
 */
export function createRowWriter<T>(
  db: Database,
  table: string,
  columns: readonly (keyof T & string)[],
  types: Record<keyof T, string>,
): RowWriter<T> {
  const list = columns.join(', ');
  const stagingTable = `${table}_staging`;
  const direct = `COPY ${table} (${list}) FROM STDIN`;
  const staged = async (client: pg.ClientBase, lines: readonly string[]) => {
    await client.query(`CREATE TEMP TABLE IF NOT EXISTS ${stagingTable} (LIKE ${table})`);
    // Emptied first: a staged write that failed halfway leaves its rows behind.
    await client.query(`TRUNCATE ${stagingTable}`);
    await copy(client, `COPY ${stagingTable} (${list}) FROM STDIN`, lines);
    const result = await client.query(
      `INSERT INTO ${table} (${list}) SELECT ${list} FROM ${stagingTable} ON CONFLICT DO NOTHING`,
    );
    return result.rowCount ?? 0;
  };
  const viaStaging = !isPool(db);

  async function insert(lines: readonly string[], staging: boolean): Promise<WriteResult> {
    try {
      const inserted = await onConnection(db, (client) =>
        staging ? staged(client, lines) : copy(client, direct, lines),
      );
      return { kind: 'success', inserted, rejected: 0 };
    } catch (err) {
      if (isRetryable(err)) return { kind: 'retryable', error: err as Error };
      if (!staging && (err as { code?: unknown }).code === UNIQUE_VIOLATION) return insert(lines, true);
      if (lines.length === 1) return { kind: 'success', inserted: 0, rejected: 1 };
      const middle = Math.ceil(lines.length / 2);
      const parts = [
        await insert(lines.slice(0, middle), staging),
        await insert(lines.slice(middle), staging),
      ];
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
    async write(rows) {
      if (rows.length === 0) return { kind: 'success', inserted: 0, rejected: 0 };
      try {
        return await insert(copyLines(rows, columns, types), viaStaging);
      } catch (err) {
        return { kind: 'failure', error: err as Error };
      }
    },
  };
}
