import { AI_EVENT_COLUMNS, type AiEvent, type LogRow } from '@observatory/exporter-postgres';
import pg from 'pg';
import { backoffMs, retryOnConnectionLoss } from '../db/retry.ts';
import type { Logger } from '../log.ts';
import { LOG_COLUMNS } from '../logs/logs-sql.ts';
import { EVENT_ROW_TYPES } from '../query/event-rows.ts';
import { ALERTS_CHANNEL, type AlertNotice, EVENTS_CHANNEL, LOGS_CHANNEL } from './publish.ts';

/** `data` is the JSON text, serialised once for every client that receives the message. */
export type StreamMessage =
  | { kind: 'telemetry'; event: AiEvent; data: string }
  | { kind: 'alert'; notice: AlertNotice; data: string }
  | { kind: 'log'; row: LogRow; data: string };

interface Subscriber {
  orgId: string;
  /** Whether it takes `log` messages: log lines are read from the database only for orgs with such subscribers. */
  logs: boolean;
  /** When it subscribed (ms): a catch-up gives it only what it could have missed. */
  since: number;
  deliver(message: StreamMessage): void;
}

export interface StreamHubOptions {
  /** First delay before reconnecting the LISTEN connection; it doubles on each failure up to `maxBackoffMs`. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /**
   * How far before the connection was lost a catch-up starts reading: rows commit a little after they were
   * received (batching, retries, the spill file's replay), so a row received before the loss may commit after it.
   */
  catchUpMarginMs?: number;
  /**
   * Events one catch-up delivers at most (and it reads at most ten times as many rows), so a long outage can
   * neither flood clients nor hold the database.
   */
  maxCatchUp?: number;
}

const COLUMNS = AI_EVENT_COLUMNS.join(', ');
const CATCH_UP_PAGE = 1000;
const NIL_UUID = '00000000-0000-0000-0000-000000000000';
// Ids of delivered events are remembered so that a catch-up overlapping live notifications sends nothing twice.
const MAX_REMEMBERED = 100_000;

/**
 * One LISTEN connection per process: notifications from any replica's ingest are turned into rows (read by primary
 * key) and handed to this process's subscribers of that org. Delivery is synchronous and never waits on a client:
 * each subscriber buffers on its own.
 *
 * When the LISTEN connection is lost, the hub reconnects with capped exponential backoff and then catches up:
 * it reads what was received since shortly before the loss from `ai_events` in (received_at, id) order, for the
 * orgs that have subscribers, and delivers what it has not delivered yet, before any newer notification.
 */
export class StreamHub {
  private client: pg.Client | undefined;
  private readonly subscribers = new Set<Subscriber>();
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  /** When the oldest loss not yet caught up with happened (ms), if any. */
  private gapSince: number | undefined;
  /** Counts losses, so a catch-up overtaken by a newer loss leaves the gap open for the next one. */
  private losses = 0;
  /** Delivered event ids → received_at (ms), oldest first. */
  private readonly delivered = new Map<string, number>();
  // Notifications and catch-ups are handled one after another, so events reach subscribers in commit order.
  private handling: Promise<void> = Promise.resolve();
  private readonly options: Required<StreamHubOptions>;

  constructor(
    private readonly connectionString: string,
    private readonly pool: pg.Pool,
    private readonly logger?: Logger,
    options: StreamHubOptions = {},
  ) {
    this.options = {
      minBackoffMs: 250,
      maxBackoffMs: 10_000,
      catchUpMarginMs: 30_000,
      maxCatchUp: 10_000,
      ...options,
    };
  }

