import { AI_EVENT_COLUMNS, type AiEvent } from '@observatory/exporter-postgres';
import pg from 'pg';
import type { Logger } from '../log.ts';
import { EVENT_ROW_TYPES } from '../query/event-rows.ts';
import { ALERTS_CHANNEL, type AlertNotice, EVENTS_CHANNEL } from './publish.ts';

/** `data` is the JSON text, serialised once for every client that receives the message. */
export type StreamMessage =
  | { kind: 'telemetry'; event: AiEvent; data: string }
  | { kind: 'alert'; notice: AlertNotice; data: string };

interface Subscriber {
  orgId: string;
  deliver(message: StreamMessage): void;
}

const COLUMNS = AI_EVENT_COLUMNS.join(', ');

/**
 * One LISTEN connection per process: notifications from any replica's ingest are turned into rows (read by primary
 * key) and handed to this process's subscribers of that org. Delivery is synchronous and never waits on a client:
 * each subscriber buffers on its own.
 */
export class StreamHub {
  private client: pg.Client | undefined;
  private readonly subscribers = new Set<Subscriber>();
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  // Notifications are handled one after another, so events reach subscribers in the order they committed.
  private handling: Promise<void> = Promise.resolve();

  constructor(
    private readonly connectionString: string,
    private readonly pool: pg.Pool,
    private readonly logger?: Logger,
  ) {}

  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.connectionString });
    client.on('error', (err) => this.reconnect(err));
    client.on('end', () => this.reconnect(new Error('listen connection ended')));
    client.on('notification', (n) => {
      const payload = n.payload;
      if (n.channel === EVENTS_CHANNEL && payload)
        this.handling = this.handling.then(() => this.onEvents(payload));
      if (n.channel === ALERTS_CHANNEL && n.payload) this.onAlert(n.payload);
    });
    await client.connect();
    await client.query(`LISTEN ${EVENTS_CHANNEL}; LISTEN ${ALERTS_CHANNEL}`);
    this.client = client;
  }

  private reconnect(err: Error): void {
    if (this.stopped || this.reconnectTimer) return;
    this.logger?.warn({ err: err.message }, 'live stream listener lost its connection; reconnecting');
    this.client = undefined;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.start().catch((e: Error) => this.reconnect(e));
    }, 1000);
  }

  subscribe(orgId: string, deliver: (message: StreamMessage) => void): () => void {
    const subscriber = { orgId, deliver };
    this.subscribers.add(subscriber);
    return () => this.subscribers.delete(subscriber);
  }

  private async onEvents(payload: string): Promise<void> {
    const byOrg = new Map<string, { at: Date[]; ids: string[] }>();
    for (const key of payload.split(',')) {
      const [org, ms, id] = key.split('|');
      if (!org || !ms || !id) continue;
      if (![...this.subscribers].some((s) => s.orgId === org)) continue;
      const keys = byOrg.get(org) ?? { at: [], ids: [] };
      keys.at.push(new Date(Number(ms)));
      keys.ids.push(id);
      byOrg.set(org, keys);
    }
    for (const [org, keys] of byOrg) {
      try {
        const { rows } = await this.pool.query<AiEvent>({
          text: `SELECT ${COLUMNS} FROM ai_events
                 WHERE org_id = $1 AND (created_at, id) IN (SELECT * FROM unnest($2::timestamptz[], $3::uuid[]))
                 ORDER BY received_at, id`,
          values: [org, keys.at, keys.ids],
          types: EVENT_ROW_TYPES,
        });
        for (const event of rows)
          this.dispatch(org, { kind: 'telemetry', event, data: JSON.stringify(event) });
      } catch (err) {
        this.logger?.warn({ err: (err as Error).message }, 'live stream could not read notified events');
      }
    }
  }

  private onAlert(payload: string): void {
    try {
      const notice = JSON.parse(payload) as AlertNotice;
      this.dispatch(notice.orgId, { kind: 'alert', notice, data: payload });
    } catch {
      // Not ours: another tool on the same channel.
    }
  }

  private dispatch(orgId: string, message: StreamMessage): void {
    for (const s of this.subscribers) if (s.orgId === orgId) s.deliver(message);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    await this.client?.end().catch(() => undefined);
  }
}
