import type { AiEvent } from '../event.ts';
import { SpillFile } from './spill.ts';
import type { RowWriter } from './writer.ts';

export class QueueFullError extends Error {
  override name = 'QueueFullError';
}
/** A batch larger than the whole queue: it could never be taken, so retrying it is pointless. */
export class BatchTooLargeError extends Error {
  override name = 'BatchTooLargeError';
}
export class ShutdownError extends Error {
  override name = 'ShutdownError';
}

/** Counters the pipeline reports; the metrics module implements them. */
export interface PipelineHealth {
  written(count: number): void;
  spilled(count: number): void;
  dropped(count: number): void;
  exportError(): void;
}

/** The tuning a pipeline gets when its options leave it out; the service's settings default to these too. */
export const PIPELINE_DEFAULTS = {
  maxQueue: 100_000,
  batchSize: 5_000,
  flushIntervalMs: 20,
  maxAttempts: 3,
  concurrency: 2,
} as const;

export interface PipelineOptions<T = AiEvent> {
  writer: RowWriter<T>;
  spillDir: string;
  /** Fields of a row that are Dates, revived as such when the spill file is replayed (default: AiEvent's). */
  spillDateFields?: readonly string[];
  /** Events held in memory at most; past it `enqueue` fails fast with QueueFullError. */
  maxQueue?: number;
  batchSize?: number;
  flushIntervalMs?: number;
  /** Batches written at once, each on its own connection. */
  concurrency?: number;
  /** Attempts at PostgreSQL before a batch goes to the spill file. */
  maxAttempts?: number;
  retryBaseMs?: number;
  replayIntervalMs?: number;
  onCommitted?: (events: T[]) => void;
  onError?: (err: Error) => void;
  health?: PipelineHealth;
}

interface Pending<T> {
  events: T[];
  resolve: (outcome: Durability) => void;
  reject: (err: Error) => void;
}

/** Committed to PostgreSQL, fsync'd to the spill file, or acknowledged by the durable ingest buffer (JetStream). */
export type Durability = 'committed' | 'spilled' | 'buffered';

/**
 * Where accepted rows go: this process's pipeline (PostgreSQL, else its spill file) or a durable buffer in front of
 * PostgreSQL. `enqueue` resolves once the rows are durable, which is when a receiver may answer 200; it rejects
 * with QueueFullError when the sink is full (429) and anything else when it cannot take them now (503).
 */
export interface RowSink<T> {
  readonly capacity: number;
  readonly depth: number;
  enqueue(rows: T[]): Promise<Durability>;
  start(): Promise<void>;
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Bounded queue → batches → writer, with retry and a spill file wrapped around the writer. `enqueue` resolves when
 * its events are durable (committed, or fsync'd to the spill file), which is when an OTLP receiver may answer 200.
 * Nothing here throws into a caller's code path except the explicit QueueFullError/ShutdownError rejections.
 */
export class EventPipeline<T = AiEvent> implements RowSink<T> {
  private readonly queue: Pending<T>[] = [];
  private queued = 0;
  private readonly draining = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private replayTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private spillPending = false;
  private readonly spill: SpillFile<T>;
  private readonly maxQueue: number;
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly maxAttempts: number;
  private readonly concurrency: number;
  private readonly retryBaseMs: number;
  private readonly replayIntervalMs: number;

  constructor(private readonly options: PipelineOptions<T>) {
    this.spill = new SpillFile<T>(options.spillDir, options.spillDateFields);
    this.maxQueue = options.maxQueue ?? PIPELINE_DEFAULTS.maxQueue;
    this.batchSize = options.batchSize ?? PIPELINE_DEFAULTS.batchSize;
    this.flushIntervalMs = options.flushIntervalMs ?? PIPELINE_DEFAULTS.flushIntervalMs;
    this.maxAttempts = options.maxAttempts ?? PIPELINE_DEFAULTS.maxAttempts;
    this.concurrency = options.concurrency ?? PIPELINE_DEFAULTS.concurrency;
    this.retryBaseMs = options.retryBaseMs ?? 100;
    this.replayIntervalMs = options.replayIntervalMs ?? 2_000;
  }

  /** Events waiting in memory. */
  get depth(): number {
    return this.queued;
  }

  /** The most events the queue holds, so the most one `enqueue` can ever take. */
  get capacity(): number {
    return this.maxQueue;
  }

  /** Replays what an earlier process left in the spill directory, then keeps replaying while anything is spilled. */
  async start(): Promise<void> {
    this.spillPending = (await this.spill.pendingBytes()) > 0;
    await this.replay();
    this.replayTimer = setInterval(() => {
      if (this.spillPending) void this.replay();
    }, this.replayIntervalMs).unref();
  }

  /**
   * Resolves once every event is durable: 'spilled' when any of them went to the spill file. A batch larger than
   * `capacity` is refused with BatchTooLargeError, one that does not fit now with QueueFullError; a large batch is
   * queued as parts of `batchSize`, so no write (nor the work of building it) grows with the batch.
   */
  async enqueue(events: T[]): Promise<Durability> {
    if (this.closed) throw new ShutdownError('The event pipeline is shut down');
    if (events.length === 0) return 'committed';
    if (events.length > this.maxQueue) {
      throw new BatchTooLargeError(
        `A batch of ${events.length} events is larger than the event queue (${this.maxQueue}); send smaller batches`,
      );
    }
    if (this.queued + events.length > this.maxQueue) {
      throw new QueueFullError(`The event queue is full (${this.queued} events waiting)`);
    }
    const parts: Promise<Durability>[] = [];
    for (let i = 0; i < events.length; i += this.batchSize) {
      parts.push(this.push(events.length <= this.batchSize ? events : events.slice(i, i + this.batchSize)));
    }
    const outcomes = await Promise.all(parts);
    return outcomes.includes('spilled') ? 'spilled' : 'committed';
  }

  private push(events: T[]): Promise<Durability> {
    return new Promise((resolve, reject) => {
      this.queue.push({ events, resolve, reject });
      this.queued += events.length;
      if (this.queued >= this.batchSize) this.kick();
      else this.timer ??= setTimeout(() => this.kick(), this.flushIntervalMs);
    });
  }

  /** Resolves once everything enqueued so far is durable. */
  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.draining.size > 0) {
      this.kick();
      await Promise.all(this.draining);
    }
  }

