import { once } from 'node:events';
import type { Server } from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';
import { serve } from '@hono/node-server';
import { startTelemetry } from '@observatory/instrumentation';
import { describe, expect, it } from 'vitest';
import { createApp } from './app.ts';
import { FakeModel } from './fake-model.ts';

const REQUESTS = 60;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Serves a fresh app and sends a mix of requests one after another; returns statuses and durations in ms. */
async function drive(): Promise<{ statuses: number[]; durations: number[] }> {
  const app = createApp({
    model: new FakeModel({ latencyMs: 5, errorRate: 0, fallbackRate: 0 }),
    primaryTimeoutMs: 1000,
  });
  const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }) as Server;
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const statuses: number[] = [];
  const durations: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const path = i % 2 ? '/analyze' : '/infer';
    const body = i % 2 ? { text: 'fine', simulate: i % 3 ? 'success' : 'fallback' } : { prompt: 'hi' };
    const started = performance.now();
    const res = await fetch(`${base}${path}`, { method: 'POST', body: JSON.stringify(body) });
    await res.arrayBuffer();
    durations.push(performance.now() - started);
    statuses.push(res.status);
  }
  server.close();
  return { statuses, durations };
}

/** A collector that accepts connections and never answers: the slowest way for an endpoint to be unreachable. */
async function silentCollector() {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createNetServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`,
    connections: () => connections,
    close() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

describe('with the OTLP endpoint unreachable', () => {
  it.each(['refusing connections', 'accepting connections but never answering'])(
    'the service keeps answering without errors or added latency class (%s)',
    async (kind) => {
      const baseline = await drive();
      const collector = kind === 'refusing connections' ? undefined : await silentCollector();
      const telemetry = startTelemetry({
        otlp: { url: collector?.url ?? 'http://127.0.0.1:1/v1/traces' },
        // Export often, so the failing exports overlap the requests being measured.
        batch: { scheduledDelayMillis: 10, maxExportBatchSize: 16, exportTimeoutMillis: 500 },
        shutdownTimeoutMs: 200,
      });
      const traced = await drive();
      await telemetry.shutdown();
      collector?.close();

      if (collector) expect(collector.connections()).toBeGreaterThan(0);
      expect(traced.statuses).toEqual(baseline.statuses);
      expect(traced.statuses.every((s) => s === 200)).toBe(true);
      // Loose on purpose (shared machine): the same order of magnitude as untraced, not a timing benchmark.
      expect(median(traced.durations)).toBeLessThan(median(baseline.durations) * 3 + 5);
    },
  );
});
