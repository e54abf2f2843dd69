import { describe, expect, it } from 'vitest';
import { makeSpan } from '../../test/make-span.ts';
import { AiSpanSchema } from '../ai-span.ts';
import { loadPriceTable } from '../cost/price-table.ts';
import { AiEventSchema } from '../event.ts';
import type { SpanInput } from '../span.ts';
import { sessionPseudonym, userPseudonym } from './identifiers.ts';
import { mapBatch } from './map-span.ts';

const options = {
  orgId: 'acme',
  defaultOrgId: 'default',
  prices: loadPriceTable(),
  receivedAt: new Date('2026-11-01T12:00:05Z'),
  pseudonymKey: 'test-pseudonym-key',
};

const CONTENT = 'Patient Jane Roe, DOB 1970-01-01, complains of chest pain';

/** The batch mapped, every row valid, in both span orders (exporters send children first). */
function mapTree(spans: SpanInput[]) {
  const mapped = mapBatch(spans, options);
  for (const event of mapped.events) AiEventSchema.parse(event);
  for (const span of mapped.spans) AiSpanSchema.parse(span);
  const reversed = mapBatch([...spans].reverse(), options);
  expect(new Set(reversed.events.map((e) => e.id))).toEqual(new Set(mapped.events.map((e) => e.id)));
  expect(new Set(reversed.spans.map((s) => s.id))).toEqual(new Set(mapped.spans.map((s) => s.id)));
  const kinds = Object.fromEntries([
    ...mapped.spans.map((s) => [s.span_id, s.span_kind]),
    ...mapped.events.map((e) => [e.span_id, 'model']),
  ]);
  return { ...mapped, kinds };
}

const chat = (parent: SpanInput, attributes: SpanInput['attributes'] = {}, extra: Partial<SpanInput> = {}) =>
  makeSpan({
    traceId: parent.traceId,
    parentSpanId: parent.spanId,
    attributes: {
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.usage.input_tokens': 100,
      'gen_ai.usage.output_tokens': 10,
      ...attributes,
    },
    ...extra,
  });