  async shutdown(): Promise<void> {
    this.closed = true;
    clearInterval(this.replayTimer);
    await this.flush();
  }

  private kick(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.draining.size < this.concurrency && this.queue.length > 0) {
      const drain: Promise<void> = this.drain().finally(() => {
        this.draining.delete(drain);
        if (this.queue.length > 0) this.kick();
      });
      this.draining.add(drain);
    }
  }

  /** Writes batches until the queue is empty; several run at once, each taking the next batch. */
  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch: Pending<T>[] = [];
      let size = 0;
      while (
        this.queue.length > 0 &&
        (batch.length === 0 || size + this.queue[0]!.events.length <= this.batchSize)
      ) {
        const item = this.queue.shift()!;
        batch.push(item);
        size += item.events.length;
      }
      this.queued -= size;
      const events = batch.flatMap((p) => p.events);
      try {
        const outcome = await this.store(events);
        for (const p of batch) p.resolve(outcome);
      } catch (err) {
        for (const p of batch) p.reject(err as Error);
      }
    }
  }

  /** PostgreSQL with retries, else the spill file; throws only when neither could take the events. */
  private async store(events: T[]): Promise<Durability> {
    // While older events wait in the spill file, try them first so replay keeps its order.
    if (this.spillPending) await this.replay();
    if (!this.spillPending && (await this.writeWithRetry(events, this.maxAttempts))) return 'committed';
    try {
      await this.spill.append(events);
    } catch (err) {
      this.options.health?.dropped(events.length);
      this.report(err as Error);
      throw err;
    }
    this.spillPending = true;
    this.options.health?.spilled(events.length);
    return 'spilled';
  }

  private async writeWithRetry(events: T[], attempts: number): Promise<boolean> {
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) await sleep(this.retryBaseMs * 2 ** (attempt - 1) * (0.5 + Math.random()));
      const result = await this.options.writer.write(events);
      if (result.kind === 'success') {
        this.options.health?.written(result.inserted);
        if (result.rejected > 0) this.options.health?.dropped(result.rejected);
        this.commit(events);
        return true;
      }
      this.options.health?.exportError();
      this.report(result.error);
      if (result.kind === 'failure') {
        this.options.health?.dropped(events.length);
        return true;
      }
    }
    return false;
  }

  private replaying: Promise<void> | undefined;

  private replay(): Promise<void> {
    this.replaying ??= this.spill
      .replay((events) => this.writeWithRetry(events, 1))
      .then(
        (done) => {
          this.spillPending = !done;
        },
        (err) => this.report(err as Error),
      )
      .finally(() => {
        this.replaying = undefined;
      });
    return this.replaying;
  }

  private commit(events: T[]): void {
    try {
      this.options.onCommitted?.(events);
    } catch (err) {
      this.report(err as Error);
    }
  }

  private report(err: Error): void {
    try {
      this.options.onError?.(err);
    } catch {
      // A faulty error callback must not break the pipeline.
    }
  }
}
