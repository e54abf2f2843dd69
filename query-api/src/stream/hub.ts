import type { AiEvent, LogRow } from '@observatory/exporter-postgres';
import pg from 'pg';
import { backoffMs, retryOnConnectionLoss } from '../db/retry.ts';
import type { Logger } from '../log.ts';
import { LOG_COLUMNS } from '../logs/logs-sql.ts';
import { EVENT_ROW_TYPES } from '../query/event-rows.ts';
import {
  HORIZON_SQL,
  isAfter,
  POSITIONED_COLUMNS,
  type PositionedRow,
  positioned,
  type StreamPosition,
} from './position.ts';
import { ALERTS_CHANNEL, type AlertNotice, EVENTS_CHANNEL, LOGS_CHANNEL } from './publish.ts';

/** `data` is the JSON text, serialised once for every client that receives the message. */
export type StreamMessage =
  | { kind: 'telemetry'; event: AiEvent; position: StreamPosition; data: string }
  | { kind: 'alert'; notice: AlertNotice; data: string }
  | { kind: 'log'; row: LogRow; data: string };

interface Subscriber {
  orgId: string;
  /** Whether it takes `log` messages: log lines are read from the database only for orgs with such subscribers. */
  logs: boolean;
  deliver(message: StreamMessage): void;
}

export interface StreamHubOptions {
  /** First delay before reconnecting the LISTEN connection; it doubles on each failure up to `maxBackoffMs`. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /**
   * Events one read delivers at most before it yields: a backlog (after a lost LISTEN connection) is delivered in
   * turns of this many, with the event loop free in between. Nothing is skipped: a client that cannot take it all
   * overflows its own buffer and resumes with Last-Event-ID.
   */
  maxCatchUp?: number;
}

const PAGE = 1000;
const NIL_UUID = '00000000-0000-0000-0000-000000000000';
// While committed rows wait behind a running transaction, they are read again after this (doubling up to a second);
// the waiting transaction's own notification usually comes first.
const MIN_WAIT_MS = 20;
const MAX_WAIT_MS = 1000;

/**
 * One LISTEN connection per process. A notification from any replica's ingest only says that events committed: the
 * hub then reads, for the orgs with subscribers, the rows after their cursors in stream order ((xact_id, id), see
 * position.ts), delivers those below the horizon, and moves the cursors on. Rows committed behind a transaction still
 * running wait until it ends, so every replica delivers the same rows in the same order as a replay would, each once.
 * Delivery is synchronous and never waits on a client: each subscriber buffers on its own.
 *
 * Each org has its own cursor, set when its first subscriber joins to the hub's base (where every read so far
 * reached): a read already under way when an org joins does not carry that org, and must not carry its cursor past
 * rows nobody was sent.
 *
 * When the LISTEN connection is lost, the hub reconnects with capped exponential backoff and then reads from the
 * cursors, so what committed meanwhile is delivered before anything newer, in turns of `maxCatchUp`.
 */
