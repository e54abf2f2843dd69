import type { ClientSpec, QueryResult } from '../protocol.ts';
import { bearer, Recorder } from './http.ts';

/** What a dashboard and an analyst ask, in turn: the reads a replica serves while it ingests. */
const ROUTES: { route: string; path: string }[] = [
  { route: 'GET /api/telemetry/events', path: '/api/telemetry/events?limit=50' },
  { route: 'GET /api/telemetry?action=overview', path: '/api/telemetry?action=overview&range=1h' },
  { route: 'GET /api/telemetry?action=models', path: '/api/telemetry?action=models&range=1h' },
  { route: 'GET /api/telemetry/traces', path: '/api/telemetry/traces?limit=20' },
  { route: 'GET /api/telemetry/events/stream (CSV)', path: '/api/telemetry/events/stream?limit=500' },
  { route: 'GET /api/telemetry/alerts', path: '/api/telemetry/alerts' },
];

export async function runQuery(spec: Extract<ClientSpec, { role: 'query' }>): Promise<QueryResult> {
  const recorder = new Recorder();
  let next = 0;
  await Promise.all(
    Array.from({ length: spec.concurrency }, async () => {
      while (Date.now() < spec.until) {
        const { route, path } = ROUTES[next++ % ROUTES.length]!;
        await recorder.call(route, `${spec.url}${path}`, { headers: bearer(spec.key) });
      }
    }),
  );
  return { role: 'query', timings: recorder.timings, statuses: recorder.statuses };
}
