import { describe, expect, it } from 'vitest';
import { makeSpan } from '../../test/make-span.ts';
import { ObservatoryAttributes as Obs } from '../attributes.ts';
import { loadPriceTable } from '../cost/price-table.ts';
import { type AiEvent, AiEventSchema } from '../event.ts';
import type { Attributes } from '../span.ts';
import { mapSpan, mapSpans } from './map-span.ts';

const options = {
  defaultOrgId: 'default',
  prices: loadPriceTable(),
  receivedAt: new Date('2026-11-01T12:00:05Z'),
  pseudonymKey: 'test-pseudonym-key',
};

function map(attributes: Attributes, extra: Parameters<typeof makeSpan>[0] = {}): AiEvent {
  const event = mapSpan(makeSpan({ attributes, ...extra }), options);
  expect(event).toBeDefined();
  expect(() => AiEventSchema.parse(event)).not.toThrow();
  return event!;
}

const CONTENT = 'Patient Jane Roe, DOB 1970-01-01, complains of chest pain';

describe('mapSpan: conventions', () => {
  it('reads OTel GenAI semantic conventions (current names)', () => {
    const e = map({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.response.model': 'gpt-4o-2024-08-06',
      'gen_ai.usage.input_tokens': 1200,
      'gen_ai.usage.output_tokens': 300,
      'gen_ai.usage.cache_read.input_tokens': 200,
      'gen_ai.usage.reasoning.output_tokens': 50,
      'gen_ai.input.messages': CONTENT,
      'gen_ai.output.messages': CONTENT,
    });
    expect(e).toMatchObject({
      operation: 'chat',
      provider: 'openai',
      model_name: 'gpt-4o',
      model_version: 'gpt-4o-2024-08-06',
      input_tokens: 1200,
      output_tokens: 300,
      cached_input_tokens: 200,
      reasoning_tokens: 50,
      latency_ms: 1500,
      success: true,
      service_name: 'inference-api',
      trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
      fallback_used: false,
    });
    // 1000 uncached × $2.50 + 200 cached × $1.25 + 300 × $10 per million; reasoning is inside output already.
    expect(e.cost_usd).toBe('0.00575');
    expect(e.cost_source).toBe('catalog');
  });

  it('reads the older GenAI and OpenLLMetry names', () => {
    const e = map({
      'llm.request.type': 'chat',
      'gen_ai.system': 'OpenAI',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.usage.prompt_tokens': 100,
      'gen_ai.usage.completion_tokens': 20,
      'gen_ai.prompt.0.content': CONTENT,
      'gen_ai.completion.0.content': CONTENT,
      'traceloop.association.properties.user_id': 'u-42',
    });
    expect(e).toMatchObject({
      operation: 'chat',
      provider: 'openai',
      model_name: 'gpt-4o-mini',
      input_tokens: 100,
      output_tokens: 20,
      user_id: 'u-42',
    });
  });

  it('reads OpenInference LLM and embedding spans and ignores its chains, tools and agents', () => {
    const e = map(
      {
        'openinference.span.kind': 'LLM',
        'llm.provider': 'anthropic',
        'llm.model_name': 'claude-3-5-sonnet-20241022',
        'llm.token_count.prompt': 500,
        'llm.token_count.completion': 100,
        'llm.cost.total': 0.0123,
        'input.value': CONTENT,
        'output.value': CONTENT,
        'llm.input_messages.0.message.content': CONTENT,
        'user.id': 'u-7',
      },
      { name: 'ChatAnthropic', kind: 1, status: { code: 1 } },
    );
    expect(e).toMatchObject({
      operation: 'chat',
      provider: 'anthropic',
      model_name: 'claude-3-5-sonnet-20241022',
      cost_usd: '0.0123',
      cost_source: 'provided',
      success: true,
      user_id: 'u-7',
    });
    expect(
      map({ 'openinference.span.kind': 'EMBEDDING', 'embedding.model_name': 'text-embedding-3-small' })
        .operation,
    ).toBe('embeddings');
    for (const kind of ['CHAIN', 'TOOL', 'AGENT', 'RETRIEVER']) {
      expect(
        mapSpan(
          makeSpan({ attributes: { 'openinference.span.kind': kind, 'llm.model_name': 'gpt-4o' } }),
          options,
        ),
      ).toBeUndefined();
    }
  });

  it('counts a Vercel AI SDK call once, at the inner provider span', () => {
    const outer = makeSpan({
      name: 'ai.generateText',
      kind: 1,
      attributes: {
        'ai.operationId': 'ai.generateText',
        'ai.model.id': 'gpt-4o',
        'ai.usage.promptTokens': 10,
        'ai.prompt': CONTENT,
      },
    });
    const inner = makeSpan({
      name: 'ai.generateText.doGenerate',
      kind: 1,
      parentSpanId: outer.spanId,
      attributes: {
        'ai.operationId': 'ai.generateText.doGenerate',
        'ai.model.provider': 'openai.chat',
        'ai.model.id': 'gpt-4o',
        'gen_ai.system': 'openai.chat',
        'gen_ai.request.model': 'gpt-4o',
        'ai.usage.promptTokens': 10,
        'ai.usage.completionTokens': 5,
        'ai.response.text': CONTENT,
        'ai.telemetry.metadata.userId': 'u-1',
      },
    });
    const events = mapSpans([outer, inner], options);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      provider: 'openai',
      model_name: 'gpt-4o',
      input_tokens: 10,
      output_tokens: 5,
      user_id: 'u-1',
    });
  });

  it('counts a wrapper around an instrumented client call once, keeping the outer span and the inner usage', () => {
    const outer = makeSpan({
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.request.model': 'gpt-4o',
        [Obs.ENDPOINT]: 'analyze',
      },
    });
    const inner = makeSpan({
      parentSpanId: outer.spanId,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.usage.input_tokens': 40,
        'gen_ai.usage.output_tokens': 2,
      },
    });
    const innermost = makeSpan({
      parentSpanId: inner.spanId,
      attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o' },
    });
    for (const order of [
      [outer, inner, innermost],
      [innermost, inner, outer],
    ]) {
      const events = mapSpans(order, options);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({
        endpoint: 'analyze',
        input_tokens: 40,
        output_tokens: 2,
        cost_source: 'catalog',
      });
    }
  });

  it('counts each model call under an agent once, and never an agent, tool or workflow span', () => {
    const http = makeSpan({ name: 'POST /plan', kind: 2, attributes: { 'http.route': '/plan' } });
    const agent = makeSpan({
      name: 'invoke_agent planner',
      parentSpanId: http.spanId,
      attributes: {
        'gen_ai.operation.name': 'invoke_agent',
        'gen_ai.agent.name': 'planner',
        'gen_ai.request.model': 'gpt-4o',
        // Some frameworks repeat the sum of their children's usage on the agent span.
        'gen_ai.usage.input_tokens': 300,
        'gen_ai.usage.output_tokens': 30,
      },
    });
    const tool = makeSpan({
      name: 'execute_tool search',
      parentSpanId: agent.spanId,
      attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'search' },
    });
    const chat = (parentSpanId: string, input: number, output: number) =>
      makeSpan({
        parentSpanId,
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.request.model': 'gpt-4o',
          'gen_ai.usage.input_tokens': input,
          'gen_ai.usage.output_tokens': output,
        },
      });
    const first = chat(agent.spanId, 100, 10);
    const second = chat(agent.spanId, 200, 20);
    const underTool = chat(tool.spanId, 7, 3);
    const others = [
      makeSpan({ attributes: { 'gen_ai.operation.name': 'create_agent', 'gen_ai.agent.name': 'planner' } }),
      makeSpan({ attributes: { 'traceloop.span.kind': 'workflow', 'gen_ai.system': 'openai' } }),
      makeSpan({ attributes: { 'traceloop.span.kind': 'agent', 'gen_ai.request.model': 'gpt-4o' } }),
    ];
    for (const order of [
      [http, agent, tool, first, second, underTool, ...others],
      [underTool, second, first, tool, agent, http, ...others].reverse(),
    ]) {
      const events = mapSpans(order, options);
      expect(events.map((e) => [e.span_id, e.input_tokens, e.output_tokens]).sort()).toEqual(
        [
          [first.spanId, 100, 10],
          [second.spanId, 200, 20],
          [underTool.spanId, 7, 3],
        ].sort(),
      );
      // $2.50 and $10 per million input and output tokens, each call priced on its own usage.
      expect(events.map((e) => Number(e.cost_usd)).reduce((a, b) => a + b, 0)).toBeCloseTo(
        (307 * 2.5 + 33 * 10) / 1e6,
        12,
      );
    }
    for (const span of [agent, tool, ...others]) expect(mapSpan(span, options)).toBeUndefined();
  });

  it('produces nothing for plain HTTP or database spans', () => {
    expect(
      mapSpan(
        makeSpan({
          name: 'GET /health',
          kind: 2,
          attributes: { 'http.request.method': 'GET', 'http.response.status_code': 200 },
        }),
        options,
      ),
    ).toBeUndefined();
    expect(
      mapSpan(
        makeSpan({ name: 'SELECT', attributes: { 'db.system': 'postgresql', 'db.statement': 'SELECT 1' } }),
        options,
      ),
    ).toBeUndefined();
  });
});

