import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { conventionSpans, encodeSpans } from '../../test/convention-spans.ts';
import { makeSpan } from '../../test/make-span.ts';
import { referenceDecode } from '../../test/reference-decoder.ts';
import { loadPriceTable } from '../cost/price-table.ts';
import { mapBatch } from '../mapping/map-span.ts';
import { MAPPED_ATTRIBUTES } from '../mapping/mapped-attributes.ts';
import type { Attributes, AttributeValue, SpanInput } from '../span.ts';
import { decodeOtlpProtobuf } from './decode-spans.ts';

const options = {
  defaultOrgId: 'default',
  prices: loadPriceTable(),
  receivedAt: new Date('2026-11-01T12:00:05Z'),
  pseudonymKey: 'test-pseudonym-key',
};

/** Rows as the writer receives them, from the former decoder (every attribute) and the one-pass one (mapped only). */
function rowsBoth(body: Uint8Array) {
  const reference = referenceDecode(body);
  const decoded = decodeOtlpProtobuf(body, Number.POSITIVE_INFINITY, MAPPED_ATTRIBUTES);
  return {
    reference: {
      ...mapBatch(reference.spans, options),
      rejected: reference.rejected,
      errors: reference.errors,
    },
    decoded: { ...mapBatch(decoded.spans, options), rejected: decoded.rejected, errors: decoded.errors },
  };
}

const MAPPED = [...MAPPED_ATTRIBUTES];
const value: fc.Arbitrary<AttributeValue> = fc.oneof(
  fc.constantFrom(
    'chat',
    'LLM',
    'embeddings',
    'ai.generateText.doGenerate',
    'tool',
    'agent',
    'true',
    '12',
    '',
  ),
  fc.string({ maxLength: 12 }),
  fc.integer({ min: -5, max: 5000 }),
  fc.constantFrom(2 ** 53 + 2, -(2 ** 40)),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.array(fc.oneof(fc.string({ maxLength: 4 }), fc.integer()), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }), {
    maxKeys: 2,
    noNullPrototype: true,
  }),
);
const attributes: fc.Arbitrary<Attributes> = fc.dictionary(
  fc.oneof(fc.constantFrom(...MAPPED), fc.constantFrom('input.value', 'gen_ai.prompt', 'x'), fc.string()),
  value,
  { maxKeys: 14, noNullPrototype: true },
);
const randomSpan: fc.Arbitrary<SpanInput> = fc
  .record({
    attributes,
    resource: attributes,
    kind: fc.integer({ min: 0, max: 5 }),
    code: fc.constantFrom(0, 1, 2),
    message: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
    events: fc.array(fc.record({ name: fc.constantFrom('exception', 'log'), attributes }), { maxLength: 2 }),
    parent: fc.boolean(),
  })
  .map(({ code, message, parent, ...rest }) =>
    makeSpan({
      ...rest,
      status: { code: code as 0 | 1 | 2, message },
      parentSpanId: parent ? '0000000000000001' : undefined,
    }),
  );

describe('decodeOtlpProtobuf (one pass over the wire format)', () => {
  it('gives every convention fixture the rows the former decoder gave, byte for byte', () => {
    const { reference, decoded } = rowsBoth(encodeSpans(conventionSpans()));
    expect(reference.events.length + reference.spans.length).toBeGreaterThan(20);
    expect(decoded).toEqual(reference);
    expect(JSON.stringify(decoded)).toBe(JSON.stringify(reference));
  });

  it('decodes every attribute as the former decoder did when asked for all of them', () => {
    const body = encodeSpans(conventionSpans());
    expect(isDeepStrictEqual(decodeOtlpProtobuf(body), referenceDecode(body))).toBe(true);
  });

  it('gives the same rows and the same spans for random spans of random attributes', () => {
    fc.assert(
      fc.property(fc.array(randomSpan, { minLength: 1, maxLength: 6 }), (spans) => {
        const body = encodeSpans(spans);
        expect(decodeOtlpProtobuf(body)).toStrictEqual(referenceDecode(body));
        const { reference, decoded } = rowsBoth(body);
        expect(decoded).toStrictEqual(reference);
      }),
      { numRuns: 300 },
    );
  });

  it('lists in MAPPED_ATTRIBUTES every attribute key the mapping reads', () => {
    const read = new Set<string>();
    const recording = (attrs: Attributes) =>
      new Proxy(attrs, {
        get(target, key) {
          if (typeof key === 'string') read.add(key);
          return target[key as string];
        },
        has(target, key) {
          if (typeof key === 'string') read.add(key);
          return key in target;
        },
      });
    const record = (span: SpanInput): SpanInput => ({
      ...span,
      attributes: recording(span.attributes),
      resource: recording(span.resource),
      events: span.events.map((e) => ({ ...e, attributes: recording(e.attributes) })),
    });
    mapBatch(conventionSpans().map(record), options);
    fc.assert(
      fc.property(fc.array(randomSpan, { minLength: 1, maxLength: 4 }), (spans) => {
        mapBatch(spans.map(record), options);
      }),
      { numRuns: 300 },
    );
    expect(read.size).toBeGreaterThan(40);
    expect([...read].filter((key) => !MAPPED_ATTRIBUTES.has(key))).toEqual([]);
  });
});
