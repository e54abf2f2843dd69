import { setImmediate as nextTurn } from 'node:timers/promises';
import { deserialize } from 'node:v8';
import { Worker } from 'node:worker_threads';
import type { DecodedLogs, LogInput } from '../logs/log-input.ts';
import type { SpanInput } from '../span.ts';
import { decodeOtlpLogsBody } from './decode-logs.ts';
import {
  type DecodeTask,
  decodeOtlpBody,
  type JsonItems,
  jsonItems,
  type SpanAttributes,
} from './decode-task.ts';
import { type DecodedSpans, OtlpDecodeError, TooManySpansError } from './decoded.ts';
import { JsonBodyError } from './json-body.ts';

// Compiled, the worker is plain JavaScript beside this file; from the TypeScript sources (tests, `npm start`) a worker
// does not inherit the parent's loader, so an entry that registers tsx loads it, and resolves the workspace
// packages to their sources as the parent does.
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_ENTRY = FROM_SOURCE ? './decode-worker.mjs' : './decode-worker.js';

/**
 * Bodies up to this size are decoded on the calling thread: a few milliseconds, less than a round trip to the
 * decoding thread costs. Larger ones would hold the event loop up for longer than a slice (JSON.parse cannot
 * be sliced), so they go to the thread.
 */
export const INLINE_MAX_BYTES = 256 * 1024;

export interface DecodeRequest {
  id: number;
  task: DecodeTask;
  body: Uint8Array;
}

export type DecodeReply =
  | { id: number; slices: ArrayBuffer[]; rejected: number; errors: string[]; array: boolean }
  | {
      id: number;
      error: {
        name: string;
        message: string;
        count?: number;
        max?: number;
        unit?: TooManySpansError['unit'];
      };
    };

/** The decoding thread stopped (it crashed or ran out of memory) while a body was being decoded: retry later. */
export class DecoderUnavailableError extends Error {
  override name = 'DecoderUnavailableError';
}

function rebuildError({
  name,
  message,
  count,
  max,
  unit,
}: Extract<DecodeReply, { error: unknown }>['error']): Error {
  if (name === 'TooManySpansError') return new TooManySpansError(count ?? 0, max ?? 0, unit);
  if (name === 'OtlpDecodeError') return new OtlpDecodeError(message);
  if (name === 'JsonBodyError') return new JsonBodyError(message);
  if (name === 'DecoderUnavailableError') return new DecoderUnavailableError(message);
  return new Error(message);
}

/** A body the caller hands over: its memory moves to the decoding thread instead of being copied. */
function transferable(body: Uint8Array): Uint8Array {
  return body.byteOffset === 0 && body.byteLength === body.buffer.byteLength ? body : new Uint8Array(body);
}

/**
 * Decodes request bodies without holding up the event loop: small ones inline, large ones on one long-lived
 * worker thread, whose result comes back serialized in slices and is deserialized one slice per turn of the
 * event loop. The thread is started on first use, does not keep the process alive while idle, and is started
 * anew after it dies.
 */
export class BodyDecoder {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, (reply: DecodeReply) => void>();
  private nextId = 1;

  constructor(private readonly inlineMaxBytes = INLINE_MAX_BYTES) {}

  /**
   * An OTLP trace request; more than `maxSpans` spans (valid or not) is a TooManySpansError. A body larger than the
   * inline limit is handed over to the decoding thread and must not be used by the caller afterwards. `attributes`:
   * see SpanAttributes.
   */
  async otlp(
    body: Uint8Array,
    format: 'protobuf' | 'json',
    maxSpans?: number,
    attributes: SpanAttributes = 'all',
  ): Promise<DecodedSpans> {
    if (body.byteLength <= this.inlineMaxBytes) return decodeOtlpBody(body, format, maxSpans, attributes);
    const reply = await this.offThread(body, { kind: 'otlp', format, maxSpans, attributes });
    return { spans: await collect<SpanInput>(reply.slices), rejected: reply.rejected, errors: reply.errors };
  }

  /** An OTLP logs request, by the same rules as `otlp` (more than `maxRecords` records: TooManySpansError). */
  async otlpLogs(body: Uint8Array, format: 'protobuf' | 'json', maxRecords?: number): Promise<DecodedLogs> {
    if (body.byteLength <= this.inlineMaxBytes) return decodeOtlpLogsBody(body, format, maxRecords);
    const reply = await this.offThread(body, { kind: 'logs', format, maxRecords });
    return { records: await collect<LogInput>(reply.slices), rejected: reply.rejected, errors: reply.errors };
  }

  /** A JSON body with bounded nesting, as a list of items; same hand-over rule as `otlp`. */
  async json(body: Uint8Array): Promise<JsonItems> {
    if (body.byteLength <= this.inlineMaxBytes) return jsonItems(body);
    const reply = await this.offThread(body, { kind: 'json' });
    return { items: await collect<unknown>(reply.slices), array: reply.array };
  }

  private offThread(
    body: Uint8Array,
    task: DecodeTask,
  ): Promise<Extract<DecodeReply, { slices: ArrayBuffer[] }>> {
    const worker = this.startedWorker();
    const id = this.nextId++;
    const owned = transferable(body);
    return new Promise((resolve, reject) => {
      this.pending.set(id, (reply) => {
        if ('error' in reply) reject(rebuildError(reply.error));
        else resolve(reply);
      });
      worker.ref();
      worker.postMessage({ id, task, body: owned } satisfies DecodeRequest, [owned.buffer as ArrayBuffer]);
    });
  }

  private startedWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL(WORKER_ENTRY, import.meta.url), {
      execArgv: FROM_SOURCE ? ['--conditions=@observatory/source'] : [],
    });
    worker.on('message', (reply: DecodeReply) => {
      const settle = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (this.pending.size === 0) worker.unref();
      settle?.(reply);
    });
    worker.on('error', (err) => this.stopped(worker, err.message));
    worker.on('exit', (code) => this.stopped(worker, `exit code ${code}`));
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private stopped(worker: Worker, why: string): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    const waiting = [...this.pending.values()];
    this.pending.clear();
    const error = { name: 'DecoderUnavailableError', message: `The decoding thread stopped (${why})` };
    for (const settle of waiting) settle({ id: 0, error });
  }
}

async function collect<T>(slices: ArrayBuffer[]): Promise<T[]> {
  const items: T[] = [];
  for (const slice of slices) {
    for (const item of deserialize(Buffer.from(slice)) as T[]) items.push(item);
    await nextTurn();
  }
  return items;
}
