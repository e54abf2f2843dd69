/**
 * One Observatory receiver as its own process, for the ingest benchmark's scale-out run: the OTLP routes over an
 * Ingest on `DATABASE_URL`, on a free port it prints as the first line of stdout. SIGTERM drains and exits.
 */
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { Ingest } from '@observatory/exporter-postgres';
import pg from 'pg';
import { pino } from 'pino';
import { createApp } from '../query-api/src/app.ts';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 8 });
pool.on('error', () => undefined);
const ingest = new Ingest({ pool, spillDir: process.env.SPILL_DIR!, maxQueue: 1_000_000 });
await ingest.start();
const app = createApp({ pool, logger: pino({ level: 'silent' }), ingest });
const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
await new Promise((r) => server.once('listening', r));
console.log((server.address() as { port: number }).port);
process.once('SIGTERM', async () => {
  await new Promise((r) => server.close(r));
  await ingest.shutdown();
  await pool.end();
  process.exit(0);
});
