import type { Attributes, AttributeValue, SpanInput } from '../span.ts';
import { asText, capped, messageOf, messagesOf, parsedJson, textMessage, toolCall } from './normalise.ts';
import type { CappedText, ContentConvention, Message } from './schema.ts';

/** What one convention says of a call's content; absent fields say nothing (another convention may). */
export interface ConventionContent {
  input?: Message[];
  output?: Message[];
  toolDefinitions?: CappedText;
}

type Reader = (attrs: Attributes, events: SpanInput['events']) => ConventionContent;

const nonEmpty = (messages: Message[]) => (messages.length > 0 ? messages : undefined);

/**
 * Flattened indexed attributes (`<prefix>.<n>.<rest>`) grouped by `n`, in index order, each as `rest` → value.
 * OpenLLMetry and OpenInference flatten message lists this way.
 */
export function indexed(attrs: Attributes, prefix: string): Record<string, AttributeValue | undefined>[] {
  const groups = new Map<number, Record<string, AttributeValue | undefined>>();
  const start = `${prefix}.`;
  for (const key of Object.keys(attrs)) {
    if (!key.startsWith(start)) continue;
    const dot = key.indexOf('.', start.length);
    const n = Number(key.slice(start.length, dot === -1 ? undefined : dot));
    if (dot === -1 || !Number.isInteger(n) || n < 0) continue;
    const group = groups.get(n) ?? {};
    groups.set(n, group);
    group[key.slice(dot + 1)] = attrs[key];
  }
  return [...groups.entries()].sort(([a], [b]) => a - b).map(([, group]) => group);
}

/** OTel GenAI (current): `gen_ai.system_instructions`, `gen_ai.input.messages`, `gen_ai.output.messages`. */
const genai: Reader = (attrs) => {
  const system = parsedJson(attrs['gen_ai.system_instructions']);
  const instructions =
    system === undefined
      ? []
      : [messageOf({ role: 'system', parts: Array.isArray(system) ? system : [system] })!];
  const input = parsedJson(attrs['gen_ai.input.messages']);
  const output = parsedJson(attrs['gen_ai.output.messages']);
  const tools = attrs['gen_ai.tool.definitions'];
  return {
    input: nonEmpty([...instructions, ...(input === undefined ? [] : messagesOf(input, 'user'))]),
    output: output === undefined ? undefined : nonEmpty(messagesOf(output, 'assistant')),
    toolDefinitions: tools === undefined ? undefined : capped(asText(tools)),
  };
};

const DEPRECATED_EVENT_ROLES: Record<string, Message['role']> = {
  'gen_ai.system.message': 'system',
  'gen_ai.user.message': 'user',
  'gen_ai.assistant.message': 'assistant',
  'gen_ai.tool.message': 'tool',
};

/**
 * OTel GenAI (deprecated): `gen_ai.prompt`/`gen_ai.completion` as attributes or on the `gen_ai.content.prompt`/
 * `gen_ai.content.completion` span events, and the per-message events (`gen_ai.user.message`, `gen_ai.choice`, …).
 */
const genaiDeprecated: Reader = (attrs, events) => {
  const eventValue = (name: string, key: string) => events.find((e) => e.name === name)?.attributes[key];
  const prompt = attrs['gen_ai.prompt'] ?? eventValue('gen_ai.content.prompt', 'gen_ai.prompt');
  const completion =
    attrs['gen_ai.completion'] ?? eventValue('gen_ai.content.completion', 'gen_ai.completion');
  const asMessages = (value: AttributeValue | undefined, role: Message['role']) =>
    value === undefined ? [] : messagesOf(parsedJson(value) ?? value, role);
  const input = asMessages(prompt, 'user');
  const output = asMessages(completion, 'assistant');
  for (const event of events) {
    const role = DEPRECATED_EVENT_ROLES[event.name];
    if (role) {
      const m = messageOf({ ...eventBody(event.attributes), role }, role);
      if (m) input.push(m);
    } else if (event.name === 'gen_ai.choice') {
      const body = eventBody(event.attributes);
      const m = messageOf({ role: 'assistant', ...(body.message as object) }, 'assistant');
      if (m) output.push(m);
    }
  }
  return { input: nonEmpty(input), output: nonEmpty(output) };
};

/** An event's body: its attributes, with JSON-text `message`, `tool_calls` and `content` parsed. */
function eventBody(attributes: Attributes): Record<string, unknown> {
  const body: Record<string, unknown> = { ...attributes };
  for (const key of ['message', 'tool_calls']) {
    if (typeof body[key] === 'string') body[key] = parsedJson(body[key] as string) ?? body[key];
  }
  return body;
}

/** A flattened message's content: plain text, or (multimodal) JSON text of a part list. */
function flattenedContent(value: AttributeValue | undefined): unknown {
  if (typeof value !== 'string') return value;
  const parsed = value.startsWith('[') ? parsedJson(value) : undefined;
  return Array.isArray(parsed) ? parsed : value;
}

