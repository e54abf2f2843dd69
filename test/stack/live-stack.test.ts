import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ObservatoryAttributes, StandardAttributes } from '@observatory/exporter-postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort, type RunningServe, runCli, startServe } from '../../test-support/cli.ts';
import { createTestDatabase } from '../../test-support/database.ts';
import { until } from '../../test-support/until.ts';
import { expandPromQL, loadDashboard, promQueries } from './dashboard.ts';

/**
 * Harness: a migrated database, `observatory serve`, an ingest key, OTLP/JSON traffic to POST /v1/traces
 * (successes, errors, fallbacks, an unpriced model) in two bursts, and the real Debian `prometheus`
 * scraping the service every second; then every dashboard expression is sent to Prometheus' query API
 * and must succeed with data.
 */

/** Expressions over what this harness does not run (no collector here); they return nothing by design. */
const needsTheCollector = (expr: string) => /otelcol_|job="otel-collector"/.test(expr);

const hex = (bytes: number) =>
  [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, '0')).join('');

function aiSpan(model: string, outcome: 'ok' | 'error' | 'fallback') {
  const end = BigInt(Date.now()) * 1_000_000n;
  const attributes: Record<string, string | number | boolean> = {
    [StandardAttributes.OPERATION_NAME]: 'chat',
    [StandardAttributes.PROVIDER_NAME]: 'openai',
    [StandardAttributes.REQUEST_MODEL]: model,
    [StandardAttributes.INPUT_TOKENS]: 120,
    [StandardAttributes.OUTPUT_TOKENS]: 40,
  };
  // Successful calls streamed: their first chunk came 80 ms in.
  if (outcome === 'ok') attributes[StandardAttributes.RESPONSE_TIME_TO_FIRST_CHUNK] = 0.08;
  if (outcome === 'error') attributes[StandardAttributes.ERROR_TYPE] = 'rate_limited';
  if (outcome === 'fallback') {
    attributes[ObservatoryAttributes.FALLBACK_USED] = true;
    attributes[ObservatoryAttributes.FALLBACK_REASON] = 'timeout';
    attributes[ObservatoryAttributes.FALLBACK_MODEL] = 'gpt-4o-mini';
  }
  return {
    traceId: hex(16),
    spanId: hex(8),
    name: `chat ${model}`,
    kind: 3,
    startTimeUnixNano: String(end - 250_000_000n),
    endTimeUnixNano: String(end),
    attributes: Object.entries(attributes).map(([key, value]) => ({
      key,
      value:
        typeof value === 'boolean'
          ? { boolValue: value }
          : typeof value === 'number'
            ? Number.isInteger(value)
              ? { intValue: String(value) }
              : { doubleValue: value }
            : { stringValue: value },
    })),
    status: outcome === 'error' ? { code: 2 } : { code: 0 },
  };
}

const SPANS_PER_BURST = 27;

async function sendTraffic(baseUrl: string, ingestKey: string) {
  const spans = [
    ...Array.from({ length: 20 }, () => aiSpan('gpt-4o', 'ok')),
    ...Array.from({ length: 3 }, () => aiSpan('gpt-4o', 'error')),
    ...Array.from({ length: 2 }, () => aiSpan('gpt-4o', 'fallback')),
    ...Array.from({ length: 2 }, () => aiSpan('in-house-unpriced-7b', 'ok')),
  ];
  expect(spans).toHaveLength(SPANS_PER_BURST);
  const body = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'dashboard-harness' } }] },
        scopeSpans: [{ scope: { name: 'harness' }, spans }],
      },
    ],
  };
  const response = await fetch(`${baseUrl}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ingestKey}` },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
}

async function query(prometheusUrl: string, expr: string) {
  const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  return (await response.json()) as { status: string; error?: string; data: { result: unknown[] } };
}

describe('dashboard against a real Prometheus scraping a real service', () => {
  let serve: RunningServe;
  let prometheus: ChildProcess;
  let prometheusUrl: string;
  let dir: string;

  beforeAll(async () => {
    const db = await createTestDatabase();
    const key = await runCli(['keys', 'create', '--org', 'acme', '--role', 'ingest'], {
      DATABASE_URL: db.url,
    });
    const ingestKey = key.stdout.trim().split('\n').at(-1)!;
    const metricsToken = 'live-stack-metrics-token-0123456789';
    serve = await startServe({
      DATABASE_URL: db.url,
      LOG_LEVEL: 'silent',
      OBSERVATORY_METRICS_TOKEN: metricsToken,
    });

    dir = await mkdtemp(join(tmpdir(), 'observatory-live-stack-'));
    const port = await freePort();
    prometheusUrl = `http://127.0.0.1:${port}`;
    await writeFile(join(dir, 'metrics-token'), metricsToken, { mode: 0o600 });
    await writeFile(
      join(dir, 'prometheus.yml'),
      stringify({
        global: { scrape_interval: '1s', evaluation_interval: '1s' },
        scrape_configs: [
          {
            job_name: 'observatory',
            authorization: { type: 'Bearer', credentials_file: join(dir, 'metrics-token') },
            static_configs: [{ targets: [new URL(serve.baseUrl).host] }],
          },
        ],
      }),
    );
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: 'ignore' },
    );

    // Two bursts, each waited for until Prometheus has scraped it, so rate() and increase() have two samples
    // that differ.
    for (const burst of [1, 2]) {
      await sendTraffic(serve.baseUrl, ingestKey);
      await until(
        `Prometheus to scrape burst ${burst}`,
        async () => {
          const scraped = await query(prometheusUrl, 'sum(ai_inference_requests_total)').catch(
            () => undefined,
          );
          const value = (scraped?.data.result[0] as { value?: [number, string] } | undefined)?.value?.[1];
          return Number(value) >= burst * SPANS_PER_BURST;
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      );
    }
  }, 120_000);

  afterAll(async () => {
    prometheus?.kill('SIGTERM');
    if (serve?.child.pid) process.kill(-serve.child.pid, 'SIGTERM');
    await serve?.exited;
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('answers every dashboard expression without error and with data', async () => {
    for (const q of promQueries(loadDashboard())) {
      const expr = expandPromQL(q.text, { org_id: '.*', model_name: '.*' }).replaceAll('[1m]', '[10s]');
      const result = await query(prometheusUrl, expr);
      expect(result.status, `${q.panel}: ${expr}: ${result.error}`).toBe('success');
      if (!needsTheCollector(expr))
        expect(result.data.result.length, `${q.panel}: ${expr}`).toBeGreaterThan(0);
    }
  });
});
