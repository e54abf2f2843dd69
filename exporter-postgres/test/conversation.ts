import type { Message } from '../src/content/schema.ts';

// The conversation every convention's content test describes, in the one message shape Observatory stores.

export const text = (t: string) => ({ type: 'text' as const, text: t, truncated: false });
export const args = '{"city":"Paris"}';

/** One conversation: instructions, a question, the model's tool call, the tool's answer; then the model's reply. */
export const EXPECTED_INPUT: Message[] = [
  { role: 'system', content: [text('You are terse.')], tool_calls: [], tool_call_id: null },
  { role: 'user', content: [text('Weather in Paris?')], tool_calls: [], tool_call_id: null },
  {
    role: 'assistant',
    content: [],
    tool_calls: [{ id: 'call_1', name: 'get_weather', arguments: { text: args, truncated: false } }],
    tool_call_id: null,
  },
  { role: 'tool', content: [text('18C, sunny')], tool_call_id: 'call_1', tool_calls: [] },
];
export const EXPECTED_OUTPUT: Message[] = [
  { role: 'assistant', content: [text('18C and sunny.')], tool_calls: [], tool_call_id: null },
];