function flattenedCalls(group: Record<string, AttributeValue | undefined>, prefix: string, keys: string[]) {
  const [id, name, args] = keys;
  return indexed(group as Attributes, prefix).map((c) => toolCall(c[id!], c[name!], c[args!]));
}

/** OpenLLMetry: `gen_ai.prompt.<n>.role|content|tool_call_id`, `gen_ai.completion.<n>.…|tool_calls.<m>.…`. */
const openllmetry: Reader = (attrs) => {
  const read = (prefix: string, role: Message['role']) =>
    indexed(attrs, prefix).map((g) => {
      const m = messageOf({ role: g.role ?? role, content: flattenedContent(g.content) }, role)!;
      m.tool_call_id = typeof g.tool_call_id === 'string' ? g.tool_call_id : null;
      m.tool_calls = flattenedCalls(g, 'tool_calls', ['id', 'name', 'arguments']);
      return m;
    });
  return {
    input: nonEmpty(read('gen_ai.prompt', 'user')),
    output: nonEmpty(read('gen_ai.completion', 'assistant')),
  };
};

/**
 * OpenInference: `llm.input_messages.<n>.message.role|content|contents.<m>.message_content.*|tool_calls.<m>.tool_call.*`
 * (and `llm.output_messages`), else `input.value`/`output.value` as one message each.
 */
const openinference: Reader = (attrs) => {
  const read = (prefix: string, role: Message['role']) =>
    indexed(attrs, prefix).map((g) => {
      const parts = indexed(g as Attributes, 'message.contents').map((p) =>
        p['message_content.type'] === 'image'
          ? { type: 'image' }
          : { type: 'text', text: p['message_content.text'] ?? '' },
      );
      const m = messageOf(
        { role: g['message.role'] ?? role, content: parts.length ? parts : g['message.content'] },
        role,
      )!;
      m.tool_call_id = typeof g['message.tool_call_id'] === 'string' ? g['message.tool_call_id'] : null;
      m.tool_calls = flattenedCalls(g, 'message.tool_calls', [
        'tool_call.id',
        'tool_call.function.name',
        'tool_call.function.arguments',
      ]);
      return m;
    });
  const value = (key: string, role: Message['role']) =>
    typeof attrs[key] === 'string' && attrs[key] !== ''
      ? [textMessage(role, attrs[key] as string)]
      : undefined;
  return {
    input: nonEmpty(read('llm.input_messages', 'user')) ?? value('input.value', 'user'),
    output: nonEmpty(read('llm.output_messages', 'assistant')) ?? value('output.value', 'assistant'),
    toolDefinitions: toolSchemas(indexed(attrs, 'llm.tools').map((t) => t['tool.json_schema'])),
  };
};

function toolSchemas(values: (AttributeValue | undefined)[]): CappedText | undefined {
  const tools = values.filter((v) => v !== undefined).map((v) => parsedJson(v) ?? v);
  return tools.length > 0 ? capped(asText(tools)) : undefined;
}

/**
 * Vercel AI SDK: `ai.prompt.messages` (the provider call's messages) or `ai.prompt` (`{system, prompt, messages}`),
 * `ai.response.text`, `ai.response.toolCalls`, `ai.prompt.tools`.
 */
const vercel: Reader = (attrs) => {
  let input: Message[] = [];
  const messages = parsedJson(attrs['ai.prompt.messages']);
  if (messages !== undefined) input = messagesOf(messages, 'user');
  else {
    const prompt = parsedJson(attrs['ai.prompt']) as Record<string, unknown> | undefined;
    if (prompt && typeof prompt === 'object') {
      if (typeof prompt.system === 'string') input.push(textMessage('system', prompt.system));
      if (prompt.prompt !== undefined && prompt.prompt !== null)
        input.push(...messagesOf(prompt.prompt, 'user'));
      if (Array.isArray(prompt.messages)) input.push(...messagesOf(prompt.messages, 'user'));
    }
  }
  const text = attrs['ai.response.text'];
  const calls = parsedJson(attrs['ai.response.toolCalls']);
  let output: Message[] | undefined;
  if (text !== undefined || Array.isArray(calls)) {
    const m = messageOf(
      { role: 'assistant', content: typeof text === 'string' ? text : '', tool_calls: calls },
      'assistant',
    )!;
    output = [m];
  }
  const tools = attrs['ai.prompt.tools'];
  return {
    input: nonEmpty(input),
    output,
    toolDefinitions: Array.isArray(tools) ? toolSchemas(tools) : undefined,
  };
};

/** Every convention's reader, in the order they are tried: the first that has a side (input, output) gives it. */
export const CONVENTION_READERS: readonly [ContentConvention, Reader][] = [
  ['genai', genai],
  ['openllmetry', openllmetry],
  ['openinference', openinference],
  ['vercel', vercel],
  ['genai_deprecated', genaiDeprecated],
];
