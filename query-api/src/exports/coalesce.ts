import { Transform } from 'node:stream';

/**
 * Joins the encoder's small per-row chunks into blocks of about `size` bytes: gzip and file writes cost
 * per call, and one call per row made them most of the export's time.
 */
export function coalesce(size = 64 * 1024): Transform {
  let pending: Buffer[] = [];
  let length = 0;
  return new Transform({
    transform(chunk: Buffer | string, encoding, callback) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk;
      pending.push(bytes);
      length += bytes.length;
      if (length < size) return callback();
      const block = Buffer.concat(pending, length);
      pending = [];
      length = 0;
      callback(null, block);
    },
    flush(callback) {
      callback(null, length ? Buffer.concat(pending, length) : undefined);
    },
  });
}
