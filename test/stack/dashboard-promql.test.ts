import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { expandPromQL, loadDashboard, promQueries } from './dashboard.ts';
import { promtool, promtoolAvailable } from './stack-files.ts';

/**
 * Metric names the service exposes (issue 3, "exactly these names", and the exporter health counters),
 * plus what Prometheus and the Collector expose themselves. A typo in a dashboard metric name is valid
 * PromQL that silently shows "No data", so names are checked here as well as syntax.
 */
const knownMetrics = new Set([
  'ai_inference_requests_total',
  'ai_inference_errors_total',
  'ai_inference_fallbacks_total',
  'ai_inference_latency_seconds_bucket',
  'ai_inference_latency_seconds_sum',
  'ai_inference_latency_seconds_count',
  'ai_cost_usd_total',
  'ai_unpriced_events_total',
  'observatory_exporter_queue_depth',
  'observatory_exporter_spilled_events_total',
  'observatory_exporter_dropped_events_total',
  'observatory_exporter_errors_total',
  'observatory_exporter_events_written_total',
  'up',
  'otelcol_exporter_send_failed_spans_total',
]);

/** Labels each AI metric carries; a dashboard filter on any other label can never match. */
const aiMetricLabels: Record<string, string[]> = {
  ai_inference_requests_total: ['org_id', 'model_name'],
  ai_inference_errors_total: ['org_id', 'model_name', 'error_code'],
  ai_inference_fallbacks_total: ['org_id', 'fallback_model'],
  ai_inference_latency_seconds_bucket: ['org_id', 'model_name', 'le'],
  ai_cost_usd_total: ['org_id'],
  ai_unpriced_events_total: ['org_id', 'model_name'],
};

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
  // Label matchers and durations hold no metric names: blank them before picking identifiers.
  const skeleton = expr.replace(/\{[^}]*\}/g, '{}').replace(/\[[^\]]*\]/g, '[]');
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
    ]) {
      expect(titles, title).toContain(title);
    }
  });

  it('uses only metric names the stack exposes', () => {
    for (const q of queries) {
      for (const name of metricNames(q.text)) expect(knownMetrics, `${q.panel}: ${q.text}`).toContain(name);
    }
  });

  it('filters every AI metric by the org variable, and by model only where the metric has that label', () => {
    for (const q of queries) {
      for (const m of q.text.matchAll(/(ai_[a-z_]+)\{([^}]*)\}/g)) {
        const [, metric, matchers] = m as unknown as [string, string, string];
        const labels = [...matchers.matchAll(/([a-z_]+)\s*=~?/g)].map((l) => l[1]!);
        expect(labels, `${q.panel}: ${metric}`).toContain('org_id');
        for (const label of labels) expect(aiMetricLabels[metric], `${q.panel}: ${metric}`).toContain(label);
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
