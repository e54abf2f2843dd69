import { ExportTraceServiceRequest } from '../src/otlp/trace-proto.ts';
import type { Attributes, SpanInput } from '../src/span.ts';
import { makeSpan } from './make-span.ts';

const CONTENT = 'Patient Jane Roe, DOB 1970-01-01, jane.roe@example.com, complains of chest pain';

/**
 * One or more spans of every AI convention the mapping reads (model calls, agents, tools, retrievers, workflows,
 * failures, server spans, fallbacks), with the content attributes real instrumentations add beside them.
 */
export function conventionSpans(): SpanInput[] {
  const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
  const agent = makeSpan({
    name: 'invoke_agent planner',
    kind: 1,
    attributes: {
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.name': 'planner',
      'gen_ai.agent.id': 'agent-7',
      'gen_ai.agent.description': 'plans',
      'user.id': 'jane@example.com',
      'gen_ai.conversation.id': 'conv-1',
      'gen_ai.input.messages': CONTENT,
    },
  });
  const server = makeSpan({
    name: 'POST /analyze',
    kind: 2,
    attributes: { 'http.route': '/analyze', 'url.path': '/analyze/42', 'enduser.id': 'u-1' },
  });
  const under = (parent: SpanInput, span: SpanInput) => ({
    ...span,
    traceId: trace,
    parentSpanId: parent.spanId,
  });
  return [
    server,
    agent,
    under(
      agent,
      makeSpan({
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': 'openai',
          'gen_ai.request.model': 'gpt-4o',
          'gen_ai.response.model': 'gpt-4o-2024-08-06',
          'gen_ai.usage.input_tokens': 1200,
          'gen_ai.usage.output_tokens': 300,
          'gen_ai.usage.cache_read.input_tokens': 200,
          'gen_ai.usage.reasoning.output_tokens': 50,
          'gen_ai.response.time_to_first_chunk': 0.25,
          'gen_ai.input.messages': CONTENT,
          'gen_ai.output.messages': CONTENT,
          'observatory.tags': '{"team":"search","email":"jane@example.com"}',
          'observatory.provenance': '{"dataset":"v3"}',
          'observatory.client_id': 'client-9',
          'observatory.request_id': 'req-1',
          'observatory.consent': true,
        },
      }),
    ),
    under(
      server,
      makeSpan({
        attributes: {
          'llm.request.type': 'completion',
          'gen_ai.system': 'OpenAI',
          'gen_ai.request.model': 'gpt-3.5-turbo-instruct',
          'gen_ai.usage.prompt_tokens': '40',
          'gen_ai.usage.completion_tokens': 12,
          'gen_ai.usage.cache_read_input_tokens': 3,
          'gen_ai.prompt.0.content': CONTENT,
          'traceloop.association.properties.user_id': 'user-42',
          'traceloop.association.properties.session_id': 'sess-42',
        },
      }),
    ),
    makeSpan({
      name: 'OpenAI Chat Completions',
      kind: 1,
      status: { code: 1 },
      attributes: {
        'openinference.span.kind': 'LLM',
        'llm.provider': 'openai',
        'llm.model_name': 'gpt-4o-mini',
        'llm.response.model_name': 'gpt-4o-mini-2024-07-18',
        'llm.token_count.prompt': 100,
        'llm.token_count.completion': 20,
        'llm.token_count.prompt_details.cache_read': 10,
        'llm.token_count.completion_details.reasoning': 5,
        'llm.cost.total': 0.0012,
        'input.value': CONTENT,
        'output.value': CONTENT,
        'llm.input_messages.0.message.content': CONTENT,
        'session.id': 'sess-1',
        'metadata.ai.response.msToFirstChunk': 120,
      },
    }),
    makeSpan({
      name: 'OpenAI Embeddings',
      attributes: {
        'openinference.span.kind': 'EMBEDDING',
        'llm.system': 'openai',
        'embedding.model_name': 'text-embedding-3-small',
        'llm.token_count.prompt': 8,
      },
    }),
    ...['AGENT', 'TOOL', 'CHAIN', 'RETRIEVER', 'RERANKER', 'GUARDRAIL', 'EVALUATOR'].map((kind) =>
      makeSpan({
        name: `openinference ${kind}`,
        attributes: {
          'openinference.span.kind': kind,
          'agent.name': 'helper',
          'tool.name': 'lookup',
          'retrieval.documents.0.document.content': CONTENT,
        },
      }),
    ),
    makeSpan({
      name: 'ai.generateText.doGenerate',
      attributes: {
        'ai.operationId': 'ai.generateText.doGenerate',
        'ai.model.provider': 'openai.chat',
        'ai.model.id': 'gpt-4o',
        'ai.response.model': 'gpt-4o-2024-08-06',
        'ai.usage.promptTokens': 30,
        'ai.usage.completionTokens': 9,
        'ai.usage.inputTokenDetails.cacheReadTokens': 2,
        'ai.usage.reasoningTokens': 1,
        'ai.response.msToFirstChunk': 80.5,
        'ai.prompt.messages': CONTENT,
        'ai.telemetry.metadata.userId': 'user-7',
        'ai.telemetry.metadata.sessionId': 'sess-7',
      },
    }),
    makeSpan({
      name: 'ai.embed.doEmbed',
      attributes: {
        'ai.operationId': 'ai.embed.doEmbed',
        'ai.model.provider': 'openai.embedding',
        'ai.model.id': 'text-embedding-3-small',
        'ai.usage.tokens': 12,
      },
    }),
    makeSpan({
      name: 'ai.streamText',
      attributes: {
        'ai.operationId': 'ai.streamText',
        'ai.model.id': 'gpt-4o',
        'ai.usage.inputTokens': 30,
        'ai.usage.outputTokens': 9,
        'ai.usage.cachedInputTokens': 4,
        'ai.stream.msToFirstChunk': 50,
        'ai.telemetry.functionId': 'summarise',
        'ai.response.finishReason': 'stop',
      },
    }),
    makeSpan({
      name: 'ai.toolCall',
      attributes: {
        'ai.operationId': 'ai.toolCall',
        'ai.toolCall.name': 'weather',
        'ai.toolCall.id': 'call-1',
        'ai.toolCall.args': CONTENT,
      },
    }),
    ...['workflow', 'task', 'agent', 'tool'].map((kind) =>
      makeSpan({
        name: `traceloop ${kind}`,
        attributes: { 'traceloop.span.kind': kind, 'traceloop.entity.name': `${kind}-entity` },
      }),
    ),
    makeSpan({
      name: 'execute_tool search',
      attributes: {
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': 'search',
        'gen_ai.tool.type': 'function',
        'gen_ai.tool.call.id': 'call_1',
        'gen_ai.tool.description': 'web search',
        'gen_ai.tool.call.arguments': CONTENT,
        'gen_ai.data_source.id': 'index-1',
        'error.type': 'timeout',
      },
    }),
    makeSpan({ name: 'bare tool', attributes: { 'gen_ai.tool.name': 'calc' } }),
    makeSpan({
      status: { code: 2, message: 'Rate limit reached for jane@example.com' },
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.request.model': 'claude-sonnet-4',
        'gen_ai.provider.name': 'anthropic',
        'http.response.status_code': 429,
        'observatory.fallback.used': 'true',
        'observatory.fallback.reason': 'rate_limited',
        'observatory.fallback.model': 'gpt-4o-mini',
        'observatory.org_id': 'acme',
      },
      events: [
        {
          name: 'exception',
          attributes: { 'exception.type': 'RateLimitError', 'exception.message': 'slow down' },
        },
      ],
    }),
    makeSpan({
      status: { code: 2 },
      attributes: {
        'gen_ai.operation.name': 'embeddings',
        'gen_ai.request.model': 'in-house',
        'observatory.error.code': 'server_error',
        'http.status_code': 502,
        'observatory.cost.usd': 0.5,
        'observatory.compute_ms': 12.5,
        'observatory.ttft_ms': 33,
        'observatory.model.version': 'v7',
        'observatory.adapter_id': 'lora-1',
        'observatory.input.size_bytes': 1024,
        'observatory.output.size_bytes': 2048,
        'observatory.endpoint': 'infer',
        'gen_ai.usage.cost': 0.7,
      },
      events: [{ name: 'exception', attributes: { 'exception.message': 'worker crashed' } }],
      resource: { 'service.name': 'gpu-pool', 'observatory.org_id': 'beta', 'host.name': 'gpu-1' },
    }),
    makeSpan({ name: 'SELECT', kind: 3, attributes: { 'db.system': 'postgresql', 'db.statement': CONTENT } }),
  ];
}

