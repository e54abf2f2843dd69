import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresSpanExporter } from '@observatory/exporter-postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../test-support/database.ts';
import { withFallback } from '../src/fallback.ts';
import { runWithRequestContext, setRequestIdentity } from '../src/request-context.ts';
import { startTelemetry, type Telemetry } from '../src/telemetry.ts';
import { traceInference } from '../src/trace-inference.ts';

const db = await createTestDatabase();
let spillDir: string;
let telemetry: Telemetry;

beforeAll(async () => {
  spillDir = await mkdtemp(join(tmpdir(), 'observatory-instr-'));
  telemetry = startTelemetry({
    otlp: false,
    http: false,
    spanExporters: [new PostgresSpanExporter({ connectionString: db.url, spillDir })],
  });
});
afterAll(async () => {
  await telemetry.shutdown();
  await rm(spillDir, { recursive: true, force: true });
});

class ProviderError extends Error {
  override name = 'ProviderError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

describe('the wrapper with the in-process Postgres exporter', () => {
  it('lands a success, an error, a fallback and a throw-after-usage as one correct row each', async () => {
    const base = { operation: 'chat', model: 'gpt-4o', provider: 'openai', endpoint: 'analyze' };
    const answer = { label: 'ok' };
    const failure = new ProviderError('quota exceeded for bob@example.com', 429);
    const late = new Error('parse failed after the model answered');

    await runWithRequestContext({ requestId: 'inproc-1' }, async () => {
      setRequestIdentity({ orgId: 'acme', userId: 'user-9' });
      expect(
        await traceInference(base, async (call) => {
          call.recordUsage({ inputTokens: 1000, outputTokens: 100 });
          return answer;
        }),
      ).toBe(answer);
      await expect(traceInference(base, async () => Promise.reject(failure))).rejects.toBe(failure);
      expect(
        await withFallback({
          ...base,
          fallbackModel: 'gpt-4o-mini',
          primary: () => Promise.reject(new ProviderError('Too Many Requests', 429)),
          fallback: async (call) => {
            call.recordUsage({ inputTokens: 40, outputTokens: 8 });
            return answer;
          },
        }),
      ).toBe(answer);
      await expect(
        traceInference(base, async (call) => {
          call.recordUsage({ inputTokens: 7, outputTokens: 3 });
          throw late;
        }),
      ).rejects.toBe(late);
    });
    await telemetry.forceFlush();

    const { rows } = await db.pool.query(
      "SELECT * FROM ai_events WHERE request_id = 'inproc-1' ORDER BY created_at",
    );
    expect(rows).toHaveLength(4);
    for (const row of rows)
      expect(row).toMatchObject({
        org_id: 'acme',
        user_id: 'user-9',
        endpoint: 'analyze',
        model_name: 'gpt-4o',
      });
    expect(rows[0]).toMatchObject({
      success: true,
      input_tokens: 1000,
      output_tokens: 100,
      cost_source: 'catalog',
    });
    expect(rows[1]).toMatchObject({ success: false, error_code: 'rate_limited' });
    expect(rows[1].error_message).not.toContain('bob@example.com');
    expect(rows[2]).toMatchObject({
      success: true,
      fallback_used: true,
      fallback_reason: 'rate_limited',
      fallback_model: 'gpt-4o-mini',
      input_tokens: 40,
    });
    expect(rows[3]).toMatchObject({ success: false, input_tokens: 7, output_tokens: 3 });
  });
});
