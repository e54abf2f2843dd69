import { serialize } from 'node:v8';
import { parentPort } from 'node:worker_threads';
import { decodeOtlpLogsBody } from './decode-logs.ts';
import type { DecodeReply, DecodeRequest } from './decode-off-thread.ts';
import { decodeOtlpBody, jsonItems } from './decode-task.ts';
import { TooManySpansError } from './decoded.ts';

/** Items per serialized slice: the parent deserializes one slice per turn of its event loop. */
const SLICE_ITEMS = 1000;

function ownBuffer(bytes: Buffer): ArrayBuffer {
  const { buffer, byteOffset, byteLength } = bytes;
  return byteOffset === 0 && byteLength === buffer.byteLength
    ? (buffer as ArrayBuffer)
    : (buffer.slice(byteOffset, byteOffset + byteLength) as ArrayBuffer);
}

// Serialized here, deserialized by the parent slice by slice: one structured clone of the whole result would be
// deserialized in one go, holding up the parent's event loop for as long as decoding would have.
function slices(items: unknown[]): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (let i = 0; i < items.length; i += SLICE_ITEMS) {
    out.push(ownBuffer(serialize(items.slice(i, i + SLICE_ITEMS))));
  }
  return out;
}

function run({ id, task, body }: DecodeRequest): DecodeReply {
  try {
    if (task.kind === 'otlp') {
      const { spans, rejected, errors } = decodeOtlpBody(body, task.format, task.maxSpans, task.attributes);
      return { id, slices: slices(spans), rejected, errors, array: false };
    }
    if (task.kind === 'logs') {
      const { records, rejected, errors } = decodeOtlpLogsBody(body, task.format, task.maxRecords);
      return { id, slices: slices(records), rejected, errors, array: false };
    }
    const { items, array } = jsonItems(body);
    return { id, slices: slices(items), rejected: 0, errors: [], array };
  } catch (err) {
    const { name, message } = err as Error;
    return {
      id,
      error:
        err instanceof TooManySpansError
          ? { name, message, count: err.count, max: err.max, unit: err.unit }
          : { name, message },
    };
  }
}

parentPort?.on('message', (request: DecodeRequest) => {
  const reply = run(request);
  parentPort?.postMessage(reply, 'slices' in reply ? reply.slices : []);
});
