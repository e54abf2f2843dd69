import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAiMetrics, Ingest, LogIngest } from '@observatory/exporter-postgres';
import { validate } from '@readme/openapi-parser';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp } from '../app.ts';
import { LocalStorage } from '../exports/local-storage.ts';
import { createExportMetrics } from '../exports/metrics.ts';
import { DownloadSigner } from '../exports/signing.ts';
import { StreamHub } from '../stream/hub.ts';
import { DOCS_PATH, OPENAPI_PATH } from './docs.ts';

// Building the app connects to nothing: the pool is never asked for a connection, nothing is started.
const pool = new pg.Pool({ connectionString: 'postgres://nobody@127.0.0.1:1/none' });
const dir = await mkdtemp(join(tmpdir(), 'observatory-openapi-'));
const metrics = createAiMetrics({ maxOrgs: 1, maxModels: 1 });
const app = createApp({
  pool,
  logger: pino({ level: 'silent' }),
  alerting: { alertmanagerToken: 'a'.repeat(32) },
  exports: {
    storage: new LocalStorage(dir),
    signer: new DownloadSigner(Buffer.alloc(32)),
    metrics: createExportMetrics(),
    rateLimitPerMinute: 1,
    urlTtlSeconds: 60,
  },
  ingest: new Ingest({ pool, spillDir: dir, metrics }),
  logs: new LogIngest({ pool, spillDir: join(dir, 'logs') }),
  metrics,
  metricsToken: 'm'.repeat(32),
  hub: new StreamHub('postgres://nobody@127.0.0.1:1/none', pool),
});

afterAll(async () => {
  await metrics.shutdown();
  await pool.end();
  await rm(dir, { recursive: true, force: true });
});

type Operation = {
  operationId?: string;
  parameters?: { in: string; name: string }[];
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { content?: Record<string, unknown> }>;
};
type Document = {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
};

const res = await app.request(OPENAPI_PATH);
const doc = (await res.json()) as Document;

const operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
  Object.entries(methods).map(([method, operation]) => ({ path, method, operation })),
);

/** `METHOD /path` of every route served but not in the document (the document's own two routes aside). */
export function undocumentedRoutes(routes: { method: string; path: string }[], document: Document): string[] {
  const missing = routes
    .filter((r) => r.method !== 'ALL' && r.path !== OPENAPI_PATH && r.path !== DOCS_PATH)
    .filter((r) => !document.paths[r.path.replace(/:(\w+)/g, '{$1}')]?.[r.method.toLowerCase()])
    .map((r) => `${r.method} ${r.path}`);
  return [...new Set(missing)];
}

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    expect(res.status).toBe(200);
    expect((doc as unknown as { openapi: string }).openapi).toBe('3.1.0');
    // validate() dereferences in place; give it a copy.
    const result = await validate(structuredClone(doc) as never);
    expect(result.valid ? [] : result.errors).toEqual([]);
  });

  it('describes every route the app serves', () => {
    expect(undocumentedRoutes(app.routes, doc)).toEqual([]);
    // The check itself notices a route left out.
    expect(undocumentedRoutes([{ method: 'GET', path: '/api/undocumented/:id' }], doc)).toEqual([
      'GET /api/undocumented/:id',
    ]);
  });

  it('names every operation and declares every path parameter', () => {
    expect(operations.length).toBeGreaterThan(30);
    for (const { path, method, operation } of operations) {
      expect(operation.operationId, `${method} ${path}`).toMatch(/^[a-z][A-Za-z]+$/);
      const declared = (operation.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
      expect(declared.sort(), `${method} ${path}`).toEqual(
        [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort(),
      );
    }
  });

  it('has named schemas for the resources', () => {
    for (const name of [
      'AiEvent',
      'Problem',
      'ExportJob',
      'Alert',
      'AlertRule',
      'Key',
      'Session',
      'EventEnvelope',
      'TracePage',
      'TraceTree',
      'SessionPage',
      'SessionDetail',
      'LogPage',
      'LogLine',
    ]) {
      expect(doc.components.schemas, name).toHaveProperty(name);
    }
  });

  it('describes the bodies of OTLP ingest and the live stream', () => {
    for (const path of ['/v1/traces', '/v1/logs']) {
      const otlp = doc.paths[path]!.post!;
      expect(otlp.requestBody!.content['application/x-protobuf']!.schema).toMatchObject({
        type: 'string',
        format: 'binary',
      });
      expect(otlp.requestBody!.content['application/json']!.schema).toMatchObject({ type: 'object' });
      expect(Object.keys(otlp.responses['200']!.content!)).toEqual([
        'application/x-protobuf',
        'application/json',
      ]);
    }
    const stream = doc.paths['/api/telemetry/stream']!.get!;
    expect(Object.keys(stream.responses['200']!.content!)).toEqual(['text/event-stream']);
  });
});
