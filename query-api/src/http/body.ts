import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { Context, MiddlewareHandler } from 'hono';
import { ProblemError } from './problem.ts';

/** OTLP's recommended limit, applied after decompression. */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

/**
 * Reads the request body, gunzipping it when `Content-Encoding: gzip`, and stops as soon as it passes
 * `limit` bytes (413) so a small compressed body cannot expand into unbounded memory.
 */
export async function readBody(c: Context, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const encoding = (c.req.header('content-encoding') ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity' && encoding !== 'gzip') {
    throw new ProblemError(415, `Content-Encoding "${encoding}" is not supported; use gzip or none`);
  }
  const raw = c.req.raw.body;
  if (!raw) return Buffer.alloc(0);
  let source: AsyncIterable<Uint8Array> = Readable.fromWeb(raw as import('node:stream/web').ReadableStream);
  if (encoding === 'gzip') source = (source as Readable).pipe(createGunzip());
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of source) {
      size += chunk.byteLength;
      if (size > limit) {
        throw new ProblemError(413, `Body is larger than ${limit} bytes after decompression`);
      }
      chunks.push(Buffer.from(chunk));
    }
  } catch (err) {
    if (err instanceof ProblemError) throw err;
    throw new ProblemError(400, `Body could not be read: ${(err as Error).message}`);
  }
  return Buffer.concat(chunks, size);
}

/** JSON bodies are small: filters, rules, keys, Alertmanager's payload. */
export const MAX_JSON_BYTES = 1024 * 1024;

/**
 * Reads a JSON body through `readBody` (so the same limit and gzip handling apply) and leaves its text where
 * Hono's validator reads it, so the route's zod schema validates it through the default hook. An empty body is
 * `{}`: every JSON route's fields are then named by the schema. Not JSON → 400 naming `body`.
 */
export function jsonBody(limit = MAX_JSON_BYTES): MiddlewareHandler {
  return async function jsonBodyMiddleware(c, next) {
    if (JSON_TYPE.test(c.req.header('content-type') ?? '')) {
      const text = (await readBody(c, limit)).toString('utf8');
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
