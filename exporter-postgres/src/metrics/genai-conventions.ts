import { OVERFLOW_LABEL } from './label-cap.ts';

/**
 * The OpenTelemetry GenAI client metrics (semantic conventions, "Generative AI metrics"): their names, the
 * metric-only attributes and the bucket boundaries the conventions advise. The names are copied rather than
 * imported from `@opentelemetry/semantic-conventions/incubating`, as that package advises for experimental
 * conventions (they may change in a minor release); genai-conventions.test.ts fails when they disagree.
 */
export const GenAiMetrics = {
  TOKEN_USAGE: 'gen_ai.client.token.usage',
  OPERATION_DURATION: 'gen_ai.client.operation.duration',
  /** Recorded for streamed calls only, as the conventions say. */
  TIME_TO_FIRST_CHUNK: 'gen_ai.client.operation.time_to_first_chunk',
} as const;

export const GEN_AI_TOKEN_TYPE = 'gen_ai.token.type';
export const GenAiTokenTypes = { INPUT: 'input', OUTPUT: 'output' } as const;

/** `gen_ai.client.token.usage`: powers of 4 from 1 to 64 Mi tokens. */
export const TOKEN_USAGE_BUCKETS = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];

/**
 * `gen_ai.client.operation.duration` and `gen_ai.client.operation.time_to_first_chunk` (seconds): 10 ms doubling
 * to 82 s, the span of model latencies; the conventions advise the same boundaries for both.
 */
export const OPERATION_DURATION_BUCKETS_SECONDS = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

/** The well-known values of `gen_ai.operation.name`. */
export const GEN_AI_OPERATIONS = [
  'chat',
  'create_agent',
  'embeddings',
  'execute_tool',
  'generate_content',
  'invoke_agent',
  'invoke_workflow',
  'retrieval',
  'text_completion',
] as const;

/** Older names instrumentations still send (OpenLLMetry's `llm.request.type`), for the same operations. */
const OPERATION_ALIASES: Record<string, (typeof GEN_AI_OPERATIONS)[number]> = {
  completion: 'text_completion',
  embedding: 'embeddings',
};

const KNOWN_OPERATIONS = new Set<string>(GEN_AI_OPERATIONS);

/**
 * The `gen_ai.operation.name` label of an event's operation: a well-known value, `unknown` when none was
 * reported and `other` for anything else, so free text from callers never becomes a label value.
 */
export function operationLabel(operation: string | null): string {
  if (!operation) return 'unknown';
  const name = operation.toLowerCase();
  if (KNOWN_OPERATIONS.has(name)) return name;
  return OPERATION_ALIASES[name] ?? OVERFLOW_LABEL;
}
