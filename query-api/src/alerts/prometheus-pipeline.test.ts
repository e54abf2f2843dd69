import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import {
  fastRuleFiles,
  findPrometheusBinaries,
  type PrometheusStack,
  startPrometheusStack,
} from '../../../test-support/prometheus.ts';
import { createApp } from '../app.ts';
import { createKey } from '../keys/keys.ts';
import { createLogger } from '../log.ts';

const RULES = fileURLToPath(new URL('../../../alerts/observatory-rules.yml', import.meta.url));
const TOKEN = 'e2e-alertmanager-token-0123456789';
const binaries = findPrometheusBinaries();
const db = await createTestDatabase();
const inCi = process.env.CI === 'true';
if (!binaries && !inCi) {
  console.warn(
    'alerts end to end: prometheus/prometheus-alertmanager are not installed, so this test is SKIPPED',
  );
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/**
 * Stands in for the service's /metrics until the pipeline serves it: counters that grow with time,
 * errors included while `failing` is on.
 */
function fakeMetrics() {
  const started = Date.now();
  let failing = true;
  let errorsWhenStopped = 0;
  const errors = (seconds: number) => (failing ? Math.floor(seconds * 4) : errorsWhenStopped);
  const server = createServer((_req, res) => {
    const seconds = (Date.now() - started) / 1000;
    res
      .writeHead(200, { 'content-type': 'text/plain; version=0.0.4' })
      .end(
        [
          '# TYPE ai_inference_requests_total counter',
          `ai_inference_requests_total{org_id="acme",model_name="gpt-4o"} ${Math.floor(seconds * 10)}`,
          '# TYPE ai_inference_errors_total counter',
          `ai_inference_errors_total{org_id="acme",model_name="gpt-4o",error_code="rate_limited"} ${errors(seconds)}`,
          '',
        ].join('\n'),
      );
  });
  return {
    server,
    stopFailing() {
      errorsWhenStopped = errors((Date.now() - started) / 1000);
      failing = false;
    },
  };
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  logs: () => string,
  timeoutMs = 30_000,
) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`Timed out waiting for ${what}\n${logs()}`);
}

interface AlertJson {
  id: string;
  name: string;
  status: string;
  severity: string;
  source: string;
  labels: Record<string, string>;
  acknowledged_by: string | null;
}

describe.skipIf(!binaries && !inCi)('Prometheus → Alertmanager → service', () => {
  it('fires on failing calls, is acknowledged, and resolves once errors stop', async () => {
    expect(binaries, 'prometheus and prometheus-alertmanager are required in CI').toBeDefined();
    const admin = await createKey(db.pool, { orgId: 'acme', role: 'org_admin' });
    const app = createApp({
      pool: db.pool,
      logger: createLogger('silent'),
      alerting: { alertmanagerToken: TOKEN },
    });
    const service = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }) as Server;
    await new Promise((r) => service.once('listening', r));
    const servicePort = (service.address() as AddressInfo).port;
    const metrics = fakeMetrics();
    const metricsPort = await listen(metrics.server);
    const dir = await mkdtemp(join(tmpdir(), 'observatory-rules-'));
    let stack: PrometheusStack | undefined;
    try {
      stack = await startPrometheusStack({
        scrapeUrl: `http://127.0.0.1:${metricsPort}/metrics`,
        ruleFiles: await fastRuleFiles([RULES], dir),
        webhookUrl: `http://127.0.0.1:${servicePort}/api/telemetry/alerts/webhook`,
        webhookToken: TOKEN,
      });
      const api = (path: string, init: RequestInit = {}) =>
        fetch(`http://127.0.0.1:${servicePort}${path}`, {
          ...init,
          headers: { authorization: `Bearer ${admin.key}`, 'content-type': 'application/json' },
        });
      const errorAlert = async (status: string) => {
        const { alerts } = (await (await api(`/api/telemetry/alerts?status=${status}`)).json()) as {
          alerts: AlertJson[];
        };
        return alerts.find((a) => a.name === 'AIErrorRateSpike');
      };

      const firing = await until(
        'the error-rate alert to reach the service',
        () => errorAlert('active'),
        stack.logs,
      );
      expect(firing).toMatchObject({
        severity: 'critical',
        source: 'prometheus',
        labels: { org_id: 'acme', model_name: 'gpt-4o' },
      });

      const acked = await api(`/api/telemetry/alerts/${firing.id}/ack`, {
        method: 'POST',
        body: JSON.stringify({ note: 'provider is rate limiting us' }),
      });
      expect(acked.status).toBe(200);
      expect(await errorAlert('acknowledged')).toMatchObject({ id: firing.id, acknowledged_by: admin.id });
      const { rows } = await db.pool.query(
        "SELECT actor FROM audit_log WHERE action = 'alert.ack' AND target = $1",
        [firing.id],
      );
      expect(rows).toEqual([{ actor: admin.id }]);

      metrics.stopFailing();
      const resolved = await until('the alert to resolve', () => errorAlert('resolved'), stack.logs);
      expect(resolved.id).toBe(firing.id);
    } finally {
      await stack?.stop();
      await Promise.all([close(metrics.server), close(service)]);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
