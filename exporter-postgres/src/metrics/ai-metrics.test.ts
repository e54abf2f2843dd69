import { afterEach, describe, expect, it } from 'vitest';
import { makeEvent } from '../../test/make-event.ts';
import { type AiMetrics, createAiMetrics } from './ai-metrics.ts';

let metrics: AiMetrics;
afterEach(() => metrics.shutdown());

/** The label sets of one metric's series in the exposition, e.g. `{ org_id: 'acme', model_name: 'gpt-4o' }`. */
async function seriesOf(name: string): Promise<Record<string, string>[]> {
  const text = await metrics.render();
  return [...text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} `, 'gm'))].map((m) =>
    Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!])),
  );
}

describe('AI metrics labels', () => {
  it("gives each org its own model budget: one org's 110 models do not push another org's new model into other", async () => {
    metrics = createAiMetrics({ maxOrgs: 10, maxModels: 100 });
    metrics.recordEvents(
      Array.from({ length: 110 }, (_, i) => makeEvent({ org_id: 'acme', model_name: `acme-model-${i}` })),
    );
    metrics.recordEvents([makeEvent({ org_id: 'globex', model_name: 'gpt-4o' })]);

    const series = await seriesOf('ai_inference_requests_total');
    const acme = series.filter((s) => s.org_id === 'acme').map((s) => s.model_name);
    expect(acme).toHaveLength(101);
    expect(acme).toContain('acme-model-99');
    expect(acme).toContain('other');
    expect(acme).not.toContain('acme-model-100');
    expect(series.filter((s) => s.org_id === 'globex')).toEqual([{ org_id: 'globex', model_name: 'gpt-4o' }]);
  });

  it('caps the orgs, and orgs past the cap share the label other', async () => {
    metrics = createAiMetrics({ maxOrgs: 2, maxModels: 5 });
    metrics.recordEvents(['a', 'b', 'c', 'd'].map((org_id) => makeEvent({ org_id })));
    const orgs = (await seriesOf('ai_inference_requests_total')).map((s) => s.org_id).sort();
    expect(orgs).toEqual(['a', 'b', 'other']);
  });

  it('never turns an email, key or token into a label value', async () => {
    metrics = createAiMetrics();
    const secrets = [
      'jane.doe@example.com',
      'sk-proj-abcdefghijklmnop1234',
      'Bearer abc.def.ghi',
      'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl',
    ];
    metrics.recordEvents([
      ...secrets.map((model_name) => makeEvent({ model_name, success: false, error_code: 'rate_limited' })),
      makeEvent({ model_name: 'gpt-4o', fallback_used: true, fallback_model: 'ops+fallback@example.com' }),
    ]);
    const text = await metrics.render();
    for (const secret of [...secrets, 'ops+fallback@example.com', 'example.com', 'sk-proj', 'eyJ']) {
      expect(text).not.toContain(secret);
    }
    expect(await seriesOf('ai_inference_requests_total')).toEqual(
      expect.arrayContaining([
        { org_id: 'acme', model_name: 'redacted' },
        { org_id: 'acme', model_name: 'gpt-4o' },
      ]),
    );
    expect(await seriesOf('ai_inference_fallbacks_total')).toEqual([
      { org_id: 'acme', fallback_model: 'redacted' },
    ]);
  });
});

interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** Every sample of one series name in the exposition, e.g. `gen_ai_client_token_usage_bucket`. */
async function samplesOf(name: string): Promise<Sample[]> {
  const text = await metrics.render();
  return [...text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm'))].map((m) => ({
    labels: Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!])),
    value: Number(m[2]),
  }));
}

/** The value of the sample with exactly these labels, undefined when there is none. */
async function sampleValue(name: string, labels: Record<string, string>): Promise<number | undefined> {
  const key = JSON.stringify(Object.entries(labels).sort());
  const sample = (await samplesOf(name)).find((s) => JSON.stringify(Object.entries(s.labels).sort()) === key);
  return sample?.value;
}

describe('OpenTelemetry GenAI client metrics', () => {
  const chat = {
    org_id: 'acme',
    gen_ai_operation_name: 'chat',
    gen_ai_provider_name: 'openai',
    gen_ai_request_model: 'gpt-4o',
  };

  it('exposes gen_ai.client.token.usage as a histogram per token type with the advised buckets', async () => {
    metrics = createAiMetrics();
    metrics.recordEvents([
      makeEvent({ input_tokens: 3, output_tokens: 100 }),
      makeEvent({ input_tokens: 1000, output_tokens: 64 }),
      makeEvent({ input_tokens: 70_000_000, output_tokens: null }),
    ]);
    const input = { ...chat, gen_ai_token_type: 'input' };
    const output = { ...chat, gen_ai_token_type: 'output' };
    expect(await sampleValue('gen_ai_client_token_usage_count', input)).toBe(3);
    expect(await sampleValue('gen_ai_client_token_usage_sum', input)).toBe(70_001_003);
    // A call without output tokens records no output sample.
    expect(await sampleValue('gen_ai_client_token_usage_count', output)).toBe(2);
    expect(await sampleValue('gen_ai_client_token_usage_sum', output)).toBe(164);

    const buckets = (await samplesOf('gen_ai_client_token_usage_bucket')).filter(
      (s) => s.labels.gen_ai_token_type === 'input',
    );
    expect(buckets.map((b) => b.labels.le)).toEqual([
      ...['1', '4', '16', '64', '256', '1024', '4096', '16384', '65536', '262144', '1048576'],
      ...['4194304', '16777216', '67108864', '+Inf'],
    ]);
    const cumulative = Object.fromEntries(buckets.map((b) => [b.labels.le, b.value]));
    expect(cumulative).toMatchObject({ '1': 0, '4': 1, '1024': 2, '67108864': 2, '+Inf': 3 });
    expect(await sampleValue('gen_ai_client_token_usage_bucket', { ...output, le: '64' })).toBe(1);
    expect(await sampleValue('gen_ai_client_token_usage_bucket', { ...output, le: '256' })).toBe(2);
  });

  it('exposes gen_ai.client.operation.duration in seconds, with error.type on failed calls only', async () => {
    metrics = createAiMetrics();
    metrics.recordEvents([
      makeEvent({ latency_ms: 150 }),
      makeEvent({ latency_ms: 900 }),
      makeEvent({ latency_ms: 30_000, success: false, error_code: 'timeout' }),
    ]);
    const ok = await samplesOf('gen_ai_client_operation_duration_seconds_count');
    expect(ok.map((s) => s.labels)).toEqual([chat, { ...chat, error_type: 'timeout' }]);
    expect(await sampleValue('gen_ai_client_operation_duration_seconds_sum', chat)).toBeCloseTo(1.05, 9);
    expect(ok[0]!.value).toBe(2);
    expect(ok[1]!.value).toBe(1);

    const buckets = (await samplesOf('gen_ai_client_operation_duration_seconds_bucket')).filter(
      (s) => !s.labels.error_type,
    );
    expect(buckets.map((b) => b.labels.le)).toEqual([
      ...['0.01', '0.02', '0.04', '0.08', '0.16', '0.32', '0.64', '1.28', '2.56', '5.12', '10.24'],
      ...['20.48', '40.96', '81.92', '+Inf'],
    ]);
    const cumulative = Object.fromEntries(buckets.map((b) => [b.labels.le, b.value]));
    expect(cumulative).toMatchObject({ '0.08': 0, '0.16': 1, '0.64': 1, '1.28': 2, '+Inf': 2 });
    // The seed's latency histogram is still there, counting the same calls.
    expect((await samplesOf('ai_inference_latency_seconds_count')).map((s) => s.value)).toEqual([3]);
  });

  it('exposes gen_ai.client.operation.time_to_first_chunk in seconds, for streamed calls only', async () => {
    metrics = createAiMetrics();
    metrics.recordEvents([
      makeEvent({ ttft_ms: 30, latency_ms: 900 }),
      makeEvent({ ttft_ms: 250, latency_ms: 2000 }),
      // Failed after its first chunk: still a first chunk the caller waited for.
      makeEvent({ ttft_ms: 3000, latency_ms: 4000, success: false, error_code: 'timeout' }),
      makeEvent({ ttft_ms: null, latency_ms: 700 }),
    ]);
    const name = 'gen_ai_client_operation_time_to_first_chunk_seconds';
    expect((await samplesOf(`${name}_count`)).map((s) => s.labels)).toEqual([chat]);
    expect(await sampleValue(`${name}_count`, chat)).toBe(3);
    expect(await sampleValue(`${name}_sum`, chat)).toBeCloseTo(3.28, 9);
    const buckets = await samplesOf(`${name}_bucket`);
    expect(buckets.map((b) => b.labels.le)).toEqual([
      ...['0.01', '0.02', '0.04', '0.08', '0.16', '0.32', '0.64', '1.28', '2.56', '5.12', '10.24'],
      ...['20.48', '40.96', '81.92', '+Inf'],
    ]);
    const cumulative = Object.fromEntries(buckets.map((b) => [b.labels.le, b.value]));
    expect(cumulative).toMatchObject({ '0.02': 0, '0.04': 1, '0.16': 1, '0.32': 2, '2.56': 2, '5.12': 3 });
    // Every call, streamed or not, still counts in the duration histogram.
    expect(await sampleValue('gen_ai_client_operation_duration_seconds_count', chat)).toBe(3);
  });

  it('counts tokens by type in ai_tokens_total, per org and model', async () => {
    metrics = createAiMetrics();
    metrics.recordEvents([
      makeEvent({ input_tokens: 1200, output_tokens: 300, cached_input_tokens: 1000, reasoning_tokens: 200 }),
      makeEvent({ input_tokens: 800, output_tokens: 50, cached_input_tokens: null, reasoning_tokens: null }),
      makeEvent({ org_id: 'globex', model_name: 'claude-3-5-haiku', input_tokens: 10, output_tokens: 5 }),
    ]);
    const acme = { org_id: 'acme', model_name: 'gpt-4o' };
    expect(await sampleValue('ai_tokens_total', { ...acme, token_type: 'input' })).toBe(2000);
    expect(await sampleValue('ai_tokens_total', { ...acme, token_type: 'output' })).toBe(350);
    expect(await sampleValue('ai_tokens_total', { ...acme, token_type: 'cached' })).toBe(1000);
    expect(await sampleValue('ai_tokens_total', { ...acme, token_type: 'reasoning' })).toBe(200);
    expect(
      (await samplesOf('ai_tokens_total')).filter((s) => s.labels.org_id === 'globex').map((s) => s.labels),
    ).toEqual([
      { org_id: 'globex', model_name: 'claude-3-5-haiku', token_type: 'input' },
      { org_id: 'globex', model_name: 'claude-3-5-haiku', token_type: 'output' },
    ]);
  });

  it('keeps the GenAI labels bounded and clean: capped models and providers, known operations, no ids', async () => {
    metrics = createAiMetrics({ maxOrgs: 3, maxModels: 5, maxProviders: 2 });
    metrics.recordEvents(
      Array.from({ length: 300 }, (_, i) =>
        makeEvent({
          org_id: `org-${i % 10}`,
          model_name: `model-${i}`,
          provider: i === 0 ? 'ops@example.com' : `provider-${i}`,
          operation: i % 3 === 0 ? `free text ${i}` : i % 3 === 1 ? 'embedding' : 'chat',
          user_id: `user-${i}`,
          request_id: `req-${i}`,
          trace_id: i.toString(16).padStart(32, '0'),
          success: i % 4 !== 0,
          error_code: i % 4 === 0 ? `surprise-${i}` : null,
          ttft_ms: 40 + i,
        }),
      ),
    );
    const text = await metrics.render();
    expect(text).not.toMatch(/user_id|request_id|trace_id|user-|req-|example\.com/);
    for (const name of [
      'gen_ai_client_token_usage_count',
      'gen_ai_client_operation_duration_seconds_count',
      'gen_ai_client_operation_time_to_first_chunk_seconds_count',
    ]) {
      const series = await samplesOf(name);
      const values = (label: string) => new Set(series.map((s) => s.labels[label]));
      expect(values('org_id'), name).toEqual(new Set(['org-0', 'org-1', 'org-2', 'other']));
      expect(values('gen_ai_operation_name'), name).toEqual(new Set(['other', 'embeddings', 'chat']));
      for (const org of values('org_id')) {
        const ofOrg = series.filter((s) => s.labels.org_id === org);
        expect(new Set(ofOrg.map((s) => s.labels.gen_ai_request_model)).size, org).toBeLessThanOrEqual(6);
        // Two providers, `other`, and `redacted` for the email.
        expect(new Set(ofOrg.map((s) => s.labels.gen_ai_provider_name)).size, org).toBeLessThanOrEqual(4);
      }
      expect(values('gen_ai_provider_name')).toContain('redacted');
      expect(series.length).toBeGreaterThan(10);
    }
    const errorTypes = new Set(
      (await samplesOf('gen_ai_client_operation_duration_seconds_count')).map((s) => s.labels.error_type),
    );
    expect(errorTypes).toEqual(new Set([undefined, 'other']));
  });
});
