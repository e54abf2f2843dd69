import { describe, expect, it } from 'vitest';
import { args, EXPECTED_INPUT, EXPECTED_OUTPUT, text } from '../../test/conversation.ts';
import type { Attributes, SpanInput } from '../span.ts';
import { anyTruncated, extractContent } from './extract.ts';
import { MAX_CONTENT_FIELD_BYTES } from './schema.ts';

const span = (attributes: Attributes, events: SpanInput['events'] = []) => ({ attributes, events });
// Each as the real instrumentation writes it (attribute names and value encodings from their sources and from spans
// they emitted, see /work/shared/reference/ai-span-conventions.md).
const CONVENTIONS: Record<string, Attributes> = {
  genai: {
    'gen_ai.operation.name': 'chat',
    'gen_ai.system_instructions': JSON.stringify([{ type: 'text', content: 'You are terse.' }]),
    'gen_ai.input.messages': JSON.stringify([
      { role: 'user', parts: [{ type: 'text', content: 'Weather in Paris?' }] },
      {
        role: 'assistant',
        parts: [{ type: 'tool_call', id: 'call_1', name: 'get_weather', arguments: { city: 'Paris' } }],
      },
      { role: 'tool', parts: [{ type: 'tool_call_response', id: 'call_1', response: '18C, sunny' }] },
    ]),
    'gen_ai.output.messages': JSON.stringify([
      { role: 'assistant', parts: [{ type: 'text', content: '18C and sunny.' }], finish_reason: 'stop' },
    ]),
  },
  openllmetry: {
    'gen_ai.prompt.0.role': 'system',
    'gen_ai.prompt.0.content': 'You are terse.',
    'gen_ai.prompt.1.role': 'user',
    'gen_ai.prompt.1.content': 'Weather in Paris?',
    'gen_ai.prompt.2.role': 'assistant',
    'gen_ai.prompt.2.tool_calls.0.id': 'call_1',
    'gen_ai.prompt.2.tool_calls.0.name': 'get_weather',
    'gen_ai.prompt.2.tool_calls.0.arguments': args,
    'gen_ai.prompt.3.role': 'tool',
    'gen_ai.prompt.3.content': '18C, sunny',
    'gen_ai.prompt.3.tool_call_id': 'call_1',
    'gen_ai.completion.0.role': 'assistant',
    'gen_ai.completion.0.content': '18C and sunny.',
    'gen_ai.completion.0.finish_reason': 'stop',
  },
  openinference: {
    'openinference.span.kind': 'LLM',
    'input.value': '{"messages":"the raw request"}',
    'input.mime_type': 'application/json',
    'llm.input_messages.0.message.role': 'system',
    'llm.input_messages.0.message.content': 'You are terse.',
    'llm.input_messages.1.message.role': 'user',
    'llm.input_messages.1.message.content': 'Weather in Paris?',
    'llm.input_messages.2.message.role': 'assistant',
    'llm.input_messages.2.message.tool_calls.0.tool_call.id': 'call_1',
    'llm.input_messages.2.message.tool_calls.0.tool_call.function.name': 'get_weather',
    'llm.input_messages.2.message.tool_calls.0.tool_call.function.arguments': args,
    'llm.input_messages.3.message.role': 'tool',
    'llm.input_messages.3.message.content': '18C, sunny',
    'llm.input_messages.3.message.tool_call_id': 'call_1',
    'llm.output_messages.0.message.role': 'assistant',
    'llm.output_messages.0.message.content': '18C and sunny.',
    'output.value': '{"choices":"the raw response"}',
  },
  vercel: {
    'ai.operationId': 'ai.generateText.doGenerate',
    'ai.prompt.messages': JSON.stringify([
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'tool-call', toolCallId: 'call_1', toolName: 'get_weather', input: { city: 'Paris' } },
        ],
      },
      {
        role: 'tool',
        content: [
          {
            type: 'tool-result',
            toolCallId: 'call_1',
            toolName: 'get_weather',
            output: { type: 'text', value: '18C, sunny' },
          },
        ],
      },
    ]),
    'ai.response.text': '18C and sunny.',
  },
};

