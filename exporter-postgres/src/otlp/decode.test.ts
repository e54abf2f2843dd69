import { createServer, type IncomingMessage, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { OTLPTraceExporter as OtlpHttpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bulkOtlpProtobuf } from '../../test/otlp-bulk.ts';
import { decodeOtlpJson, decodeOtlpProtobuf, encodeExportTraceResponse, OtlpDecodeError } from './decode.ts';
import { TooManySpansError } from './decoded.ts';
import { nestsDeeperThan } from './json-body.ts';
import { ExportTraceServiceResponse } from './trace-proto.ts';

let server: Server;
let url: string;
const bodies: { type: string; body: Buffer }[] = [];

beforeAll(async () => {
  server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let body = Buffer.concat(chunks);
    if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
    bodies.push({ type: String(req.headers['content-type']), body });
    res.writeHead(200, { 'content-type': String(req.headers['content-type']) }).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/traces`;
});
afterAll(() => new Promise((r) => server.close(r)));

async function emitWith(
  exporter: SpanExporter,
): Promise<{ traceId: string; spanId: string; parentId: string }> {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'svc-under-test' }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('decode-test');
  const parent = tracer.startSpan('parent');
  const ctx = (await import('@opentelemetry/api')).trace.setSpan(
    (await import('@opentelemetry/api')).context.active(),
    parent,
  );
  const span = tracer.startSpan('chat gpt-4o', { kind: SpanKind.CLIENT }, ctx);
  span.setAttributes({
    'gen_ai.operation.name': 'chat',
    'gen_ai.request.model': 'gpt-4o',
    'gen_ai.usage.input_tokens': 1234,
    'observatory.fallback.used': true,
    'tag.list': ['a', 'b'],
    ratio: 0.5,
  });
  span.addEvent('exception', { 'exception.message': 'boom' });
  span.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream failed' });
  span.end();
  parent.end();
  await provider.forceFlush();
  await provider.shutdown();
  return {
    traceId: span.spanContext().traceId,
    spanId: span.spanContext().spanId,
    parentId: parent.spanContext().spanId,
  };
}

describe('OTLP decoding against the real OpenTelemetry exporters', () => {
  it.each([
    ['protobuf', () => new OtlpProtoExporter({ url }), (b: Buffer) => decodeOtlpProtobuf(b)],
    ['JSON', () => new OtlpHttpJsonExporter({ url }), (b: Buffer) => decodeOtlpJson(b.toString('utf8'))],
    [
      'gzip protobuf',
      () => new OtlpProtoExporter({ url, compression: 'gzip' as never }),
      (b: Buffer) => decodeOtlpProtobuf(b),
    ],
  ])('decodes what the %s exporter sends', async (_name, make, decode) => {
    bodies.length = 0;
    const ids = await emitWith(make());
    const spans = bodies.flatMap((b) => decode(b.body).spans);
    const span = spans.find((s) => s.spanId === ids.spanId);
    expect(span).toMatchObject({
      traceId: ids.traceId,
      parentSpanId: ids.parentId,
      name: 'chat gpt-4o',
      kind: 3,
      status: { code: 2, message: 'upstream failed' },
      resource: { 'service.name': 'svc-under-test' },
      scopeName: 'decode-test',
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.usage.input_tokens': 1234,
        'observatory.fallback.used': true,
        'tag.list': ['a', 'b'],
        ratio: 0.5,
      },
    });
    expect(span!.events).toEqual([{ name: 'exception', attributes: { 'exception.message': 'boom' } }]);
    expect(span!.endTimeUnixNano).toBeGreaterThanOrEqual(span!.startTimeUnixNano);
    expect(span!.startTimeUnixNano > 1_600_000_000_000_000_000n).toBe(true);
  });
});

describe('OTLP/JSON rules', () => {
  const span = (extra: object) => ({
    traceId: '0123456789ABCDEF0123456789abcdef',
    spanId: '0123456789abcdef',
    name: 'x',
    startTimeUnixNano: 1700000000000000000,
    endTimeUnixNano: '1700000000500000000',
    ...extra,
  });
  const body = (...spans: object[]) =>
    JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans, unknownField: 1 }] }], extra: true });

  it('accepts int64 as numbers or strings, upper-case hex, and ignores unknown fields', () => {
    const decoded = decodeOtlpJson(body(span({ attributes: [{ key: 'n', value: { intValue: '42' } }] })));
    expect(decoded.rejected).toBe(0);
    expect(decoded.spans[0]).toMatchObject({
      traceId: '0123456789abcdef0123456789abcdef',
      attributes: { n: 42 },
    });
  });

  it('rejects bad spans one by one with a reason', () => {
    const decoded = decodeOtlpJson(
      body(span({}), span({ traceId: 'zz' }), span({ startTimeUnixNano: '9', endTimeUnixNano: '1' })),
    );
    expect(decoded.spans).toHaveLength(1);
    expect(decoded.rejected).toBe(2);
    expect(decoded.errors.join(' ')).toMatch(/traceId/);
  });

  it('refuses a body that is not an object, or nests deeper than 64 levels, as not a trace request', () => {
    for (const text of ['[]', '[{"resourceSpans":[]}]', '"resourceSpans"', '42', 'null']) {
      expect(() => decodeOtlpJson(text)).toThrow(OtlpDecodeError);
    }
    const deep = (levels: number) =>
      body(
        span({
          attributes: [
            {
              key: 'k',
              value: JSON.parse(
                `${'{"arrayValue":{"values":['.repeat(levels)}{"stringValue":"x"}${']}}'.repeat(levels)}`,
              ),
            },
          ],
        }),
      );
    expect(() => decodeOtlpJson(deep(5))).not.toThrow();
    expect(() => decodeOtlpJson(deep(30))).toThrow(/deeper than 64 levels/);
    expect(() => decodeOtlpJson(`${'['.repeat(1e6)}${']'.repeat(1e6)}`)).toThrow(/deeper than 64 levels/);
    // Brackets inside strings are text, not nesting.
    expect(nestsDeeperThan(`{"a":"${'[{'.repeat(100)}\\"${'['.repeat(100)}"}`, 1)).toBe(false);
  });

  it('counts the spans of a request, valid or not, and refuses more than maxSpans before decoding any', () => {
    const three = body(span({}), span({ traceId: 'zz' }), span({}));
    expect(decodeOtlpJson(three, 3).spans).toHaveLength(2);
    expect(() => decodeOtlpJson(three, 2)).toThrow(TooManySpansError);
    const protobuf = bulkOtlpProtobuf(3, 'count');
    expect(decodeOtlpProtobuf(protobuf, 3).spans).toHaveLength(3);
    const refused = (() => {
      try {
        decodeOtlpProtobuf(protobuf, 2);
      } catch (err) {
        return err;
      }
    })();
    expect(refused).toBeInstanceOf(TooManySpansError);
    expect(refused).toMatchObject({ count: 3, max: 2 });
  });

  it('encodes partial success in both encodings', () => {
    const proto = encodeExportTraceResponse(
      { rejectedSpans: 2, errorMessage: 'bad' },
      'protobuf',
    ) as Uint8Array;
    expect(
      ExportTraceServiceResponse.toObject(ExportTraceServiceResponse.decode(proto), { longs: Number }),
    ).toEqual({
      partialSuccess: { rejectedSpans: 2, errorMessage: 'bad' },
    });
    expect(JSON.parse(encodeExportTraceResponse(undefined, 'json') as string)).toEqual({});
  });
});

