import { cutText, scrubText } from '../mapping/scrub.ts';
import type { AttributeValue } from '../span.ts';
import {
  type CappedText,
  type ContentPart,
  MAX_CONTENT_FIELD_BYTES,
  type Message,
  type MessageRole,
  type ToolCall,
} from './schema.ts';

/**
 * `text` scrubbed with the PII scrubber, then capped at `MAX_CONTENT_FIELD_BYTES` of UTF-8. Cut first (to as many
 * characters as the cap has bytes), so the patterns never see more than can be kept.
 */
export function capped(text: string): CappedText {
  const cut = cutText(text, MAX_CONTENT_FIELD_BYTES);
  let out = scrubText(cut);
  let truncated = cut.length < text.length;
  if (Buffer.byteLength(out, 'utf8') > MAX_CONTENT_FIELD_BYTES) {
    // Whole characters only: a cut inside a multi-byte character decodes to U+FFFD, which is dropped.
    out = Buffer.from(out, 'utf8')
      .subarray(0, MAX_CONTENT_FIELD_BYTES)
      .toString('utf8')
      .replace(/\uFFFD$/, '');
    truncated = true;
  }
  return { text: out, truncated };
}

const ROLES: Record<string, MessageRole> = {
  system: 'system',
  developer: 'system',
  user: 'user',
  human: 'user',
  assistant: 'assistant',
  model: 'assistant',
  ai: 'assistant',
  tool: 'tool',
  function: 'tool',
  ipython: 'tool',
};

export const roleOf = (value: unknown): MessageRole =>
  (typeof value === 'string' && ROLES[value.toLowerCase()]) || 'other';

const MEDIA_TYPES = new Set([
  'image',
  'image_url',
  'input_image',
  'audio',
  'input_audio',
  'file',
  'blob',
  'uri',
]);
const TOOL_CALL_TYPES = new Set(['tool_call', 'tool-call', 'function_call', 'tool_use']);
const TOOL_RESULT_TYPES = new Set([
  'tool_call_response',
  'tool-result',
  'tool_result',
  'function_call_output',
]);

/** A JSON value as text: strings as they are, anything else serialised. */
export function asText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined || value === null) return '';
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}

/** Parses an attribute that holds JSON text (or an already-structured value); undefined when it is neither. */
export function parsedJson(value: AttributeValue | undefined): unknown {
  if (typeof value !== 'string') return value ?? undefined;
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const record = (v: unknown): Record<string, unknown> | undefined =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

export function toolCall(id: unknown, name: unknown, args: unknown): ToolCall {
  return {
    id: str(id) ? cutText(str(id)!, 256) : null,
    name: cutText(asText(name), 256),
    arguments: capped(asText(args)),
  };
}

/** A tool call in any convention's JSON: OpenAI's `{id, function: {name, arguments}}`, GenAI's, the AI SDK's. */
function toolCallOf(raw: unknown): ToolCall | undefined {
  const o = record(raw);
  if (!o) return undefined;
  const fn = record(o.function);
  const name = fn?.name ?? o.name ?? o.toolName;
  if (name === undefined) return undefined;
  return toolCall(o.id ?? o.toolCallId, name, fn?.arguments ?? o.arguments ?? o.args ?? o.input);
}

/**
 * One message of any convention's JSON (GenAI `parts`, OpenAI `content` + `tool_calls`, the AI SDK's content parts)
 * in the one shape.
 */
export function messageOf(raw: unknown, fallbackRole: MessageRole = 'other'): Message | undefined {
  const o = record(raw);
  if (!o) return typeof raw === 'string' ? textMessage(fallbackRole, raw) : undefined;
  const message: Message = {
    role: o.role === undefined ? fallbackRole : roleOf(o.role),
    content: [],
    tool_calls: [],
    tool_call_id: str(o.tool_call_id) ?? str(o.toolCallId) ?? str(o.id && o.role === 'tool' ? o.id : null),
  };
  const parts = o.parts ?? o.content;
  if (typeof parts === 'string') {
    if (parts !== '') message.content.push({ type: 'text', ...capped(parts) });
  } else if (Array.isArray(parts)) {
    for (const part of parts) addPart(message, part);
  }
  if (Array.isArray(o.tool_calls)) {
    for (const call of o.tool_calls) {
      const c = toolCallOf(call);
      if (c) message.tool_calls.push(c);
    }
  }
  return message;
}

function addPart(message: Message, raw: unknown): void {
  if (typeof raw === 'string') {
    message.content.push({ type: 'text', ...capped(raw) });
    return;
  }
  const part = record(raw);
  if (!part) return;
  const type = String(part.type ?? 'text');
  if (TOOL_CALL_TYPES.has(type)) {
    const call = toolCallOf(part);
    if (call) message.tool_calls.push(call);
  } else if (TOOL_RESULT_TYPES.has(type)) {
    message.tool_call_id ??= str(part.id) ?? str(part.toolCallId) ?? str(part.call_id);
    const result = part.response ?? part.result ?? part.output ?? part.content;
    // The AI SDK wraps results as `{ type: 'text' | 'json', value }`.
    const value = record(result)?.value ?? result;
    message.content.push({ type: 'text', ...capped(asText(value)) });
  } else if (MEDIA_TYPES.has(type)) {
    message.content.push({ type: 'media', kind: cutText(type, 64) } satisfies ContentPart);
  } else {
    const text = part.text ?? part.content;
    if (text !== undefined) message.content.push({ type: 'text', ...capped(asText(text)) });
  }
}

export function textMessage(role: MessageRole, text: string): Message {
  return { role, content: [{ type: 'text', ...capped(text) }], tool_calls: [], tool_call_id: null };
}

/** A list of messages from JSON: an array of messages, one message, or plain text (one message of `role`). */
export function messagesOf(raw: unknown, role: MessageRole): Message[] {
  if (Array.isArray(raw)) return raw.flatMap((m) => messageOf(m, role) ?? []);
  if (typeof raw === 'string') return raw === '' ? [] : [textMessage(role, raw)];
  const one = messageOf(raw, role);
  return one ? [one] : [];
}
