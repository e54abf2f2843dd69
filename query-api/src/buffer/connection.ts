import {
  AckPolicy,
  DiscardPolicy,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import { connect, type NatsConnection, nanos } from '@nats-io/transport-node';
import { ConfigError } from '../config.ts';

export const BUFFER_STREAM = 'OBSERVATORY_INGEST';

/** The two kinds of buffered batch: a subject, and the durable consumer every writer shares, for each. */
export const BUFFER_SUBJECTS = {
  rows: { subject: 'observatory.ingest.rows', consumer: 'observatory-writer-rows' },
  logs: { subject: 'observatory.ingest.logs', consumer: 'observatory-writer-logs' },
} as const;
export type BufferKind = keyof typeof BUFFER_SUBJECTS;

export interface BufferSettings {
  servers: string[];
  replicas: number;
  maxBytes: number;
  ackWaitMs: number;
}

export interface IngestBuffer {
  nc: NatsConnection;
  js: JetStreamClient;
  /** The largest message the servers take: batches are split to fit. */
  maxPayload: number;
  close(): Promise<void>;
}

// JetStream answers "temporarily unavailable" while a cluster elects its meta leader (just after start-up).
const SETUP_ATTEMPTS = 30;
const SETUP_RETRY_MS = 500;

/**
 * Connects to the NATS servers (reconnecting for ever after the first connection) and makes sure the stream exists:
 * file storage, `replicas` copies, a work queue (a batch leaves the stream once a writer has acknowledged it), and
 * `maxBytes` past which new batches are refused rather than old ones dropped. Receivers own the stream's settings
 * (they apply theirs on start); writers create it only when missing, and own the consumers (their ack wait).
 */
export async function openIngestBuffer(
  settings: BufferSettings,
  role: 'receiver' | 'writer',
): Promise<IngestBuffer> {
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: settings.servers,
      name: 'observatory',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
    });
  } catch (err) {
    throw new ConfigError(
      `OBSERVATORY_INGEST_BUFFER: cannot connect to ${settings.servers.join(', ')}: ${(err as Error).message}`,
    );
  }
  try {
    const jsm = await jetstreamManager(nc);
    await retryWhileStarting(() => ensureStream(jsm, settings, role === 'receiver'));
    if (role === 'writer') await retryWhileStarting(() => ensureConsumers(jsm, settings));
  } catch (err) {
    await nc.close();
    throw err;
  }
  return {
    nc,
    js: jetstream(nc),
    maxPayload: nc.info?.max_payload ?? 1024 * 1024,
    close: () => nc.drain(),
  };
}

async function ensureStream(jsm: JetStreamManager, settings: BufferSettings, apply: boolean): Promise<void> {
  const config = {
    subjects: Object.values(BUFFER_SUBJECTS).map((s) => s.subject),
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    discard: DiscardPolicy.New,
    num_replicas: settings.replicas,
    max_bytes: settings.maxBytes,
    duplicate_window: nanos(120_000),
  };
  try {
    await jsm.streams.info(BUFFER_STREAM);
  } catch (err) {
    if (!(err instanceof JetStreamApiError) || err.code !== 10059) throw asSetupError(err);
    try {
      await jsm.streams.add({ name: BUFFER_STREAM, ...config });
    } catch (addErr) {
      throw asSetupError(addErr);
    }
    return;
  }
  // A receiver applies the settings it was given, so a changed limit or replica count takes effect on restart.
  if (apply)
    await jsm.streams.update(BUFFER_STREAM, config).catch((err) => {
      throw asSetupError(err);
    });
}

async function ensureConsumers(jsm: JetStreamManager, settings: BufferSettings): Promise<void> {
  for (const { subject, consumer } of Object.values(BUFFER_SUBJECTS)) {
    const config = {
      durable_name: consumer,
      filter_subject: subject,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(settings.ackWaitMs),
      // A batch PostgreSQL cannot take yet is retried for as long as it takes, never given up.
      max_deliver: -1,
      max_ack_pending: 1000,
    };
    try {
      await jsm.consumers.info(BUFFER_STREAM, consumer);
      await jsm.consumers.update(BUFFER_STREAM, consumer, {
        ack_wait: config.ack_wait,
        max_ack_pending: config.max_ack_pending,
      });
    } catch (err) {
      if (!(err instanceof JetStreamApiError) || err.code !== 10014) throw err;
      await jsm.consumers.add(BUFFER_STREAM, config);
    }
  }
}

function asSetupError(err: unknown): Error {
  const message = (err as Error).message;
  if (/replicas|insufficient resources|no suitable peers/i.test(message)) {
    return new ConfigError(
      `OBSERVATORY_INGEST_BUFFER: JetStream cannot keep the stream ${BUFFER_STREAM}: ${message} (OBSERVATORY_INGEST_BUFFER_REPLICAS must not exceed the cluster's servers; 1 for a single server)`,
    );
  }
  return err as Error;
}

async function retryWhileStarting<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const starting = /temporarily unavailable|timeout|no responders/i.test((err as Error).message);
      if (!starting || attempt >= SETUP_ATTEMPTS) throw err;
      await new Promise((r) => setTimeout(r, SETUP_RETRY_MS));
    }
  }
}