describe('mapSpan: time to first token', () => {
  const genai = { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o' };
  const vercel = { 'ai.operationId': 'ai.streamText.doStream', 'ai.model.id': 'gpt-4o' };

  it("reads each convention's attribute in its own unit", () => {
    // GenAI semantic conventions: seconds.
    expect(map({ ...genai, 'gen_ai.response.time_to_first_chunk': 0.25 }).ttft_ms).toBe(250);
    // Our own wrapper: milliseconds, and it wins over the GenAI attribute it sets beside it.
    expect(
      map({ ...genai, [Obs.TTFT_MS]: 251.5, 'gen_ai.response.time_to_first_chunk': 0.2515 }).ttft_ms,
    ).toBe(251.5);
    // Vercel AI SDK: milliseconds, current and older name (streamText sets both, streamObject the older only).
    expect(
      map({ ...vercel, 'ai.response.msToFirstChunk': 412, 'ai.stream.msToFirstChunk': 412 }).ttft_ms,
    ).toBe(412);
    expect(
      map({
        'ai.operationId': 'ai.streamObject.doStream',
        'ai.model.id': 'gpt-4o',
        'ai.stream.msToFirstChunk': 90,
      }).ttft_ms,
    ).toBe(90);
    // OpenInference's Vercel span processor keeps the AI SDK's milliseconds under metadata.
    expect(
      map({
        'openinference.span.kind': 'LLM',
        'llm.model_name': 'gpt-4o',
        'metadata.ai.response.msToFirstChunk': 77,
      }).ttft_ms,
    ).toBe(77);
    // OTLP/JSON may carry a double as a string.
    expect(map({ ...genai, 'gen_ai.response.time_to_first_chunk': '1.5' }).ttft_ms).toBe(1500);
  });

  it('is null for a call that did not stream, and for negative, day-long or non-numeric values', () => {
    expect(map(genai).ttft_ms).toBeNull();
    expect(map({ ...genai, 'gen_ai.response.time_to_first_chunk': -0.1 }).ttft_ms).toBeNull();
    expect(map({ ...genai, 'gen_ai.response.time_to_first_chunk': 86_401 }).ttft_ms).toBeNull();
    expect(map({ ...genai, [Obs.TTFT_MS]: 'soon' }).ttft_ms).toBeNull();
    expect(map({ ...vercel, 'ai.response.msToFirstChunk': Number.POSITIVE_INFINITY }).ttft_ms).toBeNull();
    // An implausible value does not hide a plausible one from another attribute.
    expect(map({ ...genai, [Obs.TTFT_MS]: -5, 'gen_ai.response.time_to_first_chunk': 0.3 }).ttft_ms).toBe(
      300,
    );
  });

  it("gives a wrapper the inner call's first token, measured from the wrapper's start", () => {
    const outer = makeSpan({ attributes: genai });
    const inner = makeSpan({
      parentSpanId: outer.spanId,
      // makeSpan starts each span 1 ms after the previous one.
      attributes: { ...genai, 'gen_ai.response.time_to_first_chunk': 0.2 },
    });
    const [event] = mapSpans([outer, inner], options);
    expect(event!.span_id).toBe(outer.spanId);
    expect(event!.ttft_ms).toBe(201);

    const measured = makeSpan({ attributes: { ...genai, [Obs.TTFT_MS]: 150 } });
    const child = makeSpan({
      parentSpanId: measured.spanId,
      attributes: { ...genai, 'gen_ai.response.time_to_first_chunk': 0.4 },
    });
    expect(mapSpans([measured, child], options)[0]!.ttft_ms).toBe(150);
  });
});

describe('mapSpan: our attributes, errors and privacy', () => {
  it('reads fallback, org, request, endpoint, consent, provenance and tags', () => {
    const e = map({
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'gpt-4o-mini',
      [Obs.ORG_ID]: 'acme',
      [Obs.CLIENT_ID]: 'mobile',
      [Obs.REQUEST_ID]: 'req-1',
      [Obs.ENDPOINT]: 'infer',
      [Obs.ADAPTER_ID]: 'lora-7',
      [Obs.FALLBACK_USED]: true,
      [Obs.FALLBACK_REASON]: 'timeout',
      [Obs.FALLBACK_MODEL]: 'gpt-4o-mini',
      [Obs.CONSENT]: true,
      [Obs.PROVENANCE_JSON]: JSON.stringify({ dataset: 'v2', contact: 'owner@example.com' }),
      [Obs.TAGS_JSON]: JSON.stringify({ team: 'search' }),
      [Obs.INPUT_SIZE_BYTES]: 2048,
    });
    expect(e).toMatchObject({
      org_id: 'acme',
      client_id: 'mobile',
      request_id: 'req-1',
      endpoint: 'infer',
      adapter_id: 'lora-7',
      fallback_used: true,
      fallback_reason: 'timeout',
      fallback_model: 'gpt-4o-mini',
      consent: true,
      provenance: { dataset: 'v2', contact: '[email]' },
      tags: { team: 'search' },
      input_size_bytes: 2048,
    });
  });

  it('lets the ingest key org win over the org the span claims', () => {
    const event = mapSpan(
      makeSpan({ attributes: { 'gen_ai.request.model': 'gpt-4o', [Obs.ORG_ID]: 'victim' } }),
      { ...options, orgId: 'acme' },
    );
    expect(event?.org_id).toBe('acme');
  });

  it('records errors with a normalised code and a scrubbed, truncated message', () => {
    const message = `429 for jane.doe@example.com from 10.1.2.3 with key sk-abcdefghijklmnop1234 card 4111 1111 1111 1111 phone +1 415 555 0100 ${'x'.repeat(2000)}`;
    const e = map(
      { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o', 'error.type': 'RateLimitError' },
      { status: { code: 2, message } },
    );
    expect(e.success).toBe(false);
    expect(e.error_code).toBe('rate_limited');
    expect(e.error_message!.length).toBeLessThanOrEqual(1000);
    for (const secret of [
      'jane.doe@example.com',
      '10.1.2.3',
      'sk-abcdefghijklmnop1234',
      '4111 1111 1111 1111',
      '415 555 0100',
    ]) {
      expect(e.error_message).not.toContain(secret);
    }
    expect(e.error_message).toContain('[email]');
  });

  it('takes the message from an exception event when the status has none', () => {
    const e = map(
      { 'gen_ai.request.model': 'gpt-4o' },
      {
        status: { code: 2 },
        events: [
          {
            name: 'exception',
            attributes: { 'exception.type': 'TimeoutError', 'exception.message': 'timed out after 30s' },
          },
        ],
      },
    );
    expect(e).toMatchObject({ success: false, error_code: 'timeout', error_message: 'timed out after 30s' });
  });

  it('never lets prompt or completion content reach the event', () => {
    const secret = 'PROMPT-CONTENT-7d1f';
    const content: Attributes = {
      'gen_ai.input.messages': secret,
      'gen_ai.output.messages': secret,
      'gen_ai.prompt.0.content': secret,
      'gen_ai.completion.0.content': secret,
      'input.value': secret,
      'output.value': secret,
      'llm.input_messages.0.message.content': secret,
      'llm.output_messages.0.message.content': secret,
      'ai.prompt': secret,
      'ai.prompt.messages': secret,
      'ai.response.text': secret,
    };
    for (const base of [
      { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o' },
      { 'openinference.span.kind': 'LLM', 'llm.model_name': 'gpt-4o' },
      { 'ai.operationId': 'ai.generateText.doGenerate', 'ai.model.id': 'gpt-4o' },
    ]) {
      expect(JSON.stringify(map({ ...base, ...content }))).not.toContain(secret);
    }
  });

  it('gives the same id to the same span every time, and ids that sort by start time', () => {
    const span = makeSpan({ attributes: { 'gen_ai.request.model': 'gpt-4o' } });
    const later = makeSpan({ attributes: { 'gen_ai.request.model': 'gpt-4o' } });
    expect(mapSpan(span, options)!.id).toBe(mapSpan({ ...span }, options)!.id);
    expect(mapSpan(span, options)!.id < mapSpan(later, options)!.id).toBe(true);
  });
});

describe('cost', () => {
  it('is unpriced, never $0, for a model without a price', () => {
    const e = map({ 'gen_ai.request.model': 'in-house-classifier-v3', 'gen_ai.usage.input_tokens': 10 });
    expect(e).toMatchObject({ cost_usd: null, cost_source: 'unpriced' });
  });

  it("prices a Bedrock id by the span's provider", () => {
    const e = map({
      'gen_ai.provider.name': 'aws.bedrock',
      'gen_ai.request.model': 'us.anthropic.claude-3-5-sonnet-20240620-v1:0',
      'gen_ai.usage.input_tokens': 1_000_000,
    });
    expect(e).toMatchObject({ cost_usd: '3', cost_source: 'catalog' });
  });

  it('prices by the requested model when the response names a model no price source knows', () => {
    const e = map({
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.response.model': 'gpt-4o-mini-canary',
      'gen_ai.usage.input_tokens': 1_000_000,
    });
    expect(e).toMatchObject({ cost_usd: '0.15', cost_source: 'catalog' });
  });

  it('matches dated versions and a provided cost wins', () => {
    expect(
      map({ 'gen_ai.request.model': 'gpt-4o-2024-08-06', 'gen_ai.usage.input_tokens': 1_000_000 }).cost_usd,
    ).toBe('2.5');
    expect(
      map({ 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': 1_000_000, [Obs.COST_USD]: 0.5 }),
    ).toMatchObject({ cost_usd: '0.5', cost_source: 'provided' });
  });
});
