import { describe, expect, it } from 'vitest';
import { makeSpan } from '../../test/make-span.ts';
import { loadPriceTable } from '../cost/price-table.ts';
import { mapSpans } from './map-span.ts';
import { mapSpansInSlices } from './map-spans-in-slices.ts';

const options = {
  orgId: 'acme',
  defaultOrgId: 'default',
  prices: loadPriceTable(),
  receivedAt: new Date(),
  pseudonymKey: 'test-pseudonym-key',
};

describe('mapSpansInSlices', () => {
  it('gives the events mapSpans gives, folding nested calls across the whole batch, and lets timers run meanwhile', async () => {
    const chat = (extra: object = {}) => ({
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'gpt-4o',
      ...extra,
    });
    // Pairs of a wrapper call and the instrumented client call inside it, far apart in the batch so any
    // slicing of the batch would separate them.
    const outers = Array.from({ length: 4_000 }, (_, i) =>
      makeSpan({ traceId: i.toString(16).padStart(32, '0'), attributes: chat() }),
    );
    const inners = outers.map((outer) =>
      makeSpan({
        traceId: outer.traceId,
        parentSpanId: outer.spanId,
        attributes: chat({ 'gen_ai.usage.input_tokens': 100, 'gen_ai.usage.output_tokens': 10 }),
      }),
    );
    const spans = [...outers, ...inners];

    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const { events: sliced, spans: others } = await mapSpansInSlices(spans, options);
    clearInterval(timer);

    expect(sliced).toEqual(mapSpans(spans, options));
    expect(others).toEqual([]);
    expect(sliced).toHaveLength(4_000);
    expect(sliced[0]).toMatchObject({ input_tokens: 100, output_tokens: 10 });
    expect(ticks).toBeGreaterThan(0);
  });

  it('names, as gaps, the rows lacking context whose ancestry leaves the batch, with the ancestor to look up', async () => {
    const chat = { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o' };
    const outside = 'aaaaaaaaaaaaaaaa';
    // HTTP span (no row) under an ancestor of an earlier request, a tool under it, a call under the tool.
    const http = makeSpan({
      parentSpanId: outside,
      kind: 2,
      name: 'POST /agent',
      attributes: { 'user.id': 'u-1' },
    });
    const tool = makeSpan({
      parentSpanId: http.spanId,
      kind: 1,
      attributes: { 'gen_ai.operation.name': 'execute_tool' },
    });
    const call = makeSpan({ parentSpanId: tool.spanId, attributes: chat });
    // A root call, and a call stating all its context: nothing to look up.
    const root = makeSpan({ traceId: 'b'.repeat(32), attributes: chat });
    const complete = makeSpan({
      parentSpanId: outside,
      attributes: { ...chat, 'observatory.endpoint': '/x', 'user.id': 'u', 'session.id': 's' },
    });
    const { gaps } = await mapSpansInSlices([http, tool, call, root, complete], options);
    expect(gaps.map((g) => [g.row.user_id, g.ancestorSpanId])).toEqual([
      ['u-1', outside],
      ['u-1', outside],
    ]);
  });
});
