import { describe, expect, it } from 'vitest';
import { buildTraceTree, type TraceRow } from './tree.ts';

let n = 0;
const T0 = Date.UTC(2026, 10, 1, 12);

function row(partial: Partial<TraceRow> & { span_id: string; start: number; ms: number }): TraceRow {
  const { start, ms, ...rest } = partial;
  return {
    kind: 'model',
    id: `00000000-0000-7000-8000-${String(++n).padStart(12, '0')}`,
    parent_span_id: null,
    name: 'chat gpt-4o',
    created_at: new Date(T0 + start),
    latency_ms: ms,
    success: true,
    error_code: null,
    service_name: 'svc',
    endpoint: null,
    user_id: null,
    session_id: null,
    model_name: 'gpt-4o',
    agent_name: null,
    tool_name: null,
    input_tokens: null,
    output_tokens: null,
    cost_usd: null,
    ...rest,
  };
}

describe('buildTraceTree', () => {
  it('nests rows under their stored parents, totals each subtree exactly and follows the last child to end', () => {
    const rows = [
      row({ span_id: 'a', kind: 'agent', name: 'invoke_agent', start: 0, ms: 1000 }),
      row({
        span_id: 'm1',
        parent_span_id: 'a',
        start: 10,
        ms: 300,
        input_tokens: 10,
        cost_usd: '0.1000000001',
      }),
      row({ span_id: 't', parent_span_id: 'a', kind: 'tool', start: 320, ms: 400, success: false }),
      row({ span_id: 'm2', parent_span_id: 't', start: 330, ms: 380, input_tokens: 5, cost_usd: '0.2' }),
      row({
        span_id: 'm3',
        parent_span_id: 'a',
        start: 730,
        ms: 200,
        output_tokens: 7,
        cost_usd: '0.0000000002',
      }),
      // Its parent (an HTTP span) is not stored: a root of its own, after the agent.
      row({ span_id: 'late', parent_span_id: 'http', start: 2000, ms: 10, cost_usd: '1' }),
    ];
    // Any order of rows gives the same tree.
    for (const order of [rows, [...rows].reverse()]) {
      const tree = buildTraceTree(order);
      expect(tree.spans.map((s) => [s.span_id, s.depth, s.children])).toEqual([
        ['a', 0, 3],
        ['m1', 1, 0],
        ['t', 1, 1],
        ['m2', 2, 0],
        ['m3', 1, 0],
        ['late', 0, 0],
      ]);
      expect(tree.spans[0]!.subtree).toEqual({
        spans: 5,
        model_calls: 3,
        input_tokens: 15,
        output_tokens: 7,
        cost_usd: '0.3000000003',
        errors: 1,
      });
      expect(tree.spans[2]!.subtree).toMatchObject({ spans: 2, model_calls: 1, cost_usd: '0.2', errors: 1 });
      expect(tree.totals).toMatchObject({ spans: 6, model_calls: 4, cost_usd: '1.3000000003' });
      // `late` ends last of all; within the agent the tool's child ended at 710, m3 at 930.
      expect(tree.critical_path).toEqual(['late']);
      expect(buildTraceTree(order.filter((r) => r.span_id !== 'late')).critical_path).toEqual(['a', 'm3']);
    }
  });

  it('breaks a parent cycle instead of following it', () => {
    const tree = buildTraceTree([
      row({ span_id: 'x', parent_span_id: 'y', start: 0, ms: 10, input_tokens: 1 }),
      row({ span_id: 'y', parent_span_id: 'x', start: 1, ms: 10, input_tokens: 2 }),
    ]);
    expect(tree.spans).toHaveLength(2);
    expect(tree.totals.input_tokens).toBe(3);
  });
});
