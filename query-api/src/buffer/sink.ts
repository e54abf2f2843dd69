import { randomUUID } from 'node:crypto';
import type { JetStreamClient } from '@nats-io/jetstream';
import {
  BatchTooLargeError,
  type Durability,
  QueueFullError,
  type RowSink,
  ShutdownError,
} from '@observatory/exporter-postgres';
import { encodeInChunks } from './messages.ts';

/** The buffer could not take a batch now (servers unreachable, no quorum, a timeout): the receiver answers 503. */
export class BufferUnavailableError extends Error {
  override name = 'BufferUnavailableError';
}

// What JetStream says when a stream with DiscardPolicy.New is at one of its limits.
const STREAM_FULL =
  /maximum (bytes|messages|messages per subject) exceeded|resource limits exceeded|insufficient storage/i;

// Room left in a message for its headers (the message id) and subject.
const HEADER_ROOM = 4096;

export interface JetStreamSinkOptions {
  js: JetStreamClient;
  subject: string;
  maxPayload: number;
  /** Rows being published at once, across requests; past it enqueue answers QueueFullError (429). */
  capacity: number;
  /** How long to wait for JetStream's acknowledgement of one message. */
  timeoutMs?: number;
}

/**
 * A RowSink that publishes rows to the JetStream ingest buffer: a batch is durable (`buffered`) once JetStream
 * acknowledged every message it was split into, so with R=3 it survives the loss of any one server. Each message
 * carries a fresh id, so the client's own retry of a publish is stored once; a batch republished after a 503 is
 * stored again, and the writers' ON CONFLICT turns the copy into a no-op.
 */
export class JetStreamSink<T> implements RowSink<T> {
  private inFlight = 0;
  private closed = false;
  private readonly publishing = new Set<Promise<unknown>>();

  constructor(private readonly options: JetStreamSinkOptions) {}

  get capacity(): number {
    return this.options.capacity;
  }

  get depth(): number {
    return this.inFlight;
  }

  async start(): Promise<void> {}

  async enqueue(rows: T[]): Promise<Durability> {
    if (this.closed) throw new ShutdownError('The ingest buffer is shut down');
    if (rows.length === 0) return 'buffered';
    if (rows.length > this.capacity) {
      throw new BatchTooLargeError(`A batch of ${rows.length} rows is larger than ${this.capacity}`);
    }
    if (this.inFlight + rows.length > this.capacity) {
      throw new QueueFullError(`The ingest buffer's publish queue is full (${this.inFlight} rows in flight)`);
    }
    this.inFlight += rows.length;
    const done = this.publishAll(rows);
    this.publishing.add(done);
    try {
      await done;
    } finally {
      this.publishing.delete(done);
      this.inFlight -= rows.length;
    }
    return 'buffered';
  }

  private async publishAll(rows: T[]): Promise<void> {
    const messages = await encodeInChunks(rows, this.options.maxPayload - HEADER_ROOM);
    await Promise.all(messages.map((data) => this.publish(data)));
  }

  private async publish(data: Uint8Array): Promise<void> {
    try {
      await this.options.js.publish(this.options.subject, data, {
        msgID: randomUUID(),
        timeout: this.options.timeoutMs ?? 5_000,
      });
    } catch (err) {
      const message = (err as Error).message;
      if (STREAM_FULL.test(message)) {
        throw new QueueFullError(`The ingest buffer is full (${message}); writers are behind`);
      }
      throw new BufferUnavailableError(`The ingest buffer did not take the batch: ${message}`, {
        cause: err,
      });
    }
  }

  async flush(): Promise<void> {
    await Promise.allSettled([...this.publishing]);
  }

  async shutdown(): Promise<void> {
    this.closed = true;
    await this.flush();
  }
}
