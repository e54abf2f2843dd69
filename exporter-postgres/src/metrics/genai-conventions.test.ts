import * as semconv from '@opentelemetry/semantic-conventions/incubating';
import { describe, expect, it } from 'vitest';
import {
  GEN_AI_OPERATIONS,
  GEN_AI_TOKEN_TYPE,
  GenAiMetrics,
  GenAiTokenTypes,
  operationLabel,
} from './genai-conventions.ts';

describe('GenAI conventions copied from @opentelemetry/semantic-conventions', () => {
  it('match the installed package, so an upgrade that renames them fails here', () => {
    expect(GenAiMetrics.TOKEN_USAGE).toBe(semconv.METRIC_GEN_AI_CLIENT_TOKEN_USAGE);
    expect(GenAiMetrics.OPERATION_DURATION).toBe(semconv.METRIC_GEN_AI_CLIENT_OPERATION_DURATION);
    expect(GenAiMetrics.TIME_TO_FIRST_CHUNK).toBe(semconv.METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK);
    expect(GEN_AI_TOKEN_TYPE).toBe(semconv.ATTR_GEN_AI_TOKEN_TYPE);
    expect(GenAiTokenTypes.INPUT).toBe(semconv.GEN_AI_TOKEN_TYPE_VALUE_INPUT);
    expect(GenAiTokenTypes.OUTPUT).toBe(semconv.GEN_AI_TOKEN_TYPE_VALUE_OUTPUT);
    const operations = Object.entries(semconv)
      .filter(([name]) => name.startsWith('GEN_AI_OPERATION_NAME_VALUE_'))
      .map(([, value]) => value);
    expect([...GEN_AI_OPERATIONS].sort()).toEqual(operations.sort());
  });
});

describe('operationLabel', () => {
  it('keeps well-known operations, maps older names, and bounds the rest', () => {
    expect(operationLabel('chat')).toBe('chat');
    expect(operationLabel('Embeddings')).toBe('embeddings');
    expect(operationLabel('completion')).toBe('text_completion');
    expect(operationLabel('embedding')).toBe('embeddings');
    expect(operationLabel('summarise the ticket for jane@example.com')).toBe('other');
    expect(operationLabel(null)).toBe('unknown');
  });
});
