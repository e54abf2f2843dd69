import { describe, expect, it } from 'vitest';
import { encodeInChunks } from './messages.ts';

const decode = (chunk: Uint8Array) => JSON.parse(new TextDecoder().decode(chunk)) as unknown[];

describe('encodeInChunks', () => {
  it('splits rows into JSON arrays no larger than the limit, keeping every row once and in order', async () => {
    const rows = Array.from({ length: 500 }, (_, i) => ({
      id: i,
      text: 'é'.repeat(i % 50),
      at: new Date(i),
    }));
    const chunks = await encodeInChunks(rows, 2_000);
    expect(chunks.length).toBeGreaterThan(10);
    for (const chunk of chunks) expect(chunk.byteLength).toBeLessThanOrEqual(2_000);
    expect(chunks.flatMap(decode)).toEqual(JSON.parse(JSON.stringify(rows)));
  });

  it('keeps a batch that fits in one message', async () => {
    const chunks = await encodeInChunks([{ a: 1 }, { b: 2 }], 1_000);
    expect(chunks.map(decode)).toEqual([[{ a: 1 }, { b: 2 }]]);
  });

  it('refuses a row larger than a message', async () => {
    await expect(encodeInChunks([{ text: 'x'.repeat(3_000) }], 2_000)).rejects.toThrow(/larger than/);
  });
});
