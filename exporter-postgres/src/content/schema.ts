import { z } from 'zod';

/** Every captured text field is cut to this many bytes (UTF-8) after scrubbing; a cut field says `truncated: true`. */
export const MAX_CONTENT_FIELD_BYTES = 64 * 1024;

/** A piece of text content, scrubbed and capped. */
export const CappedTextSchema = z.object({
  text: z.string(),
  /** True when the text was longer than `MAX_CONTENT_FIELD_BYTES` and was cut. */
  truncated: z.boolean(),
});
export type CappedText = z.infer<typeof CappedTextSchema>;

/**
 * One part of a message's content. Non-text parts (images, audio, files) keep only their kind: their data is never
 * captured.
 */
export const ContentPartSchema = z.discriminatedUnion('type', [
  CappedTextSchema.extend({ type: z.literal('text') }),
  z.object({ type: z.literal('media'), kind: z.string().max(64) }),
]);
export type ContentPart = z.infer<typeof ContentPartSchema>;

/** A tool (function) call the model asked for; `arguments` is the JSON text the model produced. */
export const ToolCallSchema = z.object({
  id: z.string().max(256).nullable(),
  name: z.string().max(256),
  arguments: CappedTextSchema,
});
export type ToolCall = z.infer<typeof ToolCallSchema>;

/** Roles every convention's names map to (`developer` → system, `model` → assistant, `function` → tool). */
export const MessageRoleSchema = z.enum(['system', 'user', 'assistant', 'tool', 'other']);
export type MessageRole = z.infer<typeof MessageRoleSchema>;

/** One message of a model call's input or output, the same shape whichever convention the span followed. */
export const MessageSchema = z.object({
  role: MessageRoleSchema,
  content: z.array(ContentPartSchema),
  tool_calls: z.array(ToolCallSchema),
  /** On a `tool` message: the call it answers. */
  tool_call_id: z.string().max(256).nullable(),
});
export type Message = z.infer<typeof MessageSchema>;

/** The conventions content is read from, as `source` names them. */
export const ContentConventionSchema = z.enum([
  'genai',
  'genai_deprecated',
  'openllmetry',
  'openinference',
  'vercel',
]);
export type ContentConvention = z.infer<typeof ContentConventionSchema>;

/**
 * What is captured of one model call: the plaintext of an `ai_event_content` row's ciphertext (encrypted as JSON).
 * System instructions are the leading `system` messages of `input`.
 */
export const DecisionContentSchema = z.object({
  /** The convention(s) the content was read from, in the order they were tried. */
  sources: z.array(ContentConventionSchema),
  input: z.array(MessageSchema),
  output: z.array(MessageSchema),
  /** The tool definitions offered to the model, as the JSON text the span carried. */
  tool_definitions: CappedTextSchema.nullable(),
  /** `observatory.decision.rationale`: why the caller acted on the answer as it did. */
  rationale: CappedTextSchema.nullable(),
  /** `observatory.decision.confidence`, 0–1. */
  confidence: z.number().min(0).max(1).nullable(),
});
export type DecisionContent = z.infer<typeof DecisionContentSchema>;

/** Content with nothing in it yet: what a reader fills in. */
export const emptyDecisionContent = (): DecisionContent => ({
  sources: [],
  input: [],
  output: [],
  tool_definitions: null,
  rationale: null,
  confidence: null,
});
