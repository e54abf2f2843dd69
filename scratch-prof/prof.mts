import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { createAiMetrics, Ingest, migrate } from '/work/wt-bodies/exporter-postgres/src/index.ts';
import { bulkOtlpProtobuf } from '/work/wt-bodies/exporter-postgres/test/otlp-bulk.ts';
import { createApp } from '/work/wt-bodies/query-api/src/app.ts';
import { createKey } from '/work/wt-bodies/query-api/src/keys/keys.ts';
const name = `bodies_scratch_${process.pid}`;
const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
await admin.connect();
await admin.query(`CREATE DATABASE ${name}`);
const url = `postgres://postgres@127.0.0.1:5432/${name}`;
const pool = new pg.Pool({ connectionString: url });
try {
  await migrate(pool);
  const metrics = createAiMetrics({ maxOrgs: 100, maxModels: 100 });
  const ingest = new Ingest({ pool, spillDir: await mkdtemp(join(tmpdir(), 'prof-')), metrics });
  await ingest.start();
  const app = createApp({ pool, logger: pino({ level: 'silent' }), ingest, metrics });
  const key = (await createKey(pool, { orgId: 'p', role: 'ingest' })).key;
  const body = bulkOtlpProtobuf(10_000, 'prof');
  // warm the worker
  await app.request('/v1/traces', { method: 'POST', body: Buffer.alloc(300_000), headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-protobuf' } });
  let last = performance.now(); const stalls: [number, number][] = [];
  const t0 = performance.now();
  const timer = setInterval(() => { const now = performance.now(); if (now - last > 50) stalls.push([Math.round(last - t0), Math.round(now - last)]); last = now; }, 1);
  const res = await app.request('/v1/traces', { method: 'POST', body, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-protobuf' } });
  clearInterval(timer);
  console.log(res.status, 'total', Math.round(performance.now() - t0), 'stalls', JSON.stringify(stalls));
  await ingest.shutdown(); await metrics.shutdown();
} finally {
  await pool.end();
  await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
  await admin.end();
}
