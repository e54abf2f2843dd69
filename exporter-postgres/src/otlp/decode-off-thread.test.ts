import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { bulkOtlpProtobuf } from '../../test/otlp-bulk.ts';
import { BodyDecoder, INLINE_MAX_BYTES } from './decode-off-thread.ts';
import { decodeOtlpBody } from './decode-task.ts';
import { TooManySpansError } from './decoded.ts';
import { JsonBodyError, MAX_JSON_DEPTH } from './json-body.ts';
import { ExportTraceServiceRequest } from './trace-proto.ts';

/** How `work` let the event loop run: the longest it went without a timer firing, and how often one fired. */
async function eventLoopDuring<T>(
  work: () => Promise<T>,
): Promise<{ result: T; stallMs: number; ticks: number }> {
  let last = performance.now();
  let stallMs = 0;
  let ticks = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    stallMs = Math.max(stallMs, now - last);
    last = now;
    ticks++;
  }, 1);
  try {
    const result = await work();
    return { result, stallMs: Math.max(stallMs, performance.now() - last), ticks };
  } finally {
    clearInterval(timer);
  }
}

function otlpJsonOf(protobuf: Buffer): Buffer {
  const object = ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(protobuf), {
    longs: String,
    bytes: String,
  }) as { resourceSpans: { scopeSpans: { spans: { traceId: string; spanId: string }[] }[] }[] };
  for (const span of object.resourceSpans[0]!.scopeSpans[0]!.spans) {
    span.traceId = Buffer.from(span.traceId, 'base64').toString('hex');
    span.spanId = Buffer.from(span.spanId, 'base64').toString('hex');
  }
  return Buffer.from(JSON.stringify(object));
}

describe('BodyDecoder', () => {
  const decoder = new BodyDecoder();

  // Decoded inline, each body would hold the event loop for one long task (no timer in between). The issue allows
  // ~50 ms; the limit here has margin for a machine shared with other test files.
  it('decodes large protobuf and JSON bodies off the event loop, to the spans inline decoding gives', async () => {
    for (const [format, body, count] of [
      ['protobuf', bulkOtlpProtobuf(20_000, 'off-thread'), 20_000],
      ['json', otlpJsonOf(bulkOtlpProtobuf(5_000, 'off-thread-json')), 5_000],
    ] as const) {
      const { result, stallMs, ticks } = await eventLoopDuring(() => decoder.otlp(Buffer.from(body), format));
      expect(result.spans).toHaveLength(count);
      expect(isDeepStrictEqual(result, decodeOtlpBody(body, format))).toBe(true);
      expect(stallMs).toBeLessThan(200);
      expect(ticks).toBeGreaterThan(count / 1000);
    }
  });

  it('brings the refusals of the decoding thread back as the errors inline decoding throws', async () => {
    const many = bulkOtlpProtobuf(5_000, 'too-many');
    expect(many.byteLength).toBeGreaterThan(INLINE_MAX_BYTES);
    const tooMany = await decoder.otlp(many, 'protobuf', 4_999).catch((err: unknown) => err);
    expect(tooMany).toBeInstanceOf(TooManySpansError);
    expect(tooMany).toMatchObject({ count: 5_000, max: 4_999 });

    const deep = `${'['.repeat(MAX_JSON_DEPTH + 1)}${' '.repeat(INLINE_MAX_BYTES)}${']'.repeat(MAX_JSON_DEPTH + 1)}`;
    await expect(decoder.json(Buffer.from(deep))).rejects.toBeInstanceOf(JsonBodyError);
    await expect(decoder.json(Buffer.from(deep))).rejects.toThrow(/deeper than 64 levels/);
    const padded = Buffer.from(`[{"a":1},{"b":[2]}]${' '.repeat(INLINE_MAX_BYTES)}`);
    expect(await decoder.json(padded)).toEqual({ items: [{ a: 1 }, { b: [2] }], array: true });
  });
});
