import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { Context } from 'hono';
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
