import { fromReadableSpan, loadPriceTable, mapBatch } from '@observatory/exporter-postgres';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runWithRequestContext } from './request-context.ts';
import { startTelemetry, type Telemetry } from './telemetry.ts';
import { traceAgent, traceTool } from './trace-agent.ts';
import { traceInference } from './trace-inference.ts';

const sink = new InMemorySpanExporter();
let telemetry: Telemetry;

beforeAll(() => {
  telemetry = startTelemetry({ otlp: false, http: false, spanProcessors: [new SimpleSpanProcessor(sink)] });
});
afterAll(() => telemetry.shutdown());
beforeEach(() => sink.reset());

const mapOptions = {
  defaultOrgId: 'default',
  prices: loadPriceTable(),
  receivedAt: new Date(),
  pseudonymKey: 'test-pseudonym-key',
};

/** A planner agent that calls a tool and two models, as the example service's /agent does. */
async function runAgent() {
  return runWithRequestContext({ requestId: 'req-1', userId: 'u-1', sessionId: 'conv-1' }, () =>
    traceAgent({ name: 'planner', id: 'planner-v1' }, async () => {
      await traceInference({ operation: 'chat', model: 'gpt-4o-mini', provider: 'openai' }, (call) =>
        call.recordUsage({ inputTokens: 40, outputTokens: 8 }),
      );
      const found = await traceTool(
        { name: 'search', type: 'function', callId: 'call_1' },
        async () => 'hit',
      );
      await traceInference({ operation: 'chat', model: 'gpt-4o', provider: 'openai' }, (call) =>
        call.recordUsage({ inputTokens: 200, outputTokens: 50 }),
      );
      return found;
    }),
  );
}

describe('traceAgent and traceTool', () => {
  it('write GenAI invoke_agent and execute_tool spans that parent the model calls inside them', async () => {
    expect(await runAgent()).toBe('hit');
    await telemetry.forceFlush();
    const spans = sink.getFinishedSpans();
    const agent = spans.find((s) => s.name === 'invoke_agent planner')!;
    const tool = spans.find((s) => s.name === 'execute_tool search')!;
    expect(agent.kind).toBe(SpanKind.INTERNAL);
    expect(agent.attributes).toMatchObject({
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.name': 'planner',
      'gen_ai.agent.id': 'planner-v1',
      'gen_ai.conversation.id': 'conv-1',
      'user.id': 'u-1',
      'observatory.request_id': 'req-1',
    });
    expect(tool.attributes).toMatchObject({
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'search',
      'gen_ai.tool.type': 'function',
      'gen_ai.tool.call.id': 'call_1',
    });
    const calls = spans.filter((s) => s.name.startsWith('chat '));
    expect(calls).toHaveLength(2);
    for (const span of [tool, ...calls]) {
      expect(span.parentSpanContext?.spanId).toBe(agent.spanContext().spanId);
    }
    expect(calls.every((c) => c.attributes['gen_ai.conversation.id'] === 'conv-1')).toBe(true);

    // Stored as an agent row, a tool row and exactly two model calls, all in the session.
    const mapped = mapBatch(spans.map(fromReadableSpan), mapOptions);
    expect(mapped.spans.map((s) => s.span_kind).sort()).toEqual(['agent', 'tool']);
    expect(mapped.events.map((e) => e.input_tokens).sort()).toEqual([200, 40]);
    expect([...mapped.events, ...mapped.spans].every((r) => r.session_id === 'conv-1')).toBe(true);
  });

  it('mark the span failed by what fn throws, and rethrow it as is', async () => {
    const boom = new TypeError('tool broke');
    await expect(traceTool({ name: 'search' }, () => Promise.reject(boom))).rejects.toBe(boom);
    const remote = await traceAgent({ name: 'remote', provider: 'aws.bedrock' }, () => 1);
    expect(remote).toBe(1);
    await telemetry.forceFlush();
    const [tool, agent] = sink.getFinishedSpans();
    expect(tool!.status.code).toBe(SpanStatusCode.ERROR);
    expect(tool!.attributes['error.type']).toBe('TypeError');
    expect(agent!.kind).toBe(SpanKind.CLIENT);
    expect(mapBatch([tool!, agent!].map(fromReadableSpan), mapOptions).spans[0]).toMatchObject({
      success: false,
      tool_name: 'search',
    });
  });
});
