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
