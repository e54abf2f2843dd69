import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAiMetrics } from '@observatory/exporter-postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { makeEvent } from '../../exporter-postgres/test/make-event.ts';
import { expandPromQL, loadDashboard, promQueries } from './dashboard.ts';
import { promtool, promtoolAvailable } from './stack-files.ts';

/**
 * Every metric name and its labels as the service exposes them, read from a real exposition after a few
 * events (a streamed success with every token type, a failure, a fallback, an unpriced call), plus what Prometheus
 * and the Collector expose themselves. A typo in a dashboard metric or label name is valid PromQL that
 * silently shows "No data", so names are checked here as well as syntax.
 */
async function exposedSeries(): Promise<Map<string, Set<string>>> {
  const metrics = createAiMetrics();
  metrics.recordEvents([
    makeEvent({ cached_input_tokens: 10, reasoning_tokens: 5, ttft_ms: 120 }),
    makeEvent({ success: false, error_code: 'timeout' }),
    makeEvent({ fallback_used: true, fallback_model: 'gpt-4o-mini' }),
    makeEvent({ cost_usd: null, cost_source: 'unpriced' }),
  ]);
  const text = await metrics.render();
  await metrics.shutdown();
  const series = new Map<string, Set<string>>([
    ['up', new Set(['job', 'instance'])],
    ['otelcol_exporter_send_failed_spans_total', new Set(['exporter'])],
  ]);
  for (const m of text.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? /gm)) {
    // Prometheus adds the target labels to every series it scrapes.
    const labels = series.get(m[1]!) ?? new Set<string>(['job', 'instance']);
    for (const l of (m[2] ?? '').matchAll(/(\w+)="/g)) labels.add(l[1]!);
    series.set(m[1]!, labels);
  }
  return series;
}

const exposed = await exposedSeries();

const promqlFunctionsAndKeywords = new Set([
  'sum',
  'rate',
  'increase',
  'histogram_quantile',
  'by',
  'or',
  'vector',
  'sort_desc',
  'le',
  'and',
  'unless',
  'on',
  'ignoring',
  'without',
  'max',
  'min',
  'avg',
  'count',
  'clamp_min',
  'offset',
]);

const dashboard = loadDashboard();
const queries = promQueries(dashboard);
const allSelected = { org_id: '.*', model_name: '.*' };

/** Metric names in an expression: identifiers that are neither functions, keywords nor label names. */
function metricNames(expr: string): string[] {
  // Label matchers, grouping clauses and durations hold no metric names: blank them before picking identifiers.
  const skeleton = expr
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, '$1()')
    .replace(/\[[^\]]*\]/g, '[]');
  return [...skeleton.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)]
    .map((m) => m[0])
    .filter(
      (name) =>
        !promqlFunctionsAndKeywords.has(name) &&
        !/^\d/.test(name) &&
        !/^(org_id|model_name|fallback_model|instance)$/.test(name),
    );
}

describe('dashboard PromQL', () => {
  it('has Prometheus queries for every section of the issue', () => {
    const titles = new Set(queries.map((q) => q.panel));
    for (const title of [
      'Requests (24 h)',
      'Error rate (5 m)',
      'Fallback rate (30 m)',
      'p95 latency (5 m)',
      'Cost (24 h)',
      'Unpriced calls (24 h)',
      'Requests, errors and fallbacks per minute',
      'Latency percentiles',
      'Cost per hour',
      'Calls by model',
      'Error rate by model',
      'Fallbacks by fallback model',
      'Exporter queue depth',
      'Spilled, dropped and failed writes',
      'Ingest rate',
      'Token usage per minute',
      'Tokens per call (p50, p95)',
      'Tokens by model',
      'Time to first token (p50, p95)',
      'p95 time to first token by model (5 m)',
    ]) {
      expect(titles, title).toContain(title);
    }
  });

  it('uses only metric names the stack exposes', () => {
    for (const q of queries) {
      for (const name of metricNames(q.text)) {
        expect([...exposed.keys()], `${q.panel}: ${q.text}`).toContain(name);
      }
    }
  });

  it('filters and groups every AI metric by labels it has, always by the org variable', () => {
    for (const q of queries) {
      for (const m of q.text.matchAll(/\b((?:gen_)?ai_[a-z_]+)\{([^}]*)\}/g)) {
        const [, metric, matchers] = m as unknown as [string, string, string];
        const labels = [...matchers.matchAll(/([a-z_]+)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1]!);
        expect(labels, `${q.panel}: ${metric}`).toContain('org_id');
        for (const label of labels)
          expect([...exposed.get(metric)!], `${q.panel}: ${metric}`).toContain(label);
        // The model variable holds model_name values; the GenAI series carry them as gen_ai_request_model.
        if (q.text.includes('$model_name')) {
          const modelLabel = metric.startsWith('gen_ai_') ? 'gen_ai_request_model' : 'model_name';
          if (exposed.get(metric)!.has(modelLabel))
            expect(labels, `${q.panel}: ${metric}`).toContain(modelLabel);
        }
      }
      for (const m of q.text.matchAll(/\bby \(([^)]*)\)/g)) {
        const grouped = m[1]!.split(',').map((l) => l.trim());
        const metricsInQuery = metricNames(q.text).filter((n) => exposed.has(n));
        for (const label of grouped) {
          expect(
            metricsInQuery.some((metric) => exposed.get(metric)!.has(label)),
            `${q.panel}: no metric of ${q.text} has the label ${label}`,
          ).toBe(true);
        }
      }
    }
  });

  describe.skipIf(!promtoolAvailable())('promtool', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'observatory-dashboard-promql-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    async function checkRules(exprs: { record: string; expr: string }[]) {
      const file = join(dir, `rules-${Math.random().toString(36).slice(2)}.yml`);
      await writeFile(file, stringify({ groups: [{ name: 'dashboard', rules: exprs }] }));
      return promtool(['check', 'rules', file]);
    }

    it('accepts every dashboard expression, with All and with a specific selection', async () => {
      const rules = queries.flatMap((q, i) => [
        { record: `dashboard:query_${i}:all`, expr: expandPromQL(q.text, allSelected) },
        {
          record: `dashboard:query_${i}:one`,
          expr: expandPromQL(q.text, { org_id: '(acme|beta)', model_name: 'gpt\\\\-4o' }),
        },
      ]);
      expect(rules.length).toBeGreaterThan(20);
      const result = await checkRules(rules);
      expect(result.output).toContain(`SUCCESS: ${rules.length} rules found`);
      expect(result.ok, result.output).toBe(true);
    });

    it('rejects a broken expression, so the check above can fail', async () => {
      const result = await checkRules([
        { record: 'dashboard:broken', expr: 'sum(rate(ai_inference_requests_total[5m])' },
      ]);
      expect(result.ok).toBe(false);
      expect(result.output).toMatch(/parse error|unclosed|expected/i);
    });
  });
});
