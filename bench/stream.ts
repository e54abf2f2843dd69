/**
 * Live-stream latency: from the commit of an event to its SSE message, at BENCH_STREAM_RATE events/s (default
 * 1,000) with BENCH_STREAM_CLIENTS connected clients (default 100) for BENCH_STREAM_SECONDS (default 10).
 */
import type { Server } from 'node:http';
import { pathToFileURL } from 'node:url';
import { serve } from '@hono/node-server';
import { pino } from 'pino';
import { makeEvent } from '../exporter-postgres/test/make-event.ts';
import { createApp } from '../query-api/src/app.ts';
import { createKey } from '../query-api/src/keys/keys.ts';
import { StreamHub } from '../query-api/src/stream/hub.ts';
import { publishCommitted } from '../query-api/src/stream/publish.ts';
import { insertEvents } from '../test-support/insert-events.ts';
import { benchDatabase, fmt } from './support.ts';

export async function runStreamBench(
  rate = Number(process.env.BENCH_STREAM_RATE ?? 1000),
  clients = Number(process.env.BENCH_STREAM_CLIENTS ?? 100),
  seconds = Number(process.env.BENCH_STREAM_SECONDS ?? 10),
): Promise<void> {
  const db = await benchDatabase('stream');
  const hub = new StreamHub(db.url, db.pool);
  await hub.start();
  const app = createApp({ pool: db.pool, logger: pino({ level: 'silent' }), hub });
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/api/telemetry/stream`;
  const key = (await createKey(db.pool, { orgId: 'acme', role: 'viewer' })).key;
  const committedAt = new Map<string, number>();
  const latencies: number[] = [];
  const controller = new AbortController();
  const readers = Array.from({ length: clients }, async () => {
    const res = await fetch(url, { headers: { authorization: `Bearer ${key}` }, signal: controller.signal });
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const id = /"id":"([0-9a-f-]{36})"/.exec(buffer.slice(0, end))?.[1];
          buffer = buffer.slice(end + 2);
          const at = id ? committedAt.get(id) : undefined;
          if (at !== undefined) latencies.push(performance.now() - at);
        }
      }
    } catch {
      // aborted at the end of the run
    }
  });
  await new Promise((r) => setTimeout(r, 500));
  const perTick = Math.max(1, Math.round(rate / 10));
  const started = performance.now();
  let sent = 0;
  while (performance.now() - started < seconds * 1000) {
    const tick = performance.now();
    const events = Array.from({ length: perTick }, () => makeEvent({ org_id: 'acme' }));
    await insertEvents(db.pool, events);
    const now = performance.now();
    for (const e of events) committedAt.set(e.id, now);
    await publishCommitted(db.pool, events);
    sent += events.length;
    await new Promise((r) => setTimeout(r, Math.max(0, 100 - (performance.now() - tick))));
  }
  await new Promise((r) => setTimeout(r, 1000));
  controller.abort();
  await Promise.all(readers);
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await hub.stop();
  await db.drop();
  const sorted = latencies.sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]?.toFixed(1);
  console.log(
    `${fmt(sent / seconds)} events/s to ${clients} clients: ${fmt(latencies.length)} deliveries of ${fmt(sent * clients)}; commit → SSE p50 ${at(0.5)} ms, p99 ${at(0.99)} ms (goal p99 < 100 ms)`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await runStreamBench();
