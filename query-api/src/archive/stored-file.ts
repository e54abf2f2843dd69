import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ExportStorage } from '../exports/storage.ts';

export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/**
 * Copies a stored file to `target` and returns the SHA-256 of the bytes storage handed back, so what is checked is
 * what is stored, not what was sent. Undefined when the file is gone.
 */
export async function fetchStored(
  storage: ExportStorage,
  key: string,
  target: string,
): Promise<string | undefined> {
  const source = await storage.open(key);
  if (!source) return undefined;
  const hash = createHash('sha256');
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  await pipeline(source, tap, createWriteStream(target, { mode: 0o600 }));
  return hash.digest('hex');
}
