import { createGunzip } from 'node:zlib';
import type { Context, MiddlewareHandler } from 'hono';
import { BodyBudget, type BodyHold } from './body-budget.ts';
import { ProblemError } from './problem.ts';

/** OTLP's recommended limit, applied after decompression. */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

// Larger output chunks than zlib's 16 KiB keep the event loop's share of inflating small (64 MiB is 256 callbacks,
// not 4096), which matters when many bodies (or bombs) inflate at once; much larger ones only add garbage.
const INFLATE_CHUNK_BYTES = 256 * 1024;

const tooLarge = (limit: number) =>
  new ProblemError(
    413,
    `Body is larger than ${limit} bytes after decompression`,
    { errors: [{ field: 'body', message: `larger than ${limit} bytes` }] },
    { connection: 'close' },
  );

function declaredLength(c: Context): number | undefined {
  const value = c.req.header('content-length');
  return value && /^\d+$/.test(value) ? Number(value) : undefined;
}

/**
 * The bytes as they arrive, each reserved from `hold` before it is kept, so a client that declares a large body
 * but sends it slowly holds only what it has sent.
 */
async function receive(
  stream: ReadableStream<Uint8Array>,
  hold: BodyHold,
  limit: number,
  declared: number | undefined,
): Promise<Buffer> {
  if (declared !== undefined && declared > limit) throw tooLarge(limit);
  // With a declared length the body goes straight into one buffer of that size (its pages are only committed as
  // they are written); otherwise chunks are kept and joined at the end (unless there is only one), which holds
  // them twice for a moment.
  const whole = declared !== undefined ? Buffer.allocUnsafeSlow(declared) : undefined;
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (size + value.byteLength > (declared ?? limit)) {
        if (declared !== undefined) throw new ProblemError(400, 'Body is longer than its Content-Length');
        throw tooLarge(limit);
      }
      hold.reserve(value.byteLength);
      if (whole) whole.set(value, size);
      else chunks.push(value);
      size += value.byteLength;
    }
  } catch (err) {
    if (err instanceof ProblemError) throw err;
    throw new ProblemError(400, `Body could not be read: ${(err as Error).message}`);
  } finally {
    reader.releaseLock();
  }
  if (whole) {
    if (size !== declared) throw new ProblemError(400, 'Body is shorter than its Content-Length');
    return whole;
  }
  const [only] = chunks;
  if (chunks.length === 1 && only) return Buffer.from(only.buffer, only.byteOffset, only.byteLength);
  hold.reserve(size);
  const joined = Buffer.concat(chunks, size);
  hold.release(size);
  return joined;
}

/**
 * How many bytes `compressed` inflates to, counted without keeping them. Past `limit`, the gunzip stream is
 * destroyed at once (leaving the loop destroys it), so a gzip bomb costs its compressed size and a moment of CPU.
 */
async function inflatedSize(compressed: Buffer, limit: number): Promise<number> {
  let size = 0;
  for await (const chunk of createGunzip({ chunkSize: INFLATE_CHUNK_BYTES }).end(compressed)) {
    size += (chunk as Buffer).byteLength;
    if (size > limit) throw tooLarge(limit);
  }
  return size;
}

async function inflateInto(compressed: Buffer, size: number): Promise<Buffer> {
  const whole = Buffer.allocUnsafeSlow(size);
  let offset = 0;
  for await (const chunk of createGunzip({ chunkSize: INFLATE_CHUNK_BYTES }).end(compressed)) {
    offset += (chunk as Buffer).copy(whole, offset);
  }
  return whole;
}

/**
 * Reads the request body, gunzipping it when `Content-Encoding: gzip`, holding no byte that `hold` has not
 * reserved. A body over `limit` bytes (after decompression) is a 413. A gzip body is inflated twice: once only to
 * count (a bomb is refused without ever being held), then into one buffer of exactly that size, reserved first.
 * The caller releases `hold` once it no longer needs the body.
 */
export async function readBody(c: Context, hold: BodyHold, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const encoding = (c.req.header('content-encoding') ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity' && encoding !== 'gzip') {
    throw new ProblemError(415, `Content-Encoding "${encoding}" is not supported; use gzip or none`);
  }
  const stream = c.req.raw.body;
  if (!stream) return Buffer.alloc(0);
  const received = await receive(stream, hold, limit, declaredLength(c));
  if (encoding === 'identity') return received;
  try {
    const size = await inflatedSize(received, limit);
    hold.reserve(size);
    const inflated = await inflateInto(received, size);
    hold.release(received.byteLength);
    return inflated;
  } catch (err) {
    if (err instanceof ProblemError) throw err;
    throw new ProblemError(400, `Body could not be read: ${(err as Error).message}`);
  }
}

/** JSON bodies of the management routes are small: filters, rules, keys, Alertmanager's payload. */
export const MAX_JSON_BYTES = 1024 * 1024;

// Their own budget, apart from ingest's: management calls are few, and never wait behind a burst of spans.
const jsonBudget = new BodyBudget(64 * MAX_JSON_BYTES);

/**
 * Reads a JSON body through `readBody` (so the same limits and gzip handling apply) and leaves its text where
 * Hono's validator reads it, so the route's zod schema validates it through the default hook. An empty body is
 * `{}`: every JSON route's fields are then named by the schema. Not JSON → 400 naming `body`.
 */
export function jsonBody(limit = MAX_JSON_BYTES): MiddlewareHandler {
  return async function jsonBodyMiddleware(c, next) {
    if (JSON_TYPE.test(c.req.header('content-type') ?? '')) {
      const hold = jsonBudget.hold();
      let text: string;
      try {
        text = (await readBody(c, hold, limit)).toString('utf8');
      } finally {
        hold.release();
      }
      const json = text.trim() === '' ? '{}' : text;
      try {
        JSON.parse(json);
      } catch (err) {
        throw new ProblemError(400, `Invalid body: not JSON (${(err as Error).message})`, {
          errors: [{ field: 'body', message: 'not JSON' }],
        });
      }
      // Hono keeps the promise of each body reading here; the validator's `c.req.json()` reads this one.
      (c.req.bodyCache as { text?: Promise<string> }).text = Promise.resolve(json);
    }
    await next();
  };
}

const JSON_TYPE = /^application\/([\w.-]+\+)?json\s*(;|$)/i;