  /** Opens the LISTEN connection; fails when it cannot (later losses are reconnected on their own). */
  start(): Promise<void> {
    return this.connect();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.connectionString, connectionTimeoutMillis: 5000 });
    // Every event of a client that is no longer the current one is ignored, but an 'error' listener stays.
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('listen connection ended')));
    client.on('notification', (n) => {
      if (client === this.client) this.onNotification(n);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${EVENTS_CHANNEL}; LISTEN ${ALERTS_CHANNEL}; LISTEN ${LOGS_CHANNEL}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.failures = 0;
    if (this.gapSince !== undefined) {
      this.logger?.info('live stream listener reconnected; catching up');
      this.handling = this.handling.then(() => this.catchUp());
    }
  }

  private lost(client: pg.Client, err: Error): void {
    if (client !== this.client || this.stopped) return;
    this.client = undefined;
    this.losses++;
    this.gapSince ??= Date.now();
    this.logger?.warn({ err: err.message }, 'live stream listener lost its connection; reconnecting');
    client.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    this.failures++;
    const delay = backoffMs(this.failures, this.options.minBackoffMs, this.options.maxBackoffMs);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect().catch((err: Error) => {
        this.logger?.warn(
          { err: err.message, failures: this.failures },
          'live stream listener: reconnect failed',
        );
        this.scheduleReconnect();
      });
    }, delay);
  }

  subscribe(
    orgId: string,
    deliver: (message: StreamMessage) => void,
    { logs = false }: { logs?: boolean } = {},
  ): () => void {
    const subscriber = { orgId, logs, since: Date.now(), deliver };
    this.subscribers.add(subscriber);
    return () => this.subscribers.delete(subscriber);
  }

  private onNotification(n: pg.Notification): void {
    const payload = n.payload;
    if (!payload) return;
    if (n.channel === EVENTS_CHANNEL) this.handling = this.handling.then(() => this.onEvents(payload));
    if (n.channel === ALERTS_CHANNEL) this.onAlert(payload);
    if (n.channel === LOGS_CHANNEL) this.handling = this.handling.then(() => this.onLogs(payload));
  }

  /**
   * Log lines just committed, read by primary key for the orgs with a subscriber that takes logs. Live only: unlike
   * events, log lines are neither caught up after a lost LISTEN connection nor replayed by Last-Event-ID (a tail
   * shows what arrives; the Logs page reads history from GET /api/telemetry/logs).
   */
  private async onLogs(payload: string): Promise<void> {
    for (const [org, keys] of this.keysByOrg(payload, (s) => s.logs)) {
      try {
        const { rows } = await retryOnConnectionLoss(() =>
          this.pool.query<LogRow>({
            text: `SELECT ${LOG_COLUMNS} FROM structured_logs
                   WHERE org_id = $1 AND (time, id) IN (SELECT * FROM unnest($2::timestamptz[], $3::uuid[]))
                   ORDER BY time, id`,
            values: [org, keys.at, keys.ids],
          }),
        );
        for (const row of rows) {
          const message: StreamMessage = { kind: 'log', row, data: JSON.stringify(row) };
          for (const s of this.subscribers) if (s.logs && s.orgId === org) s.deliver(message);
        }
      } catch (err) {
        this.logger?.warn({ err: (err as Error).message }, 'live stream could not read notified log lines');
      }
    }
  }

  /** The keys of a notification (`org|ms|id`, comma-separated) by org, for orgs with a subscriber `wanted`. */
  private keysByOrg(
    payload: string,
    wanted: (s: Subscriber) => boolean = () => true,
  ): Map<string, { at: Date[]; ids: string[] }> {
    const byOrg = new Map<string, { at: Date[]; ids: string[] }>();
    for (const key of payload.split(',')) {
      const [org, ms, id] = key.split('|');
      if (!org || !ms || !id) continue;
      if (![...this.subscribers].some((s) => s.orgId === org && wanted(s))) continue;
      const keys = byOrg.get(org) ?? { at: [], ids: [] };
      keys.at.push(new Date(Number(ms)));
      keys.ids.push(id);
      byOrg.set(org, keys);
    }
    return byOrg;
  }

  private async onEvents(payload: string): Promise<void> {
    for (const [org, keys] of this.keysByOrg(payload)) {
      try {
        const { rows } = await retryOnConnectionLoss(() =>
          this.pool.query<AiEvent>({
            text: `SELECT ${COLUMNS} FROM ai_events
                   WHERE org_id = $1 AND (created_at, id) IN (SELECT * FROM unnest($2::timestamptz[], $3::uuid[]))
                   ORDER BY received_at, id`,
            values: [org, keys.at, keys.ids],
            types: EVENT_ROW_TYPES,
          }),
        );
        for (const event of rows) this.deliverEvent(event);
      } catch (err) {
        this.logger?.warn({ err: (err as Error).message }, 'live stream could not read notified events');
      }
    }
  }

  /** Delivers what was received since shortly before the oldest loss, in (received_at, id) order, bounded. */
  private async catchUp(): Promise<void> {
    const gapSince = this.gapSince;
    const losses = this.losses;
    if (gapSince === undefined) return;
    const orgs = [...new Set([...this.subscribers].map((s) => s.orgId))];
    // Most rows read again were delivered before the loss and are skipped, so reading may go further than delivering.
    const maxRead = this.options.maxCatchUp * 10;
    let position = { at: new Date(gapSince - this.options.catchUpMarginMs), id: NIL_UUID };
    let read = 0;
    let delivered = 0;
    let complete = orgs.length === 0;
    try {
      while (!complete && read < maxRead && delivered < this.options.maxCatchUp) {
        const { rows } = await retryOnConnectionLoss(() =>
          this.pool.query<AiEvent>({
            // received_at >= alone lets the BRIN index on received_at narrow the scan.
            text: `SELECT ${COLUMNS} FROM ai_events
                   WHERE org_id = ANY($1) AND received_at >= $2 AND (received_at, id) > ($2, $3::uuid)
                   ORDER BY received_at, id LIMIT $4`,
            values: [orgs, position.at, position.id, CATCH_UP_PAGE],
            types: EVENT_ROW_TYPES,
          }),
        );
        read += rows.length;
        for (const event of rows) if (this.deliverEvent(event, gapSince)) delivered++;
        const last = rows.at(-1);
        if (last) position = { at: last.received_at, id: last.id };
        complete = rows.length < CATCH_UP_PAGE;
      }
    } catch (err) {
      // The gap stays open: the next reconnect tries again.
      this.logger?.warn({ err: (err as Error).message }, 'live stream catch-up failed');
      return;
    }
    if (!complete) {
      this.logger?.warn(
        { read, delivered },
        'live stream catch-up stopped at its limit; older events were skipped',
      );
    }
    if (this.losses === losses) this.gapSince = undefined;
  }

  /**
   * Hands a telemetry event to its org's subscribers once (false when its id was delivered already). A catch-up
   * (`gapSince` given) skips subscribers that came after the loss for events received before they subscribed.
   */
  private deliverEvent(event: AiEvent, gapSince?: number): boolean {
    if (this.delivered.has(event.id)) return false;
    this.remember(event);
    const message: StreamMessage = { kind: 'telemetry', event, data: JSON.stringify(event) };
    const receivedAt = event.received_at.getTime();
    for (const s of this.subscribers) {
      if (s.orgId !== event.org_id) continue;
      if (gapSince !== undefined && s.since > gapSince && receivedAt < s.since) continue;
      s.deliver(message);
    }
    return true;
  }

  private remember(event: AiEvent): void {
    this.delivered.set(event.id, event.received_at.getTime());
    // While a gap is open, everything since shortly before it must be kept for its catch-up.
    const keepFrom = (this.gapSince ?? Date.now()) - this.options.catchUpMarginMs * 2;
    for (const [id, receivedAt] of this.delivered) {
      if (this.delivered.size <= MAX_REMEMBERED && receivedAt >= keepFrom) break;
      this.delivered.delete(id);
    }
  }

  private onAlert(payload: string): void {
    try {
      const notice = JSON.parse(payload) as AlertNotice;
      for (const s of this.subscribers)
        if (s.orgId === notice.orgId) s.deliver({ kind: 'alert', notice, data: payload });
    } catch {
      // Not ours: another tool on the same channel.
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    await this.client?.end().catch(() => undefined);
  }
}
