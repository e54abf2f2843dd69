import type { AiEvent, LogRow } from '@observatory/exporter-postgres';
import type pg from 'pg';
import { retryOnConnectionLoss } from '../db/retry.ts';

export const EVENTS_CHANNEL = 'observatory_events';
export const ALERTS_CHANNEL = 'observatory_alerts';
export const LOGS_CHANNEL = 'observatory_logs';

// PostgreSQL refuses NOTIFY payloads of 8000 bytes or more.
const MAX_PAYLOAD = 7900;

/**
 * Tells every replica's stream listener that events committed: one NOTIFY per batch, naming the batch's orgs. A
 * listener reads what is new from its own positions (hub.ts), so the payload only has to wake it; keys per event
 * would cost a NOTIFY per hundred events. Called after commit, so a listener never misses a row it is told of. A
 * connection lost while notifying is retried on a fresh one, so a fault does not silently drop live events.
 */
export async function publishCommitted(pool: pg.Pool, events: readonly AiEvent[]): Promise<void> {
  await notifyKeys(pool, EVENTS_CHANNEL, [...new Set(events.map((e) => e.org_id))]);
}

/** Log lines just committed to structured_logs: their keys (org, time, id) on LOGS_CHANNEL, which the hub reads by. */
export async function publishLogs(pool: pg.Pool, rows: readonly LogRow[]): Promise<void> {
  await notifyKeys(
    pool,
    LOGS_CHANNEL,
    rows.map((r) => `${r.org_id}|${r.time.getTime()}|${r.id}`),
  );
}

async function notifyKeys(pool: pg.Pool, channel: string, keys: readonly string[]): Promise<void> {
  const chunks: string[] = [];
  let chunk = '';
  for (const key of keys) {
    if (chunk && chunk.length + key.length + 1 > MAX_PAYLOAD) {
      chunks.push(chunk);
      chunk = '';
    }
    chunk = chunk ? `${chunk},${key}` : key;
  }
  if (chunk) chunks.push(chunk);
  for (const payload of chunks) {
    await retryOnConnectionLoss(() => pool.query('SELECT pg_notify($1, $2)', [channel, payload]));
  }
}

export interface AlertNotice {
  orgId: string;
  change: string;
  alert: unknown;
}

export async function publishAlert(pool: pg.Pool, notice: AlertNotice): Promise<void> {
  const payload = JSON.stringify(notice);
  if (payload.length < MAX_PAYLOAD) {
    await retryOnConnectionLoss(() => pool.query('SELECT pg_notify($1, $2)', [ALERTS_CHANNEL, payload]));
  }
}
