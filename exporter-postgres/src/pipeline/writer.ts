import type pg from 'pg';
import { AI_SPAN_COLUMNS, type AiSpan, isAiSpan, type StoredRow } from '../ai-span.ts';
import { AI_EVENT_COLUMNS, type AiEvent } from '../event.ts';

export type WriteResult =
  | { kind: 'success'; inserted: number; rejected: number }
  | { kind: 'retryable'; error: Error }
  | { kind: 'failure'; error: Error };

const COLUMN_TYPES: Record<keyof AiEvent, string> = {
  id: 'uuid',
  org_id: 'text',
  client_id: 'text',
  user_id: 'text',
  session_id: 'text',
  request_id: 'text',
  trace_id: 'text',
  span_id: 'text',
  parent_span_id: 'text',
  service_name: 'text',
  endpoint: 'text',
  operation: 'text',
  provider: 'text',
  model_name: 'text',
  model_version: 'text',
  adapter_id: 'text',
  input_tokens: 'int4',
  output_tokens: 'int4',
  cached_input_tokens: 'int4',
  reasoning_tokens: 'int4',
  input_size_bytes: 'int8',
  output_size_bytes: 'int8',
  latency_ms: 'float8',
  compute_ms: 'float8',
  ttft_ms: 'float8',
  cost_usd: 'numeric',
  cost_source: 'text',
  success: 'bool',
  error_code: 'text',
  error_message: 'text',
  fallback_used: 'bool',
  fallback_reason: 'text',
  fallback_model: 'text',
  provenance: 'jsonb',
  tags: 'jsonb',
  consent: 'bool',
  created_at: 'timestamptz',
  received_at: 'timestamptz',
};

const SPAN_COLUMN_TYPES: Record<keyof AiSpan, string> = {
  id: 'uuid',
  org_id: 'text',
  span_kind: 'text',
  name: 'text',
  agent_name: 'text',
  tool_name: 'text',
  success: 'bool',
  error_code: 'text',
  latency_ms: 'float8',
  trace_id: 'text',
  span_id: 'text',
  parent_span_id: 'text',
  service_name: 'text',
  endpoint: 'text',
  user_id: 'text',
  session_id: 'text',
  attributes: 'jsonb',
  created_at: 'timestamptz',
  received_at: 'timestamptz',
};

interface Table<Row> {
  sql: string;
  arrays(rows: readonly Row[]): unknown[][];
}

// One array parameter per column: no 65,535-parameter ceiling, one statement per batch, and ON CONFLICT makes a
// re-export of the same span (same deterministic id) a no-op.
function table<Row>(
  name: string,
  columns: readonly (keyof Row & string)[],
  types: Record<keyof Row, string>,
): Table<Row> {
  return {
    sql: `INSERT INTO ${name} (${columns.join(', ')})
SELECT * FROM unnest(${columns.map((c, i) => `$${i + 1}::${types[c]}[]`).join(', ')})
ON CONFLICT DO NOTHING`,
    arrays: (rows) =>
      columns.map((column) =>
        rows.map((row) => {
          const value = row[column];
          if (value === null || value === undefined) return null;
          if (types[column] === 'jsonb') return JSON.stringify(value);
          if (value instanceof Date) return value.toISOString();
          return value;
        }),
      ),
  };
}

const EVENTS = table<AiEvent>('ai_events', AI_EVENT_COLUMNS, COLUMN_TYPES);
const SPANS = table<AiSpan>('ai_spans', AI_SPAN_COLUMNS, SPAN_COLUMN_TYPES);

// Connection loss, server shutdown, too many connections, serialization failures: worth trying again later.
const RETRYABLE_SQLSTATE = /^(08|53|57P0|40001|40P01)/;

function isRetryable(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return RETRYABLE_SQLSTATE.test(code);
  // No SQLSTATE: a socket or timeout error from the driver.
  return true;
}

export interface EventWriter {
  write(rows: readonly StoredRow[]): Promise<WriteResult>;
}

const NOTHING: WriteResult = { kind: 'success', inserted: 0, rejected: 0 };

/** Two results as one: a retryable part makes the whole retryable (a retry rewrites the rest as no-ops). */
function sum(a: WriteResult, b: WriteResult): WriteResult {
  if (a.kind !== 'success') return a;
  if (b.kind !== 'success') return b;
  return { kind: 'success', inserted: a.inserted + b.inserted, rejected: a.rejected + b.rejected };
}

/**
 * Writes batches of model calls (`ai_events`) and the spans around them (`ai_spans`) idempotently. A batch
 * PostgreSQL refuses for its data is split until the bad rows are isolated, so one malformed row never costs the
 * others; those rows are reported as `rejected`.
 */
export function createEventWriter(pool: pg.Pool): EventWriter {
  async function insert<Row>(into: Table<Row>, rows: readonly Row[]): Promise<WriteResult> {
    if (rows.length === 0) return NOTHING;
    try {
      const result = await pool.query(into.sql, into.arrays(rows));
      return { kind: 'success', inserted: result.rowCount ?? 0, rejected: 0 };
    } catch (err) {
      if (isRetryable(err)) return { kind: 'retryable', error: err as Error };
      if (rows.length === 1) return { kind: 'success', inserted: 0, rejected: 1 };
      const middle = Math.ceil(rows.length / 2);
      return sum(await insert(into, rows.slice(0, middle)), await insert(into, rows.slice(middle)));
    }
  }
  return {
    async write(rows) {
      if (rows.length === 0) return NOTHING;
      try {
        // A model-call-only batch (the common case) is exactly the one statement it always was.
        if (!rows.some(isAiSpan)) return await insert(EVENTS, rows as readonly AiEvent[]);
        const events: AiEvent[] = [];
        const spans: AiSpan[] = [];
        for (const row of rows) {
          if (isAiSpan(row)) spans.push(row);
          else events.push(row);
        }
        const written = await insert(EVENTS, events);
        return written.kind === 'success' ? sum(written, await insert(SPANS, spans)) : written;
      } catch (err) {
        return { kind: 'failure', error: err as Error };
      }
    },
  };
}
