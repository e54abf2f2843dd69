import { describe, expect, it } from 'vitest';
import { decodeOtlpLogsJson } from '../otlp/decode-logs.ts';
import { BodyDecoder, INLINE_MAX_BYTES } from '../otlp/decode-off-thread.ts';
import type { LogInput } from './log-input.ts';
import { LogRowSchema, MAX_LOG_ATTRIBUTE_KEY, MAX_LOG_ATTRIBUTES, MAX_LOG_BODY } from './log-row.ts';
import { mapLog } from './map-log.ts';

const makeLog = (partial: Partial<LogInput> = {}): LogInput => ({
  timeUnixNano: 1_700_000_000_123_456_789n,
  observedTimeUnixNano: 1_700_000_000_200_000_000n,
  severityNumber: 9,
  severityText: 'INFO',
  body: 'hello',
  attributes: {},
  resource: { 'service.name': 'svc' },
  scopeName: 'scope',
  ...partial,
});

const received = new Date('2026-01-01T00:00:00Z');

describe('mapLog', () => {
  it('keeps a bounded, flat, scrubbed attribute map and a capped body', () => {
    const attributes = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i]));
    const row = mapLog(
      makeLog({
        body: `${'word '.repeat(4000)}mail me at carol@example.com`,
        attributes: {
          [`long key ${'ab '.repeat(200)}`]: 'v',
          big: 'y'.repeat(5000),
          nested: { list: ['dave@example.com', 1], deep: { token: 'abc' } },
          ...attributes,
        },
      }),
      'acme',
      received,
    );
    expect(LogRowSchema.parse(row)).toEqual(row);
    expect(row.body.length).toBeLessThanOrEqual(MAX_LOG_BODY);
    expect(Object.keys(row.attributes)).toHaveLength(MAX_LOG_ATTRIBUTES);
    const longKey = Object.keys(row.attributes)[0]!;
    expect(longKey.startsWith('long key ab ab')).toBe(true);
    expect(longKey.length).toBeLessThanOrEqual(MAX_LOG_ATTRIBUTE_KEY);
    expect(longKey.length).toBeGreaterThan(MAX_LOG_ATTRIBUTE_KEY - 4);
    expect((row.attributes.big as string).length).toBeLessThanOrEqual(1024);
    expect(row.attributes.nested).toBe('{"list":["[email]",1],"deep":{"token":"[secret]"}}');

    const structured = mapLog(makeLog({ body: { user: 'erin@example.com', n: 2 } }), 'acme', received);
    expect(structured.body).toBe('{"user":"[email]","n":2}');
  });

  it('gives a record the same id on every delivery, and another record another id', () => {
    const once = mapLog(makeLog(), 'acme', received);
    const again = mapLog(makeLog(), 'acme', new Date(received.getTime() + 60_000));
    expect(again.id).toBe(once.id);
    expect(mapLog(makeLog({ body: 'other' }), 'acme', received).id).not.toBe(once.id);
    expect(mapLog(makeLog({ timeUnixNano: 1_700_000_000_123_456_790n }), 'acme', received).id).not.toBe(
      once.id,
    );
    expect(mapLog(makeLog(), 'globex', received).id).not.toBe(once.id);
  });

  it('takes the observed time, else the receive time, for a record without one', () => {
    expect(mapLog(makeLog({ timeUnixNano: 0n }), 'acme', received).time).toEqual(new Date(1_700_000_000_200));
    const bare = mapLog(makeLog({ timeUnixNano: 0n, observedTimeUnixNano: 0n }), 'acme', received);
    expect(bare.time).toEqual(received);
    expect(bare.observed_time).toEqual(received);
  });
});

describe('BodyDecoder.otlpLogs', () => {
  it('decodes a large logs body off the event loop to what inline decoding gives', async () => {
    const records = Array.from({ length: 4000 }, (_, i) => ({
      timeUnixNano: `${1_700_000_000_000_000_000n + BigInt(i)}`,
      severityNumber: 9,
      body: { stringValue: `line ${i} ${'pad '.repeat(20)}` },
      traceId: 'ab'.repeat(16),
      spanId: 'cd'.repeat(8),
    }));
    const body = Buffer.from(JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: records }] }] }));
    expect(body.byteLength).toBeGreaterThan(INLINE_MAX_BYTES);
    const inline = decodeOtlpLogsJson(body);
    const decoded = await new BodyDecoder().otlpLogs(Buffer.from(body), 'json');
    expect(decoded).toEqual(inline);
    expect(decoded.records).toHaveLength(4000);
    await expect(new BodyDecoder().otlpLogs(Buffer.from(body), 'json', 3999)).rejects.toMatchObject({
      name: 'TooManySpansError',
      unit: 'log records',
    });
  });
});
