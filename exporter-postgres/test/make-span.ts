import type { SpanInput } from '../src/span.ts';

let counter = 0;

/** A finished span with sensible defaults; tests override only what they are about. */
export function makeSpan(partial: Partial<SpanInput> = {}): SpanInput {
  counter++;
  const start = BigInt(Date.UTC(2026, 10, 1, 12, 0, 0)) * 1_000_000n + BigInt(counter) * 1_000_000n;
  return {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId: counter.toString(16).padStart(16, '0'),
    name: 'chat gpt-4o',
    kind: 3,
    startTimeUnixNano: start,
    endTimeUnixNano: start + 1_500_000_000n,
    attributes: {},
    status: { code: 0 },
    events: [],
    resource: { 'service.name': 'inference-api' },
    scopeName: 'test',
    ...partial,
  };
}
