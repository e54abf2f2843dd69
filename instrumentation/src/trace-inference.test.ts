import { setTimeout as sleep } from 'node:timers/promises';
import { ObservatoryAttributes as O, StandardAttributes as S } from '@observatory/semconv';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { withFallback } from './fallback.ts';
import { runWithRequestContext, setRequestIdentity } from './request-context.ts';
import { startTelemetry, type Telemetry } from './telemetry.ts';
import { traceInference } from './trace-inference.ts';

const sink = new InMemorySpanExporter();
let telemetry: Telemetry;

beforeAll(() => {
  telemetry = startTelemetry({ otlp: false, http: false, spanProcessors: [new SimpleSpanProcessor(sink)] });
});
afterAll(() => telemetry.shutdown());
beforeEach(() => sink.reset());

async function spans(): Promise<ReadableSpan[]> {
  await telemetry.forceFlush();
  return sink.getFinishedSpans();
}

async function onlySpan(): Promise<ReadableSpan> {
  const all = await spans();
  expect(all).toHaveLength(1);
  return all[0]!;
}

class ProviderError extends Error {
  override name = 'ProviderError';
  constructor(
    message: string,
    readonly status?: number,
    readonly code?: string,
  ) {
    super(message);
  }
}

describe('traceInference', () => {
  it('records a successful call as a GenAI client span and returns the very same result', async () => {
    const result = { text: 'positive' };
    const returned = await traceInference(
      {
        operation: 'chat',
        model: 'gpt-4o',
        provider: 'openai',
        endpoint: '/analyze',
        orgId: 'acme',
        userId: 'u-1',
        requestId: 'req-1',
        clientId: 'web',
        modelVersion: '2024-08-06',
        adapterId: 'lora-7',
        consent: false,
        tags: { team: 'search' },
      },
      (call) => {
        call.recordUsage({ inputTokens: 120, outputTokens: 30, cachedInputTokens: 100, reasoningTokens: 10 });
        call.setResponseModel('gpt-4o-2024-08-06');
        call.setResponseId('chatcmpl-1');
        call.setCost(0.0042);
        call.setInputSize(512);
        call.setOutputSize(64);
        call.setComputeMs(12.5);
        call.setProvenance({ dataset: 'reviews', docs: [1, 2] });
        return Promise.resolve(result);
      },
    );
    expect(returned).toBe(result);

    const span = await onlySpan();
    expect(span.name).toBe('chat gpt-4o');
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.attributes).toEqual({
      [S.OPERATION_NAME]: 'chat',
      [S.REQUEST_MODEL]: 'gpt-4o',
      [S.PROVIDER_NAME]: 'openai',
      [O.ENDPOINT]: '/analyze',
      [O.ORG_ID]: 'acme',
      [S.USER_ID]: 'u-1',
      [O.REQUEST_ID]: 'req-1',
      [O.CLIENT_ID]: 'web',
      [O.MODEL_VERSION]: '2024-08-06',
      [O.ADAPTER_ID]: 'lora-7',
      [O.CONSENT]: false,
      [O.TAGS_JSON]: '{"team":"search"}',
      [S.INPUT_TOKENS]: 120,
      [S.OUTPUT_TOKENS]: 30,
      [S.CACHE_READ_INPUT_TOKENS]: 100,
      [S.REASONING_OUTPUT_TOKENS]: 10,
      [S.RESPONSE_MODEL]: 'gpt-4o-2024-08-06',
      [S.RESPONSE_ID]: 'chatcmpl-1',
      [O.COST_USD]: 0.0042,
      [O.INPUT_SIZE_BYTES]: 512,
      [O.OUTPUT_SIZE_BYTES]: 64,
      [O.COMPUTE_MS]: 12.5,
      [O.PROVENANCE_JSON]: '{"dataset":"reviews","docs":[1,2]}',
    });
  });

  it('rethrows the same error object and marks the span failed with a scrubbed message', async () => {
    const error = new ProviderError('quota exceeded for jane.doe@example.com', 429, 'rate_limit_exceeded');
    const caught = await traceInference({ operation: 'chat', model: 'gpt-4o' }, () =>
      Promise.reject(error),
    ).catch((e: unknown) => e);
    expect(caught).toBe(error);

    const span = await onlySpan();
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.status.message).toBe(
      'ProviderError rate_limit_exceeded (status 429): quota exceeded for [email]',
    );
    expect(span.attributes[S.ERROR_TYPE]).toBe('rate_limit_exceeded');
    expect(JSON.stringify({ a: span.attributes, s: span.status, e: span.events })).not.toContain('jane.doe');
  });

  it('keeps the usage recorded before the wrapped code threw', async () => {
    const error = new TypeError('cannot read the stream');
    const caught = await traceInference({ operation: 'chat', model: 'claude-3-5-sonnet' }, (call) => {
      call.recordUsage({ inputTokens: 900, outputTokens: 17 });
      call.setErrorCode('stream_interrupted');
      throw error;
    }).catch((e: unknown) => e);
    expect(caught).toBe(error);

    const span = await onlySpan();
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes).toMatchObject({
      [S.INPUT_TOKENS]: 900,
      [S.OUTPUT_TOKENS]: 17,
      [S.ERROR_TYPE]: 'TypeError',
      [O.ERROR_CODE]: 'stream_interrupted',
    });
  });

  it('records an error reported without a throw', async () => {
    await traceInference({ operation: 'embeddings', model: 'e5' }, (call) => {
      call.recordError(new ProviderError('bad gateway', 502));
    });
    const span = await onlySpan();
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes[S.ERROR_TYPE]).toBe('502');
  });

  it('records the decision taken on the answer, with consent from the options', async () => {
    await traceInference({ operation: 'chat', model: 'gpt-4o', consent: true }, (call) => {
      call.recordDecision({ rationale: 'refund: order under $50', confidence: 0.9 });
    });
    expect((await onlySpan()).attributes).toMatchObject({
      [O.CONSENT]: true,
      [O.DECISION_RATIONALE]: 'refund: order under $50',
      [O.DECISION_CONFIDENCE]: 0.9,
    });
  });

  it('ignores a confidence outside 0–1', async () => {
    await traceInference({ operation: 'chat', model: 'gpt-4o' }, (call) =>
      call.recordDecision({ confidence: 1.5 }),
    );
    expect((await onlySpan()).attributes[O.DECISION_CONFIDENCE]).toBeUndefined();
  });

  it('drops values that are not counts or amounts and objects that cannot be JSON', async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await traceInference({ operation: 'chat', model: 'm', tags: cyclic }, (call) => {
      call.recordUsage({ inputTokens: -1, outputTokens: 2.5 });
      call.setCost(Number.NaN);
      call.setProvenance({ big: 1n });
    });
    const span = await onlySpan();
    expect(Object.keys(span.attributes).sort()).toEqual([S.OPERATION_NAME, S.REQUEST_MODEL].sort());
  });

  it('records the first token once, from the call start, in ms and as the GenAI seconds', async () => {
    // Bounds taken around the calls, so the check holds however slow the machine is.
    let firstAfter = 0;
    let firstBefore = 0;
    const outerStart = performance.now();
    let innerStart = 0;
    await traceInference({ operation: 'chat', model: 'gpt-4o' }, async (call) => {
      innerStart = performance.now();
      await sleep(20);
      firstAfter = performance.now();
      call.recordFirstToken();
      firstBefore = performance.now();
      // Every further chunk calls it again: none of these may move the mark.
      for (let chunk = 0; chunk < 3; chunk++) {
        await sleep(20);
        call.recordFirstToken();
      }
    });
    const span = await onlySpan();
    const ttft = span.attributes[O.TTFT_MS] as number;
    expect(ttft).toBeGreaterThanOrEqual(firstAfter - innerStart);
    expect(ttft).toBeLessThanOrEqual(firstBefore - outerStart);
    expect(span.attributes[S.RESPONSE_TIME_TO_FIRST_CHUNK]).toBeCloseTo(ttft / 1000, 9);
  });

  it('sets no first-token attribute on a call that did not report one', async () => {
    await traceInference({ operation: 'chat', model: 'gpt-4o' }, (call) => {
      call.recordUsage({ outputTokens: 5 });
    });
    const span = await onlySpan();
    expect(span.attributes[O.TTFT_MS]).toBeUndefined();
    expect(span.attributes[S.RESPONSE_TIME_TO_FIRST_CHUNK]).toBeUndefined();
  });

  it('makes the model-call span the parent of spans started inside it', async () => {
    await traceInference({ operation: 'chat', model: 'outer' }, () =>
      traceInference({ operation: 'embeddings', model: 'inner' }, () => 1),
    );
    const all = await spans();
    const inner = all.find((s) => s.name === 'embeddings inner')!;
    const outer = all.find((s) => s.name === 'chat outer')!;
    expect(inner.parentSpanContext?.spanId).toBe(outer.spanContext().spanId);
  });
});