describe('mapBatch: the spans around model calls', () => {
  it('keeps a GenAI agent, its tool and its model calls as a tree, each model call counted once', () => {
    const agent = makeSpan({
      name: 'invoke_agent planner',
      kind: 1,
      attributes: {
        'gen_ai.operation.name': 'invoke_agent',
        'gen_ai.agent.name': 'planner',
        'gen_ai.agent.id': 'asst_1',
        'gen_ai.conversation.id': 'conv-1',
        // Some frameworks repeat their children's usage on the agent span: it must count for nothing.
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.usage.input_tokens': 300,
      },
    });
    const tool = makeSpan({
      name: 'execute_tool search',
      kind: 1,
      parentSpanId: agent.spanId,
      attributes: {
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': 'search',
        'gen_ai.tool.call.id': 'call_9',
        'gen_ai.tool.call.arguments': CONTENT,
        'gen_ai.tool.call.result': CONTENT,
      },
    });
    const create = makeSpan({
      name: 'create_agent planner',
      attributes: { 'gen_ai.operation.name': 'create_agent', 'gen_ai.agent.name': 'planner' },
    });
    const calls = [chat(agent), chat(agent), chat(tool)];
    const { events, spans, kinds } = mapTree([agent, tool, create, ...calls]);

    expect(events.map((e) => e.span_id).sort()).toEqual(calls.map((c) => c.spanId).sort());
    expect(events.reduce((sum, e) => sum + (e.input_tokens ?? 0), 0)).toBe(300);
    expect(kinds).toMatchObject({ [agent.spanId]: 'agent', [tool.spanId]: 'tool', [create.spanId]: 'agent' });
    const agentRow = spans.find((s) => s.span_id === agent.spanId)!;
    expect(agentRow).toMatchObject({
      name: 'invoke_agent planner',
      agent_name: 'planner',
      tool_name: null,
      success: true,
      latency_ms: 1500,
      parent_span_id: null,
      session_id: 'conv-1',
      org_id: 'acme',
      service_name: 'inference-api',
    });
    expect(spans.find((s) => s.span_id === tool.spanId)).toMatchObject({
      tool_name: 'search',
      parent_span_id: agent.spanId,
      attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.call.id': 'call_9' },
      session_id: 'conv-1',
    });
    expect(JSON.stringify(spans)).not.toContain('Jane');
    // The session reaches every model call below the agent, the tool's too.
    expect(events.map((e) => e.session_id)).toEqual(['conv-1', 'conv-1', 'conv-1']);
  });

  it('keeps OpenInference agents, tools, chains, retrievers, rerankers, guardrails and evaluators', () => {
    const kinds = {
      AGENT: 'agent',
      TOOL: 'tool',
      CHAIN: 'chain',
      RETRIEVER: 'retriever',
      RERANKER: 'retriever',
      GUARDRAIL: 'guardrail',
      EVALUATOR: 'evaluator',
    };
    const root = makeSpan({
      name: 'Agent',
      kind: 1,
      attributes: {
        'openinference.span.kind': 'AGENT',
        'session.id': 's-7',
        'user.id': 'u-7',
        'input.value': CONTENT,
      },
    });
    const children = Object.keys(kinds)
      .slice(1)
      .map((kind) =>
        makeSpan({
          name: kind.toLowerCase(),
          kind: 1,
          parentSpanId: root.spanId,
          status: { code: 1 },
          attributes: {
            'openinference.span.kind': kind,
            'tool.name': kind === 'TOOL' ? 'lookup' : undefined,
            'retrieval.documents.0.document.content': CONTENT,
            'output.value': CONTENT,
          },
        }),
      );
    const llm = makeSpan({
      name: 'ChatOpenAI',
      kind: 1,
      parentSpanId: root.spanId,
      attributes: {
        'openinference.span.kind': 'LLM',
        'llm.model_name': 'gpt-4o',
        'llm.token_count.prompt': 5,
      },
    });
    const embedding = makeSpan({
      parentSpanId: children[2]!.spanId,
      attributes: {
        'openinference.span.kind': 'EMBEDDING',
        'embedding.model_name': 'text-embedding-3-small',
      },
    });
    const mapped = mapTree([root, ...children, llm, embedding]);
    expect(mapped.events.map((e) => e.operation).sort()).toEqual(['chat', 'embeddings']);
    expect(Object.values(mapped.kinds).sort()).toEqual([...Object.values(kinds), 'model', 'model'].sort());
    expect(mapped.spans.find((s) => s.span_kind === 'tool')!.tool_name).toBe('lookup');
    expect(mapped.spans.every((s) => s.session_id === 's-7' && s.user_id === 'u-7')).toBe(true);
    expect(mapped.events.every((e) => e.session_id === 's-7' && e.user_id === 'u-7')).toBe(true);
    expect(JSON.stringify(mapped.spans)).not.toContain('Jane');
  });

  it('keeps OpenLLMetry workflows, tasks, agents and tools with their entity names', () => {
    const workflow = makeSpan({
      name: 'support.workflow',
      attributes: {
        'traceloop.span.kind': 'workflow',
        'traceloop.entity.name': 'support',
        'traceloop.association.properties.session_id': 'thread-3',
        'traceloop.association.properties.user_id': 'u-3',
        'traceloop.entity.input': CONTENT,
      },
    });
    const task = makeSpan({
      name: 'triage.task',
      parentSpanId: workflow.spanId,
      attributes: { 'traceloop.span.kind': 'task', 'traceloop.entity.name': 'triage' },
    });
    const agent = makeSpan({
      name: 'helper.agent',
      parentSpanId: task.spanId,
      attributes: {
        'traceloop.span.kind': 'agent',
        'traceloop.entity.name': 'helper',
        'gen_ai.system': 'openai',
      },
    });
    const tool = makeSpan({
      name: 'kb.tool',
      parentSpanId: agent.spanId,
      attributes: { 'traceloop.span.kind': 'tool', 'traceloop.entity.name': 'kb' },
    });
    const call = chat(tool, {}, { name: 'openai.chat' });
    const { events, spans, kinds } = mapTree([workflow, task, agent, tool, call]);
    expect(kinds).toEqual({
      [workflow.spanId]: 'workflow',
      [task.spanId]: 'chain',
      [agent.spanId]: 'agent',
      [tool.spanId]: 'tool',
      [call.spanId]: 'model',
    });
    expect(spans.find((s) => s.span_kind === 'agent')!.agent_name).toBe('helper');
    expect(spans.find((s) => s.span_kind === 'tool')!.tool_name).toBe('kb');
    expect(events[0]).toMatchObject({ session_id: 'thread-3', user_id: 'u-3' });
  });

  it('keeps the AI SDK outer call and its tool calls, counting only the inner provider calls', () => {
    const outer = makeSpan({
      name: 'ai.generateText',
      kind: 1,
      attributes: {
        'ai.operationId': 'ai.generateText',
        'ai.model.id': 'gpt-4o',
        'ai.model.provider': 'openai.chat',
        'ai.usage.promptTokens': 30,
        'ai.usage.completionTokens': 6,
        'ai.prompt': CONTENT,
        'ai.telemetry.functionId': 'weather-bot',
        'ai.telemetry.metadata.sessionId': 'chat-42',
      },
    });
    const step = (tokens: number) =>
      makeSpan({
        name: 'ai.generateText.doGenerate',
        kind: 1,
        parentSpanId: outer.spanId,
        attributes: {
          'ai.operationId': 'ai.generateText.doGenerate',
          'ai.model.provider': 'openai.chat',
          'ai.model.id': 'gpt-4o',
          'gen_ai.system': 'openai.chat',
          'gen_ai.request.model': 'gpt-4o',
          'ai.usage.promptTokens': tokens,
          'ai.usage.completionTokens': 3,
        },
      });
    const first = step(10);
    const toolCall = makeSpan({
      name: 'ai.toolCall',
      kind: 1,
      parentSpanId: outer.spanId,
      attributes: {
        'ai.operationId': 'ai.toolCall',
        'ai.toolCall.name': 'weather',
        'ai.toolCall.id': 'call_1',
        'ai.toolCall.args': CONTENT,
        'ai.toolCall.result': CONTENT,
      },
    });
    const second = step(20);
    const { events, spans, kinds } = mapTree([outer, first, toolCall, second]);
    expect(kinds).toEqual({
      [outer.spanId]: 'chain',
      [first.spanId]: 'model',
      [toolCall.spanId]: 'tool',
      [second.spanId]: 'model',
    });
    expect(events.map((e) => e.input_tokens).sort()).toEqual([10, 20]);
    expect(events.every((e) => e.session_id === 'chat-42')).toBe(true);
    expect(spans.find((s) => s.span_kind === 'tool')).toMatchObject({
      tool_name: 'weather',
      attributes: { 'ai.operationId': 'ai.toolCall', 'ai.toolCall.id': 'call_1' },
    });
    expect(spans.find((s) => s.span_kind === 'chain')!.attributes).toMatchObject({
      'ai.telemetry.functionId': 'weather-bot',
      'ai.model.id': 'gpt-4o',
    });
    expect(JSON.stringify(spans)).not.toContain('Jane');
  });

  it('stores no row for plain HTTP or database spans', () => {
    const http = makeSpan({ name: 'GET /health', kind: 2, attributes: { 'http.route': '/health' } });
    const sql = makeSpan({ name: 'SELECT', attributes: { 'db.system': 'postgresql' } });
    expect(mapBatch([http, sql], options)).toEqual({ events: [], spans: [], contents: [] });
  });
});

