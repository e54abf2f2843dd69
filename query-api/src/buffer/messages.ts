import { forEachInSlices } from '@observatory/exporter-postgres';

const encoder = new TextEncoder();

/**
 * Rows as JSON arrays of at most `maxBytes` each (one JetStream message apiece), encoded in slices so a large batch
 * does not hold up the event loop. A row larger than `maxBytes` on its own cannot be buffered, and throws.
 */
export async function encodeInChunks<T>(rows: readonly T[], maxBytes: number): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  let parts: string[] = [];
  let size = 2;
  const close = () => {
    if (parts.length > 0) chunks.push(encoder.encode(`[${parts.join(',')}]`));
    parts = [];
    size = 2;
  };
  await forEachInSlices(rows, (row) => {
    const json = JSON.stringify(row);
    const bytes = Buffer.byteLength(json) + 1;
    if (bytes + 2 > maxBytes) {
      throw new RangeError(`One row is larger than the buffer's largest message (${maxBytes} bytes)`);
    }
    if (parts.length > 0 && size + bytes > maxBytes) close();
    parts.push(json);
    size += bytes;
  });
  close();
  return chunks;
}
