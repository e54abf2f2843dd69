import { createServer, type Server } from 'node:http';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { getLLMAttributes } from '@arizeai/openinference-core';
import { extractContent, fromReadableSpan } from '@observatory/exporter-postgres';
import { startTelemetry, type Telemetry } from '@observatory/instrumentation';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { generateText, stepCountIs, tool } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { args, EXPECTED_INPUT, EXPECTED_OUTPUT } from '../../exporter-postgres/test/conversation.ts';

/**
 * The content real instrumentations emit normalises to the same messages as every other convention
 * (`exporter-postgres/src/content/extract.test.ts` holds the same conversation written by hand for each).
 */
const sink = new InMemorySpanExporter();
let telemetry: Telemetry;
let server: Server;
let baseURL: string;

/** The OpenAI chat completions API for one tool-using turn: a tool call, then the answer. */
function startModelServer(): Promise<void> {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      const afterTool = (JSON.parse(body) as { messages: { role: string }[] }).messages.some(
        (m) => m.role === 'tool',
      );
      const message = afterTool
        ? { role: 'assistant', content: '18C and sunny.' }
        : {
            role: 'assistant',
            content: null,
            tool_calls: [
              { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: args } },
            ],
          };
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          id: 'chatcmpl-1',
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model: 'gpt-4o',
          choices: [{ index: 0, message, finish_reason: afterTool ? 'stop' : 'tool_calls' }],
          usage: { prompt_tokens: 50, completion_tokens: 10, total_tokens: 60 },
        }),
      );
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      baseURL = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`;
      resolve();
    }),
  );
}

beforeAll(async () => {
  telemetry = startTelemetry({ otlp: false, http: false, spanProcessors: [new SimpleSpanProcessor(sink)] });
  await startModelServer();
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  await telemetry.shutdown();
});

describe('content from real instrumentations', () => {
  it('Vercel AI SDK: the second provider call of a tool-using turn', async () => {
    const provider = createOpenAICompatible({ name: 'openai', baseURL, apiKey: 'test' });
    await generateText({
      model: provider.chatModel('gpt-4o'),
      system: 'You are terse.',
      prompt: 'Weather in Paris?',
      tools: {
        get_weather: tool({
          description: 'current weather of a city',
          inputSchema: z.object({ city: z.string() }),
          execute: async () => '18C, sunny',
        }),
      },
      stopWhen: stepCountIs(2),
      experimental_telemetry: { isEnabled: true },
    });
    await telemetry.forceFlush();
    const calls = sink
      .getFinishedSpans()
      .filter((s) => s.name === 'ai.generateText.doGenerate')
      .map(fromReadableSpan);
    expect(calls).toHaveLength(2);
    const content = extractContent(calls[1]!)!;
    expect(content.sources[0]).toBe('vercel');
    expect(content.input).toEqual(EXPECTED_INPUT);
    expect(content.output).toEqual(EXPECTED_OUTPUT);
    expect(JSON.parse(content.tool_definitions!.text)[0]).toMatchObject({ name: 'get_weather' });
    // The first call's answer is the tool call.
    expect(extractContent(calls[0]!)!.output).toEqual([EXPECTED_INPUT[2]]);
  });

  it('OpenInference: the attributes its instrumentations set for an LLM span', () => {
    const attributes = getLLMAttributes({
      provider: 'openai',
      modelName: 'gpt-4o',
      inputMessages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Weather in Paris?' },
        {
          role: 'assistant',
          toolCalls: [{ id: 'call_1', function: { name: 'get_weather', arguments: args } }],
        },
        { role: 'tool', content: '18C, sunny', toolCallId: 'call_1' },
      ],
      outputMessages: [{ role: 'assistant', content: '18C and sunny.' }],
    });
    const content = extractContent({
      attributes: { 'openinference.span.kind': 'LLM', ...attributes } as never,
      events: [],
    })!;
    expect(content.sources).toEqual(['openinference']);
    expect(content.input).toEqual(EXPECTED_INPUT);
    expect(content.output).toEqual(EXPECTED_OUTPUT);
  });
});
