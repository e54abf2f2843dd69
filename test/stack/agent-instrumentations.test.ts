import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import {
  getLLMAttributes,
  traceAgent as oiAgent,
  traceLLM as oiLlm,
  traceTool as oiTool,
  setSession,
  setUser,
} from '@arizeai/openinference-core';
import { fromReadableSpan, Ingest } from '@observatory/exporter-postgres';
import {
  runWithRequestContext,
  startTelemetry,
  type Telemetry,
  traceAgent,
  traceInference,
  traceTool,
} from '@observatory/instrumentation';
import { context } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { generateText, stepCountIs, tool } from 'ai';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createApp } from '../../query-api/src/app.ts';
import { createKey } from '../../query-api/src/keys/keys.ts';
import { createTestDatabase } from '../../test-support/database.ts';

/**
 * Trees built from what real instrumentations emit (issue 18): the Vercel AI SDK calling a tool against a local
 * stand-in for the OpenAI chat API, OpenInference's own tracing helpers, and Observatory's GenAI agent wrappers.
 * Their spans go through the ingest path into PostgreSQL and come back through the trace and session API.
 */
const db = await createTestDatabase();
const sink = new InMemorySpanExporter();
let telemetry: Telemetry;
let spillDir: string;
let ingest: Ingest;
let app: ReturnType<typeof createApp>;
let viewer: string;
let modelServer: Server;
let modelUrl: string;
const modelRequests: { messages: { role: string }[] }[] = [];

/** The OpenAI chat completions API, as far as a tool-using conversation needs: a tool call, then an answer. */
function startModelServer(): Promise<void> {
  modelServer = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const request = JSON.parse(body) as { messages: { role: string }[] };
      modelRequests.push(request);
      const afterTool = request.messages.some((m) => m.role === 'tool');
      const message = afterTool
        ? { role: 'assistant', content: 'Sunny, 21 °C in Paris.' }
        : {
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                id: 'call_1',
                type: 'function',
                function: { name: 'weather', arguments: '{"city":"Paris"}' },
              },
            ],
          };
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          id: `chatcmpl-${modelRequests.length}`,
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model: 'gpt-4o-2024-08-06',
          choices: [{ index: 0, message, finish_reason: afterTool ? 'stop' : 'tool_calls' }],
          usage: afterTool
            ? { prompt_tokens: 80, completion_tokens: 12, total_tokens: 92 }
            : { prompt_tokens: 50, completion_tokens: 10, total_tokens: 60 },
        }),
      );
    });
  });
  return new Promise((resolve) =>
    modelServer.listen(0, '127.0.0.1', () => {
      const address = modelServer.address() as { port: number };
      modelUrl = `http://127.0.0.1:${address.port}/v1`;
      resolve();
    }),
  );
}

beforeAll(async () => {
  telemetry = startTelemetry({ otlp: false, http: false, spanProcessors: [new SimpleSpanProcessor(sink)] });
  spillDir = await mkdtemp(join(tmpdir(), 'observatory-instrumentations-'));
  ingest = new Ingest({ pool: db.pool, spillDir, flushIntervalMs: 5 });
  await ingest.start();
  app = createApp({ pool: db.pool, logger: pino({ level: 'silent' }), ingest });
  viewer = (await createKey(db.pool, { orgId: 'acme', role: 'viewer' })).key;
  await startModelServer();
});

afterAll(async () => {
  await new Promise((r) => modelServer.close(r));
  await ingest.shutdown();
  await telemetry.shutdown();
  await rm(spillDir, { recursive: true, force: true });
});

beforeEach(() => sink.reset());

/** Stores what the instrumentations emitted as acme's, and returns the one trace id they share. */
async function store(): Promise<string> {
  await telemetry.forceFlush();
  const spans = sink.getFinishedSpans().map(fromReadableSpan);
  const traces = new Set(spans.map((s) => s.traceId));
  expect(traces.size).toBe(1);
  await ingest.spans(spans, 'acme');
  await ingest.flush();
  return [...traces][0]!;
}