describe('extractContent', () => {
  it.each(Object.entries(CONVENTIONS))(
    'normalises %s content to the one message shape',
    (name, attributes) => {
      const content = extractContent(span(attributes))!;
      expect(content.sources).toEqual([name]);
      expect(content.input).toEqual(EXPECTED_INPUT);
      expect(content.output).toEqual(EXPECTED_OUTPUT);
    },
  );

  it('reads the deprecated gen_ai.prompt/gen_ai.completion span events and per-message events', () => {
    const fromEvents = extractContent(
      span({ 'gen_ai.operation.name': 'chat' }, [
        { name: 'gen_ai.content.prompt', attributes: { 'gen_ai.prompt': 'Weather in Paris?' } },
        { name: 'gen_ai.content.completion', attributes: { 'gen_ai.completion': '18C and sunny.' } },
      ]),
    )!;
    expect(fromEvents.sources).toEqual(['genai_deprecated']);
    expect(fromEvents.input).toEqual([EXPECTED_INPUT[1]]);
    expect(fromEvents.output).toEqual(EXPECTED_OUTPUT);

    const perMessage = extractContent(
      span({ 'gen_ai.operation.name': 'chat' }, [
        { name: 'gen_ai.system.message', attributes: { content: 'You are terse.' } },
        { name: 'gen_ai.user.message', attributes: { content: 'Weather in Paris?' } },
        {
          name: 'gen_ai.choice',
          attributes: {
            index: 0,
            finish_reason: 'stop',
            message: JSON.stringify({ content: '18C and sunny.' }),
          },
        },
      ]),
    )!;
    expect(perMessage.input).toEqual(EXPECTED_INPUT.slice(0, 2));
    expect(perMessage.output).toEqual(EXPECTED_OUTPUT);
  });

  it('takes OpenInference input.value/output.value when there are no structured messages', () => {
    const content = extractContent(
      span({
        'openinference.span.kind': 'LLM',
        'input.value': 'Weather in Paris?',
        'output.value': '18C and sunny.',
      }),
    )!;
    expect(content.input).toEqual([EXPECTED_INPUT[1]]);
    expect(content.output).toEqual(EXPECTED_OUTPUT);
  });

  it('reads the AI SDK tool calls of a response and the outer span’s ai.prompt', () => {
    const content = extractContent(
      span({
        'ai.prompt': JSON.stringify({ system: 'You are terse.', prompt: 'Weather in Paris?' }),
        'ai.response.toolCalls': JSON.stringify([
          { toolCallType: 'function', toolCallId: 'call_1', toolName: 'get_weather', args },
        ]),
      }),
    )!;
    expect(content.input).toEqual(EXPECTED_INPUT.slice(0, 2));
    expect(content.output).toEqual([EXPECTED_INPUT[2]]);
  });

  it('scrubs personal data and secrets before anything is kept', () => {
    const content = extractContent(
      span({
        'gen_ai.input.messages': JSON.stringify([
          {
            role: 'user',
            parts: [{ type: 'text', content: 'Mail jane.doe@example.com, card 4111 1111 1111 1111' }],
          },
        ]),
      }),
    )!;
    const kept = JSON.stringify(content);
    expect(kept).not.toContain('jane.doe@example.com');
    expect(kept).not.toContain('4111 1111 1111 1111');
  });

  it('caps each field at 64 KiB and marks it truncated', () => {
    const long = 'word '.repeat(20_000);
    const content = extractContent(
      span({ 'gen_ai.input.messages': JSON.stringify([{ role: 'user', parts: [long] }]) }),
    )!;
    const part = content.input[0]!.content[0]!;
    expect(part.type === 'text' && part.truncated).toBe(true);
    expect(part.type === 'text' && Buffer.byteLength(part.text)).toBeLessThanOrEqual(MAX_CONTENT_FIELD_BYTES);
    expect(anyTruncated(content)).toBe(true);
    const multibyte = extractContent(span({ 'output.value': 'é'.repeat(40_000) }))!.output[0]!.content[0]!;
    expect(multibyte.type === 'text' && Buffer.byteLength(multibyte.text)).toBeLessThanOrEqual(
      MAX_CONTENT_FIELD_BYTES,
    );
    expect(multibyte.type === 'text' && multibyte.truncated).toBe(true);
    expect(anyTruncated(extractContent(span(CONVENTIONS.genai!))!)).toBe(false);
  });

  it('keeps rationale and confidence, and only a confidence between 0 and 1', () => {
    const content = extractContent(
      span({ 'observatory.decision.rationale': 'refund under $50', 'observatory.decision.confidence': 0.82 }),
    )!;
    expect(content.rationale).toEqual({ text: 'refund under $50', truncated: false });
    expect(content.confidence).toBe(0.82);
    expect(extractContent(span({ 'observatory.decision.confidence': 7 }))).toBeUndefined();
  });

  it('keeps only the kind of image parts, never their data', () => {
    const content = extractContent(
      span({
        'gen_ai.input.messages': JSON.stringify([
          {
            role: 'user',
            parts: [
              { type: 'blob', modality: 'image', content: 'aGVsbG8gaW1hZ2U=' },
              { type: 'text', content: 'What is it?' },
            ],
          },
        ]),
      }),
    )!;
    expect(content.input[0]!.content).toEqual([{ type: 'media', kind: 'blob' }, text('What is it?')]);
  });

  it('is undefined for a span without content', () => {
    expect(
      extractContent(span({ 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o' })),
    ).toBeUndefined();
  });
});