describe('mapBatch: context from ancestors', () => {
  it("gives a model call the HTTP server span's route and user, and its own values win", () => {
    const server = makeSpan({
      name: 'POST /chat/:id',
      kind: 2,
      traceId: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
      attributes: { 'http.route': '/chat/:id', 'url.path': '/chat/123', 'user.id': 'u-http' },
    });
    const middle = makeSpan({
      name: 'handler',
      kind: 1,
      traceId: server.traceId,
      parentSpanId: server.spanId,
    });
    const inherits = chat(middle);
    const ownUser = chat(middle, { 'user.id': 'u-own', 'observatory.endpoint': 'summarise' });
    const { events } = mapTree([server, middle, inherits, ownUser]);
    const bySpan = Object.fromEntries(events.map((e) => [e.span_id, e]));
    expect(bySpan[inherits.spanId]).toMatchObject({
      endpoint: '/chat/:id',
      user_id: 'u-http',
      session_id: null,
    });
    expect(bySpan[ownUser.spanId]).toMatchObject({ endpoint: 'summarise', user_id: 'u-own' });
  });

  it("takes url.path from a server span without a route, never a client span's path", () => {
    const server = makeSpan({ kind: 2, attributes: { 'url.path': '/v2/answer' } });
    const client = makeSpan({
      kind: 3,
      parentSpanId: server.spanId,
      attributes: { 'url.path': '/v1/chat/completions' },
    });
    const { events } = mapTree([server, client, chat(client)]);
    expect(events[0]!.endpoint).toBe('/v2/answer');
  });

  it('never mixes two traces, even when a parent span id matches a span of another trace', () => {
    const server = makeSpan({
      kind: 2,
      traceId: 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
      attributes: { 'http.route': '/a', 'user.id': 'u-a', 'session.id': 's-a' },
    });
    const sameTrace = chat(server);
    const otherTrace = chat(server, {}, { traceId: 'cccccccccccccccccccccccccccccccc' });
    const { events } = mapTree([server, sameTrace, otherTrace]);
    const bySpan = Object.fromEntries(events.map((e) => [e.span_id, e]));
    expect(bySpan[sameTrace.spanId]).toMatchObject({ endpoint: '/a', user_id: 'u-a', session_id: 's-a' });
    expect(bySpan[otherTrace.spanId]).toMatchObject({ endpoint: null, user_id: null, session_id: null });
  });

  it('pseudonymises inherited personal user and session ids exactly as its own', () => {
    const server = makeSpan({
      kind: 2,
      attributes: { 'enduser.id': 'jane@example.com', 'gen_ai.conversation.id': 'jane@example.com/thread' },
    });
    const agent = makeSpan({
      parentSpanId: server.spanId,
      attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'jane@example.com' },
    });
    const { events, spans } = mapTree([server, agent, chat(agent)]);
    const user = userPseudonym(options.pseudonymKey, 'acme', 'jane@example.com');
    const session = sessionPseudonym(options.pseudonymKey, 'acme', 'jane@example.com/thread');
    expect(session).toMatch(/^s_[0-9a-f]{32}$/);
    expect(events[0]).toMatchObject({ user_id: user, session_id: session });
    expect(spans[0]).toMatchObject({ user_id: user, session_id: session, agent_name: '[redacted]' });
    expect(JSON.stringify([events, spans])).not.toContain('jane@');
  });

  it('survives a parent cycle', () => {
    const a = makeSpan({ spanId: 'a0a0a0a0a0a0a0a0', parentSpanId: 'b0b0b0b0b0b0b0b0' });
    const b = makeSpan({
      spanId: 'b0b0b0b0b0b0b0b0',
      parentSpanId: 'a0a0a0a0a0a0a0a0',
      attributes: { 'gen_ai.operation.name': 'invoke_agent' },
    });
    expect(mapBatch([a, b], options).spans).toHaveLength(1);
  });
});