type Row = Record<string, unknown>;
async function get(path: string): Promise<Row & { spans: Row[]; items: Row[] }> {
  const res = await app.request(path, { headers: { authorization: `Bearer ${viewer}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as Row & { spans: Row[]; items: Row[] };
}

/** The stored tree as [kind, depth, name] in the API's order, and the trace's row in the list. */
async function treeOf(traceId: string) {
  const tree = await get(`/api/telemetry/traces/${traceId}`);
  const listed = (await get('/api/telemetry/traces?limit=200')).items.find((t) => t.trace_id === traceId);
  const { rows } = await db.pool.query(
    'SELECT count(*)::int AS calls, sum(input_tokens)::int AS input FROM ai_events WHERE trace_id = $1',
    [traceId],
  );
  return { tree, listed, events: rows[0] as { calls: number; input: number } };
}

describe('trees from real instrumentations', () => {
  it('the Vercel AI SDK: generateText with a tool is a chain over two model calls and a tool call', async () => {
    const local = createOpenAICompatible({ name: 'openai', baseURL: modelUrl, apiKey: 'test-key' });
    const result = await generateText({
      model: local.chatModel('gpt-4o'),
      prompt: 'What is the weather in Paris?',
      tools: {
        weather: tool({
          description: 'The weather in a city',
          inputSchema: z.object({ city: z.string() }),
          execute: async ({ city }) => `Sunny, 21 °C in ${city}`,
        }),
      },
      stopWhen: stepCountIs(3),
      experimental_telemetry: {
        isEnabled: true,
        functionId: 'weather-assistant',
        metadata: { sessionId: 'conv-vercel', userId: 'u-vercel' },
      },
    });
    expect(result.text).toBe('Sunny, 21 °C in Paris.');
    expect(modelRequests).toHaveLength(2);

    const traceId = await store();
    const { tree, listed, events } = await treeOf(traceId);
    expect(tree.spans.map((s) => [s.kind, s.depth, s.name])).toEqual([
      ['chain', 0, 'ai.generateText'],
      ['model', 1, 'chat gpt-4o'],
      ['tool', 1, 'ai.toolCall'],
      ['model', 1, 'chat gpt-4o'],
    ]);
    expect(tree.spans[2]).toMatchObject({ tool_name: 'weather' });
    // Two provider calls, two model calls: the outer span's own usage (the sum of both) is never counted.
    expect(events).toEqual({ calls: 2, input: 130 });
    expect(tree.totals).toMatchObject({ model_calls: 2, input_tokens: 130, output_tokens: 22, spans: 4 });
    expect(listed).toMatchObject({
      root_name: 'ai.generateText',
      model_calls: 2,
      input_tokens: 130,
      spans: 4,
    });
    // The metadata's session and user reach every row, model calls included.
    expect(tree.spans.map((s) => [s.session_id, s.user_id])).toEqual(
      Array(4).fill(['conv-vercel', 'u-vercel']),
    );
    expect(await get('/api/telemetry/sessions/conv-vercel')).toMatchObject({
      traces: 1,
      model_calls: 2,
      users: 1,
    });
  });

  it("OpenInference's tracing helpers: an AGENT over a TOOL and an LLM span", async () => {
    const search = oiTool(async (query: string) => `3 documents about ${query}`, { name: 'search' });
    const llm = oiLlm(async (documents: string) => `Summary of ${documents}`, {
      name: 'OpenAI Chat Completions',
      processOutput: () =>
        getLLMAttributes({
          provider: 'openai',
          modelName: 'gpt-4o-mini',
          tokenCount: { prompt: 30, completion: 5, total: 35 },
        }),
    });
    const agent = oiAgent(async (question: string) => llm(await search(question)), { name: 'researcher' });
    const answer = await context.with(
      setSession(setUser(context.active(), { userId: 'u-oi' }), { sessionId: 'conv-oi' }),
      () => agent('tides'),
    );
    expect(answer).toBe('Summary of 3 documents about tides');

    const traceId = await store();
    const { tree, listed, events } = await treeOf(traceId);
    expect(tree.spans.map((s) => [s.kind, s.depth])).toEqual([
      ['agent', 0],
      ['tool', 1],
      ['model', 1],
    ]);
    expect(tree.spans[0]).toMatchObject({ name: 'researcher', session_id: 'conv-oi', user_id: 'u-oi' });
    expect(tree.spans[1]).toMatchObject({ name: 'search' });
    expect(tree.spans[2]).toMatchObject({
      model_name: 'gpt-4o-mini',
      input_tokens: 30,
      session_id: 'conv-oi',
    });
    expect(events).toEqual({ calls: 1, input: 30 });
    expect(listed).toMatchObject({ root_name: 'researcher', model_calls: 1, spans: 3 });
  });

  it("Observatory's GenAI wrappers: invoke_agent over a model call and execute_tool over another", async () => {
    await runWithRequestContext({ requestId: 'req-genai', userId: 'u-genai', sessionId: 'conv-genai' }, () =>
      traceAgent({ name: 'planner' }, async () => {
        await traceInference({ operation: 'chat', model: 'gpt-4o-mini', provider: 'openai' }, (call) =>
          call.recordUsage({ inputTokens: 40, outputTokens: 8 }),
        );
        // Siblings are ordered by start (milliseconds): the tool starts after the first call, as real work would.
        await new Promise((r) => setTimeout(r, 5));
        await traceTool({ name: 'lookup', type: 'function', callId: 'call_9' }, () =>
          traceInference(
            { operation: 'embeddings', model: 'text-embedding-3-small', provider: 'openai' },
            (call) => call.recordUsage({ inputTokens: 12 }),
          ),
        );
      }),
    );

    const traceId = await store();
    const { tree, listed, events } = await treeOf(traceId);
    expect(tree.spans.map((s) => [s.kind, s.depth, s.name])).toEqual([
      ['agent', 0, 'invoke_agent planner'],
      ['model', 1, 'chat gpt-4o-mini'],
      ['tool', 1, 'execute_tool lookup'],
      ['model', 2, 'embeddings text-embedding-3-small'],
    ]);
    expect(tree.spans[2]).toMatchObject({ tool_name: 'lookup' });
    expect(events).toEqual({ calls: 2, input: 52 });
    expect(listed).toMatchObject({ root_name: 'invoke_agent planner', model_calls: 2, input_tokens: 52 });
    expect(await get('/api/telemetry/sessions/conv-genai')).toMatchObject({ traces: 1, model_calls: 2 });
  });
});
