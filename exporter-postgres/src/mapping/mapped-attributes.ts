import { ObservatoryAttributes as Obs, StandardAttributes as Std } from '../attributes.ts';
import { KEPT_ATTRIBUTES } from './map-ai-span.ts';
import { SESSION_ID_KEYS, USER_ID_KEYS } from './span-context.ts';

/**
 * Every span, resource and span-event attribute the mapping reads, so the receiver decodes only these and steps
 * over the rest (prompts, completions, tool arguments: usually most of a span's bytes). A key the mapping reads
 * must be listed here; `mapped-attributes.test.ts` maps every convention fixture with a recording attribute
 * object and fails on any key read that is missing.
 */
export const MAPPED_ATTRIBUTES: ReadonlySet<string> = new Set([
  ...Object.values(Obs),
  ...Object.values(Std),
  ...USER_ID_KEYS,
  ...SESSION_ID_KEYS,
  ...KEPT_ATTRIBUTES,
  // Which convention, and the operation.
  'ai.operationId',
  'openinference.span.kind',
  'traceloop.span.kind',
  'llm.request.type',
  'gen_ai.system',
  // Models and provider.
  'llm.model_name',
  'embedding.model_name',
  'ai.model.id',
  'llm.response.model_name',
  'ai.response.model',
  'ai.model.provider',
  'llm.provider',
  'llm.system',
  // Usage and cost.
  'gen_ai.usage.prompt_tokens',
  'llm.token_count.prompt',
  'ai.usage.inputTokens',
  'ai.usage.promptTokens',
  'ai.usage.tokens',
  'gen_ai.usage.completion_tokens',
  'llm.token_count.completion',
  'ai.usage.outputTokens',
  'ai.usage.completionTokens',
  'gen_ai.usage.cache_read_input_tokens',
  'llm.token_count.prompt_details.cache_read',
  'ai.usage.inputTokenDetails.cacheReadTokens',
  'ai.usage.cachedInputTokens',
  'llm.token_count.completion_details.reasoning',
  'ai.usage.reasoningTokens',
  'gen_ai.usage.cost',
  'llm.cost.total',
  'ai.response.msToFirstChunk',
  'ai.stream.msToFirstChunk',
  'metadata.ai.response.msToFirstChunk',
  // Failure.
  'http.response.status_code',
  'http.status_code',
  'exception.message',
  'exception.type',
  // Endpoint of a server span.
  'http.route',
  'url.path',
  // Agent, tool, … spans (`ai_spans`).
  'gen_ai.agent.name',
  'agent.name',
  'traceloop.entity.name',
  'gen_ai.tool.name',
  'tool.name',
  'ai.toolCall.name',
]);
