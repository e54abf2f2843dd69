import type { Consumer, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { dateReviver, type RowWriter } from '@observatory/exporter-postgres';
import { BUFFER_STREAM, BUFFER_SUBJECTS, type BufferKind } from './connection.ts';

const MESSAGES_PER_FETCH = 64;
const FETCH_EXPIRES_MS = 1_000;
const RETRY_BASE_MS = 200;
const RETRY_MAX_MS = 5_000;

export interface BufferWriterOptions<T> {
  js: JetStreamClient;
  kind: BufferKind;
  writer: RowWriter<T>;
  /** Fields revived as Dates for `onCommitted` (the writer takes ISO strings as they are). */
  dateFields: readonly string[];
  /** Rows per write: messages are grouped up to this many rows, and acknowledged together after their commit. */
  batchSize: number;
  /** The consumer's ack wait: a batch in hand is marked as in progress well within it. */
  ackWaitMs: number;
  /** Fetch loops on the shared consumer in this process. */
  concurrency: number;
  /** After commit, before the acknowledgement: a writer lost in between leaves the batch to be delivered again. */
  onCommitted: (rows: T[]) => Promise<void>;
  onError: (err: Error) => void;
}

export interface RunningBufferWriter {
  stop(): Promise<void>;
}

interface Delivery<T> {
  msg: JsMsg;
  rows: T[];
}

/**
 * Consumes one subject of the ingest buffer: fetches batches of messages, writes their rows to PostgreSQL through the
 * idempotent row writer, and acknowledges them only after commit. A write PostgreSQL cannot take now is retried for
 * as long as it takes (JetStream keeps everything meanwhile and receivers keep answering 200); on stop, what is not
 * committed is handed back at once (nak) for another writer.
 */
export function startBufferWriter<T>(options: BufferWriterOptions<T>): RunningBufferWriter {
  const revive = dateReviver(options.dateFields);
  let stopping = false;
  const wake = new Set<() => void>();
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        wake.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      wake.add(done);
    });

  async function writeUntilCommitted(rows: T[]): Promise<'committed' | 'failed' | 'stopped'> {
    for (let attempt = 0; ; attempt++) {
      const result = await options.writer.write(rows);
      if (result.kind === 'success') return 'committed';
      options.onError(result.error);
      if (result.kind === 'failure') return 'failed';
      if (stopping) return 'stopped';
      await pause(Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** attempt) * (0.5 + Math.random()));
      if (stopping) return 'stopped';
    }
  }

  async function handle(group: Delivery<T>[]): Promise<boolean> {
    const rows = group.flatMap((d) => d.rows);
    const outcome = await writeUntilCommitted(rows);
    if (outcome === 'stopped') return false;
    if (outcome === 'failed') {
      // Rows the writer can never store (it reports them); redelivering them would only fail again.
      for (const d of group) d.msg.term('not storable');
      return true;
    }
    await options.onCommitted(rows).catch((err) => options.onError(err as Error));
    await Promise.all(group.map((d) => d.msg.ackAck().catch((err) => options.onError(err as Error))));
    return true;
  }

  function parse(msg: JsMsg): Delivery<T> | undefined {
    try {
      const rows = JSON.parse(msg.string(), revive) as unknown;
      if (Array.isArray(rows)) return { msg, rows: rows as T[] };
    } catch {
      // Falls through: not a batch this writer understands.
    }
    options.onError(new Error(`ingest buffer: message ${msg.seq} is not a JSON array of rows; dropped`));
    msg.term('not a batch of rows');
    return undefined;
  }

  async function handleFetched(messages: JsMsg[]): Promise<void> {
    // Everything fetched stays marked as in progress until it is acknowledged or handed back.
    const heartbeat = setInterval(
      () => {
        for (const m of messages) m.working();
      },
      Math.max(500, options.ackWaitMs / 3),
    );
    try {
      const deliveries = messages.map(parse).filter((d): d is Delivery<T> => d !== undefined);
      let group: Delivery<T>[] = [];
      let size = 0;
      for (const [i, d] of deliveries.entries()) {
        if (group.length > 0 && size + d.rows.length > options.batchSize) {
          if (!(await handle(group))) return handBack(deliveries.slice(i - group.length));
          group = [];
          size = 0;
        }
        group.push(d);
        size += d.rows.length;
      }
      if (group.length > 0 && !(await handle(group))) handBack(group);
    } finally {
      clearInterval(heartbeat);
    }
  }

  function handBack(deliveries: Delivery<T>[]): void {
    for (const d of deliveries) d.msg.nak();
  }

  async function loop(): Promise<void> {
    let consumer: Consumer | undefined;
    while (!stopping) {
      const messages: JsMsg[] = [];
      try {
        consumer ??= await options.js.consumers.get(BUFFER_STREAM, BUFFER_SUBJECTS[options.kind].consumer);
        const fetched = await consumer.fetch({ max_messages: MESSAGES_PER_FETCH, expires: FETCH_EXPIRES_MS });
        for await (const m of fetched) messages.push(m);
      } catch (err) {
        // NATS unreachable or the consumer's leader moving: what was fetched is still handled, then try again.
        options.onError(err as Error);
        if (messages.length === 0) await pause(RETRY_BASE_MS * 5);
      }
      if (messages.length > 0) await handleFetched(messages);
    }
  }

  const loops = Array.from({ length: options.concurrency }, () =>
    loop().catch((err) => options.onError(err as Error)),
  );
  return {
    async stop() {
      stopping = true;
      for (const w of wake) w();
      await Promise.all(loops);
    },
  };
}
