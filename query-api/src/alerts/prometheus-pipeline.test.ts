import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { createAiMetrics, Ingest } from '@observatory/exporter-postgres';
import { describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import {
  fastRuleFiles,
  findPrometheusBinaries,
  type PrometheusStack,
  startPrometheusStack,
} from '../../../test-support/prometheus.ts';
import { requireTool } from '../../../test-support/system-tools.ts';
import { until } from '../../../test-support/until.ts';
import { createApp } from '../app.ts';
import { createKey } from '../keys/keys.ts';
import { createLogger } from '../log.ts';

const RULES = fileURLToPath(new URL('../../../alerts/observatory-rules.yml', import.meta.url));
const TOKEN = 'e2e-alertmanager-token-0123456789';
const METRICS_TOKEN = 'e2e-metrics-token-0123456789';
const binaries = findPrometheusBinaries();
const db = await createTestDatabase();
const runs = requireTool(
  'Prometheus and Alertmanager',
  binaries !== undefined,
  'prometheus prometheus-alertmanager',
);

function _listen(server: Server): Promise<number> {
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
 * A steady stream of model calls into the service's real ingest path (10 per tick, 4 of them failing while
 * `failing` is on), so its real /metrics moves the way an incident would.
 */
function traffic(baseUrl: string, ingestKey: string) {
  let failing = true;
  const send = async () => {
    const events = Array.from({ length: 10 }, (_, i) => ({
      model_name: 'gpt-4o',
      created_at: new Date().toISOString(),
      latency_ms: 200,
      success: !(failing && i < 4),
      ...(failing && i < 4 ? { error_code: 'rate_limited' } : {}),
    }));
    await fetch(`${baseUrl}/api/telemetry/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ingestKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(events),
    });
  };
  const timer = setInterval(() => void send().catch(() => undefined), 250);
  return {
    stopFailing() {
      failing = false;
    },
    stop() {
      clearInterval(timer);
    },
  };
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

describe.runIf(runs)('Prometheus → Alertmanager → service', () => {
  it('fires on failing calls, is acknowledged, and resolves once errors stop', async () => {
    const admin = await createKey(db.pool, { orgId: 'acme', role: 'org_admin' });
    const ingestKey = await createKey(db.pool, { orgId: 'acme', role: 'ingest' });
    const metrics = createAiMetrics();
    const spillDir = await mkdtemp(join(tmpdir(), 'observatory-e2e-spill-'));
    const ingest = new Ingest({ pool: db.pool, spillDir, metrics, flushIntervalMs: 10 });
    await ingest.start();
    const app = createApp({
      pool: db.pool,
      logger: createLogger('silent'),
      alerting: { alertmanagerToken: TOKEN },
      ingest,
      metrics,
      metricsToken: METRICS_TOKEN,
    });
    const service = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }) as Server;
    await new Promise((r) => service.once('listening', r));
    const servicePort = (service.address() as AddressInfo).port;
    const calls = traffic(`http://127.0.0.1:${servicePort}`, ingestKey.key);
    const dir = await mkdtemp(join(tmpdir(), 'observatory-rules-'));
    let stack: PrometheusStack | undefined;
    try {
      stack = await startPrometheusStack({
        scrapeUrl: `http://127.0.0.1:${servicePort}/metrics`,
        scrapeToken: METRICS_TOKEN,
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

      const firing = await until('the error-rate alert to reach the service', () => errorAlert('active'), {
        context: stack.logs,
        intervalMs: 250,
      });
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

      calls.stopFailing();
      const resolved = await until('the alert to resolve', () => errorAlert('resolved'), {
        context: stack.logs,
        intervalMs: 250,
      });
      expect(resolved.id).toBe(firing.id);
    } finally {
      calls.stop();
      await stack?.stop();
      await close(service);
      await ingest.shutdown();
      await metrics.shutdown();
      await rm(dir, { recursive: true, force: true });
      await rm(spillDir, { recursive: true, force: true });
    }
  });
});