describe('request context', () => {
  it('gives every model call in a request the request id, org and user set once', async () => {
    await runWithRequestContext({ requestId: 'req-42' }, async () => {
      setRequestIdentity({ orgId: 'acme', userId: 'u-7' });
      await traceInference({ operation: 'embeddings', model: 'e5' }, () => 1);
      await traceInference({ operation: 'chat', model: 'gpt-4o', userId: 'override' }, () => 2);
    });
    await traceInference({ operation: 'chat', model: 'outside' }, () => 3);

    const [first, second, outside] = await spans();
    expect(first!.attributes).toMatchObject({
      [O.REQUEST_ID]: 'req-42',
      [O.ORG_ID]: 'acme',
      [S.USER_ID]: 'u-7',
    });
    expect(second!.attributes).toMatchObject({
      [O.REQUEST_ID]: 'req-42',
      [O.ORG_ID]: 'acme',
      [S.USER_ID]: 'override',
    });
    expect(outside!.attributes[O.REQUEST_ID]).toBeUndefined();
  });
});

describe('withFallback', () => {
  const call = { operation: 'chat', model: 'gpt-4o', provider: 'openai', fallbackModel: 'claude-3-haiku' };

  it('records one call that fell back after the primary failed, with the fallback result', async () => {
    const answer = { text: 'from fallback' };
    const result = await withFallback({
      ...call,
      primary: (c) => {
        c.recordUsage({ inputTokens: 999, cachedInputTokens: 32 });
        c.setResponseId('primary-1');
        return Promise.reject(new ProviderError('Too Many Requests', 429));
      },
      fallback: (c, reason) => {
        expect(reason).toBe('rate_limited');
        c.recordUsage({ inputTokens: 40, outputTokens: 8 });
        return Promise.resolve(answer);
      },
    });
    expect(result).toBe(answer);

    const span = await onlySpan();
    expect(span.name).toBe('chat gpt-4o');
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.attributes).toMatchObject({
      [S.REQUEST_MODEL]: 'gpt-4o',
      [S.RESPONSE_MODEL]: 'claude-3-haiku',
      [O.FALLBACK_USED]: true,
      [O.FALLBACK_REASON]: 'rate_limited',
      [O.FALLBACK_MODEL]: 'claude-3-haiku',
      [S.INPUT_TOKENS]: 40,
    });
    expect(span.attributes[S.ERROR_TYPE]).toBeUndefined();
    expect(span.attributes[S.CACHE_READ_INPUT_TOKENS]).toBeUndefined();
    expect(span.attributes[S.RESPONSE_ID]).toBeUndefined();
  });

  it("keeps the answering model's first token, measured from the call's start, not the failed primary's", async () => {
    let primaryStart = 0;
    let fallbackTokenAfter = 0;
    await withFallback({
      ...call,
      primary: async (c) => {
        primaryStart = performance.now();
        c.recordFirstToken();
        await sleep(20);
        throw new ProviderError('stream broke', 502);
      },
      fallback: async (c) => {
        fallbackTokenAfter = performance.now();
        c.recordFirstToken();
      },
    });
    // The call started before the primary did, and the fallback's token came after fallbackTokenAfter.
    expect((await onlySpan()).attributes[O.TTFT_MS]).toBeGreaterThanOrEqual(
      fallbackTokenAfter - primaryStart,
    );

    await withFallback({
      ...call,
      primary: async (c) => {
        c.recordFirstToken();
        throw new ProviderError('stream broke', 502);
      },
      fallback: async () => 'not streamed',
    });
    expect((await spans())[1]!.attributes[O.TTFT_MS]).toBeUndefined();
  });

  it('does not record a fallback when the primary answers', async () => {
    const answer = { text: 'primary' };
    expect(
      await withFallback({ ...call, primary: async () => answer, fallback: async () => ({ text: 'no' }) }),
    ).toBe(answer);
    const span = await onlySpan();
    expect(span.attributes[O.FALLBACK_USED]).toBeUndefined();
    expect(span.attributes[S.RESPONSE_MODEL]).toBeUndefined();
  });

  it('falls back with reason timeout when the primary is too slow, aborting it', async () => {
    let aborted = false;
    await withFallback({
      ...call,
      timeoutMs: 20,
      primary: (_c, signal) =>
        new Promise((resolve) => {
          signal?.addEventListener('abort', () => {
            aborted = true;
          });
          setTimeout(() => resolve('late'), 1000).unref();
        }),
      fallback: async () => 'fast',
    });
    expect(aborted).toBe(true);
    expect((await onlySpan()).attributes[O.FALLBACK_REASON]).toBe('timeout');
  });

  it('records reason skipped when the primary is skipped', async () => {
    let primaryCalled = false;
    await withFallback({
      ...call,
      skipPrimary: true,
      primary: async () => {
        primaryCalled = true;
        return 'x';
      },
      fallback: async () => 'y',
    });
    expect(primaryCalled).toBe(false);
    expect((await onlySpan()).attributes).toMatchObject({
      [O.FALLBACK_USED]: true,
      [O.FALLBACK_REASON]: 'skipped',
    });
  });

  it('rethrows the fallback error itself when the fallback fails too', async () => {
    const second = new ProviderError('down', 503);
    const caught = await withFallback({
      ...call,
      primary: () => Promise.reject(new ProviderError('down', 503)),
      fallback: () => Promise.reject(second),
    }).catch((e: unknown) => e);
    expect(caught).toBe(second);
    const span = await onlySpan();
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes).toMatchObject({ [O.FALLBACK_USED]: true, [O.FALLBACK_REASON]: 'unavailable' });
  });

  it('rethrows a primary error that should not fall back, without recording a fallback', async () => {
    const invalid = new ProviderError('bad request', 400);
    const caught = await withFallback({
      ...call,
      shouldFallback: (e) => (e as ProviderError).status !== 400,
      primary: () => Promise.reject(invalid),
      fallback: async () => 'never',
    }).catch((e: unknown) => e);
    expect(caught).toBe(invalid);
    const span = await onlySpan();
    expect(span.attributes[O.FALLBACK_USED]).toBeUndefined();
    expect(span.attributes[S.ERROR_TYPE]).toBe('400');
  });
});
