/**
 * Span attributes Observatory defines for what the OTel GenAI conventions lack. The instrumentation
 * library sets exactly these and the mapping reads exactly these, both from this one definition.
 * Values: strings unless noted; `*_JSON` attributes hold a JSON object encoded as a string, because
 * OTel attribute values cannot be maps.
 */
export const ObservatoryAttributes = {
  ORG_ID: 'observatory.org_id',
  CLIENT_ID: 'observatory.client_id',
  REQUEST_ID: 'observatory.request_id',
  ENDPOINT: 'observatory.endpoint',
  MODEL_VERSION: 'observatory.model.version',
  ADAPTER_ID: 'observatory.adapter_id',
  /** boolean */
  FALLBACK_USED: 'observatory.fallback.used',
  FALLBACK_REASON: 'observatory.fallback.reason',
  FALLBACK_MODEL: 'observatory.fallback.model',
  /** boolean: the org's user consented to content capture for this call */
  CONSENT: 'observatory.consent',
  PROVENANCE_JSON: 'observatory.provenance',
  TAGS_JSON: 'observatory.tags',
  /** number, USD: a cost the caller knows better than the price table */
  COST_USD: 'observatory.cost.usd',
  /** int */
  INPUT_SIZE_BYTES: 'observatory.input.size_bytes',
  /** int */
  OUTPUT_SIZE_BYTES: 'observatory.output.size_bytes',
  /** number, ms: time the model itself computed, where the provider reports it */
  COMPUTE_MS: 'observatory.compute_ms',
  /**
   * number, ms: from the call's start to its first token or chunk, for a streamed response. Milliseconds like the
   * event's other durations; the GenAI attribute below carries the same in seconds.
   */
  TTFT_MS: 'observatory.ttft_ms',
  /** normalised error code when the caller knows it better than `error.type` */
  ERROR_CODE: 'observatory.error.code',
  /** why the caller acted on the answer as it did; content, captured only when the org opted in */
  DECISION_RATIONALE: 'observatory.decision.rationale',
  /** number, 0–1: the caller's confidence in that decision */
  DECISION_CONFIDENCE: 'observatory.decision.confidence',
} as const;

/** Standard attributes the instrumentation also sets (GenAI semantic conventions and general ones). */
export const StandardAttributes = {
  OPERATION_NAME: 'gen_ai.operation.name',
  PROVIDER_NAME: 'gen_ai.provider.name',
  REQUEST_MODEL: 'gen_ai.request.model',
  RESPONSE_MODEL: 'gen_ai.response.model',
  RESPONSE_ID: 'gen_ai.response.id',
  INPUT_TOKENS: 'gen_ai.usage.input_tokens',
  OUTPUT_TOKENS: 'gen_ai.usage.output_tokens',
  CACHE_READ_INPUT_TOKENS: 'gen_ai.usage.cache_read.input_tokens',
  REASONING_OUTPUT_TOKENS: 'gen_ai.usage.reasoning.output_tokens',
  /** number, seconds: time to the first chunk of a streamed response, from when the request was issued */
  RESPONSE_TIME_TO_FIRST_CHUNK: 'gen_ai.response.time_to_first_chunk',
  /** the conversation or thread (session) a call, agent or tool belongs to */
  CONVERSATION_ID: 'gen_ai.conversation.id',
  AGENT_ID: 'gen_ai.agent.id',
  AGENT_NAME: 'gen_ai.agent.name',
  AGENT_DESCRIPTION: 'gen_ai.agent.description',
  TOOL_NAME: 'gen_ai.tool.name',
  /** `function`, `extension` or `datastore` */
  TOOL_TYPE: 'gen_ai.tool.type',
  TOOL_CALL_ID: 'gen_ai.tool.call.id',
  TOOL_DESCRIPTION: 'gen_ai.tool.description',
  USER_ID: 'user.id',
  ERROR_TYPE: 'error.type',
  SERVICE_NAME: 'service.name',
} as const;

/**
 * Values of `observatory.fallback.reason`: why the primary model did not answer. A bounded set, so it is
 * safe as a metric label; the instrumentation normalises whatever failed into one of these.
 */
export const FALLBACK_REASONS = ['error', 'timeout', 'rate_limited', 'unavailable', 'skipped'] as const;
export type FallbackReason = (typeof FALLBACK_REASONS)[number];