/** The attributes of a span as OTLP KeyValues: integers as intValue, other numbers as doubleValue, … */
function keyValues(attrs: Attributes): object[] {
  const anyValue = (v: unknown): object => {
    if (v === null || v === undefined) return {};
    if (typeof v === 'string') return { stringValue: v };
    if (typeof v === 'boolean') return { boolValue: v };
    if (typeof v === 'bigint') return { intValue: v.toString() };
    if (typeof v === 'number') return Number.isInteger(v) ? { intValue: v } : { doubleValue: v };
    if (Array.isArray(v)) return { arrayValue: { values: v.map(anyValue) } };
    return { kvlistValue: { values: keyValues(v as Attributes) } };
  };
  return Object.entries(attrs).map(([key, value]) => ({ key, value: anyValue(value) }));
}

/** Spans as one OTLP/protobuf request, a ResourceSpans per span (each keeps its own resource). */
export function encodeSpans(spans: readonly SpanInput[]): Uint8Array {
  return ExportTraceServiceRequest.encode(
    ExportTraceServiceRequest.fromObject({
      resourceSpans: spans.map((s) => ({
        resource: { attributes: keyValues(s.resource) },
        scopeSpans: [
          {
            scope: { name: s.scopeName },
            spans: [
              {
                traceId: Buffer.from(s.traceId, 'hex'),
                spanId: Buffer.from(s.spanId, 'hex'),
                parentSpanId: s.parentSpanId ? Buffer.from(s.parentSpanId, 'hex') : undefined,
                name: s.name,
                kind: s.kind,
                startTimeUnixNano: s.startTimeUnixNano.toString(),
                endTimeUnixNano: s.endTimeUnixNano.toString(),
                attributes: keyValues(s.attributes),
                events: s.events.map((e) => ({ name: e.name, attributes: keyValues(e.attributes) })),
                status: s.status,
              },
            ],
          },
        ],
      })),
    }),
  ).finish();
}