describe('decoder fuzzing', () => {
  const onlyDecodeErrors = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      if (!(err instanceof TooManySpansError)) expect(err).toBeInstanceOf(OtlpDecodeError);
    }
  };

  it('never throws anything but OtlpDecodeError on random or truncated protobuf', async () => {
    bodies.length = 0;
    await emitWith(new OtlpProtoExporter({ url }));
    const valid = bodies[0]!.body;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) =>
        onlyDecodeErrors(() => decodeOtlpProtobuf(bytes)),
      ),
      { numRuns: 2000 },
    );
    // Counting spans first walks the same bytes another way: it too must only ever refuse.
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) =>
        onlyDecodeErrors(() => decodeOtlpProtobuf(bytes, 1)),
      ),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: valid.length }),
        fc.integer({ min: 0, max: 255 }),
        fc.nat(),
        (cut, byte, at) => {
          const mutated = Buffer.from(valid.subarray(0, cut));
          if (mutated.length > 0) mutated[at % mutated.length] = byte;
          onlyDecodeErrors(() => decodeOtlpProtobuf(mutated));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('never throws anything but OtlpDecodeError on random JSON', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify({ resourceSpans: [v] })),
        ),
        (text) => onlyDecodeErrors(() => decodeOtlpJson(text)),
      ),
      { numRuns: 2000 },
    );
  });
});