export class StreamHub {
  private client: pg.Client | undefined;
  private readonly subscribers = new Set<Subscriber>();
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  /** Per org with subscribers: every row of it up to here was delivered (or committed before it was subscribed). */
  private readonly cursors = new Map<string, StreamPosition>();
  /** Every read so far reached here: a row that commits from now on comes after it. Set once listening. */
  private base: StreamPosition | undefined;
  private readQueued = false;
  private waitTimer: NodeJS.Timeout | undefined;
  private waitMs = MIN_WAIT_MS;
  // Reads and log notifications are handled one after another, so events reach subscribers in stream order.
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
      // Listening before the horizon is read: whatever commits after it is notified.
      if (!this.base) {
        this.base = { xid: await this.horizon(client), id: NIL_UUID };
        for (const s of this.subscribers)
          if (!this.cursors.has(s.orgId)) this.cursors.set(s.orgId, this.base);
      }
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    if (this.failures > 0) this.logger?.info('live stream listener reconnected; catching up');
    this.failures = 0;
    this.requestRead();
  }

  private async horizon(client: pg.Client): Promise<bigint> {
    const { rows } = await client.query<{ horizon: string }>(`SELECT ${HORIZON_SQL}::text AS horizon`);
    return BigInt(rows[0]!.horizon);
  }

  private lost(client: pg.Client, err: Error): void {
    if (client !== this.client || this.stopped) return;
    this.client = undefined;
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
    const subscriber = { orgId, logs, deliver };
    this.subscribers.add(subscriber);
    if (this.base && !this.cursors.has(orgId)) this.cursors.set(orgId, this.base);
    return () => {
      this.subscribers.delete(subscriber);
      if (![...this.subscribers].some((s) => s.orgId === orgId)) this.cursors.delete(orgId);
    };
  }

  private onNotification(n: pg.Notification): void {
    const payload = n.payload;
    if (!payload) return;
    if (n.channel === EVENTS_CHANNEL) this.requestRead();
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

  /** Queues one read; notifications arriving before it starts need no other. */
  private requestRead(): void {
    if (this.readQueued) return;
    this.readQueued = true;
    this.handling = this.handling.then(() => {
      this.readQueued = false;
      return this.read();
    });
  }

  /**
   * Delivers, for every subscribed org, the rows after its cursor that are below the horizon, in stream order, at
   * most `maxCatchUp` of them before yielding to a next read.
   */
  private async read(): Promise<void> {
    const base = this.base;
    if (!base || this.stopped) return;
    clearTimeout(this.waitTimer);
    this.waitTimer = undefined;
    const orgs = [...this.cursors.keys()];
    let position = [...this.cursors.values()].reduce((a, b) => (isAfter(a, b) ? b : a), base);
    let delivered = 0;
    let waiting = false;
    let more = false;
    try {
      for (;;) {
        const { horizon, rows } = await this.page(orgs, position);
        for (const row of rows) {
          const { event, position: at } = positioned(row);
          if (at.xid >= horizon) {
            waiting = true;
            break;
          }
          position = at;
          // An org that left, or whose cursor is past this row (it joined at a later base), takes nothing of it.
          const cursor = this.cursors.get(event.org_id);
          if (cursor && isAfter(at, cursor)) {
            this.cursors.set(event.org_id, at);
            this.deliverEvent(event, at);
            delivered++;
          }
        }
        if (waiting) break;
        // Nothing of these orgs is left below the horizon: each is read from there on.
        if (rows.length < PAGE) {
          if (horizon > position.xid) position = { xid: horizon, id: NIL_UUID };
          break;
        }
        if (delivered >= this.options.maxCatchUp) {
          more = true;
          break;
        }
      }
    } catch (err) {
      // Each cursor keeps what was delivered; the next notification, or the retry below, reads on from there.
      this.logger?.warn({ err: (err as Error).message }, 'live stream could not read committed events');
      waiting = true;
    }
    for (const org of orgs) {
      const cursor = this.cursors.get(org);
      if (cursor && isAfter(position, cursor)) this.cursors.set(org, position);
    }
    if (isAfter(position, base)) this.base = position;
    if (more) this.requestRead();
    else if (waiting) this.waitAndReadAgain();
    else this.waitMs = MIN_WAIT_MS;
  }

  /** Rows wait behind a running transaction (or a read failed): read again soon, sooner than any next notification. */
  private waitAndReadAgain(): void {
    if (this.stopped || this.waitTimer) return;
    const delay = this.waitMs;
    this.waitMs = Math.min(this.waitMs * 2, MAX_WAIT_MS);
    this.waitTimer = setTimeout(() => {
      this.waitTimer = undefined;
      this.requestRead();
    }, delay);
  }

  /** One page of rows after `from`, with the horizon of the same snapshot. */
  private async page(
    orgs: string[],
    from: StreamPosition,
  ): Promise<{ horizon: bigint; rows: PositionedRow[] }> {
    const { rows } = await retryOnConnectionLoss(() =>
      this.pool.query<PositionedRow & { horizon: string }>({
        text: `SELECT h.horizon::text AS horizon, e.*
               FROM (SELECT ${HORIZON_SQL} AS horizon) h
               LEFT JOIN LATERAL (
                 SELECT ${POSITIONED_COLUMNS} FROM ai_events
                 WHERE org_id = ANY($1) AND (xact_id, id) > ($2::xid8, $3::uuid)
                 ORDER BY xact_id, id LIMIT ${PAGE}
               ) e ON true
               ORDER BY e.stream_xid::xid8, e.id`,
        values: [orgs, from.xid.toString(), from.id],
        types: EVENT_ROW_TYPES,
      }),
    );
    const horizon = BigInt(rows[0]!.horizon);
    return {
      horizon,
      rows: rows.filter((r) => r.stream_xid !== null).map(({ horizon: _, ...row }) => row),
    };
  }

  /** Hands a telemetry event to its org's subscribers. */
  private deliverEvent(event: AiEvent, position: StreamPosition): void {
    const message: StreamMessage = { kind: 'telemetry', event, position, data: JSON.stringify(event) };
    for (const s of this.subscribers) if (s.orgId === event.org_id) s.deliver(message);
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
    clearTimeout(this.waitTimer);
    await this.client?.end().catch(() => undefined);
  }
}
