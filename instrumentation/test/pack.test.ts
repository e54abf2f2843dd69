import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { serve } from '@hono/node-server';
import { createAiMetrics, Ingest } from '@observatory/exporter-postgres';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApp } from '../../query-api/src/app.ts';
import { createKey } from '../../query-api/src/keys/keys.ts';
import { createTestDatabase } from '../../test-support/database.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PACKAGES = ['semconv', 'instrumentation'];

/**
 * This environment minus what `npm test` passes down to its children: npm_* variables would point the
 * consumer's npm at this workspace, and NODE_OPTIONS could load the test runner's hooks into the consumer.
 */
function outsideEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name) && name !== 'NODE_OPTIONS'),
  );
  return { ...env, ...extra };
}

/** What a service's author writes: start the SDK, make one traced model call, shut down. */
const CONSUMER = `
import { startTelemetry, traceInference } from '@observatory/instrumentation';

const telemetry = startTelemetry({ serviceName: 'packed-consumer', http: false });
await traceInference(
  { operation: 'chat', model: 'gpt-4o', provider: 'openai', endpoint: '/packed', requestId: process.env.REQUEST_ID },
  async (call) => {
    call.recordUsage({ inputTokens: 120, outputTokens: 30 });
    return 'answer';
  },
);
await telemetry.shutdown();
`;

interface PackResult {
  filename: string;
  files: { path: string }[];
}

const db = await createTestDatabase();
let workDir: string;
let ingest: Ingest;
let metrics: ReturnType<typeof createAiMetrics>;
let server: Server;
let baseUrl: string;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'observatory-sdk-'));
  metrics = createAiMetrics({ maxOrgs: 5, maxModels: 5 });
  ingest = new Ingest({ pool: db.pool, spillDir: join(workDir, 'spill'), metrics, flushIntervalMs: 10 });
  await ingest.start();
  const app = createApp({ pool: db.pool, logger: pino({ level: 'silent' }), ingest, metrics });
  server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
  await new Promise((r) => server.once('listening', r));
  baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  await ingest.shutdown();
  await metrics.shutdown();
  await rm(workDir, { recursive: true, force: true });
});

describe('@observatory/instrumentation from its tarball', () => {
  // About 40 s on a quiet machine, nearly all of it npm installing the OpenTelemetry SDK: the timeout leaves room
  // for a loaded one.
  it('installs outside the workspace without the server packages and delivers a traced call', async () => {
    // npm pack runs each package's prepack, which builds dist/ from the current sources.
    const packed = await run(
      'npm',
      ['pack', '--json', '--pack-destination', workDir, ...PACKAGES.flatMap((p) => ['-w', p])],
      { cwd: ROOT, env: outsideEnv() },
    );
    const tarballs = JSON.parse(packed.stdout) as PackResult[];
    expect(tarballs).toHaveLength(2);
    for (const tarball of tarballs) {
      const paths = tarball.files.map((f) => f.path);
      expect(paths).toEqual(expect.arrayContaining(['package.json', 'dist/index.js', 'dist/index.d.ts']));
      expect(
        paths.filter((p) => !p.startsWith('dist/') && p !== 'package.json' && p !== 'README.md'),
      ).toEqual([]);
      expect(paths.filter((p) => /\.test\.|tsbuildinfo/.test(p))).toEqual([]);
    }

    const consumer = join(workDir, 'consumer');
    await mkdir(consumer);
    await writeFile(
      join(consumer, 'package.json'),
      JSON.stringify({ name: 'packed-consumer', private: true, type: 'module' }),
    );
    await writeFile(join(consumer, 'service.mjs'), CONSUMER);
    await run(
      'npm',
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        ...tarballs.map((t) => join(workDir, t.filename)),
      ],
      { cwd: consumer, env: outsideEnv() },
    );
    for (const serverSide of ['@observatory/exporter-postgres', 'pg']) {
      expect(existsSync(join(consumer, 'node_modules', serverSide)), serverSide).toBe(false);
    }

    const { key: ingestKey } = await createKey(db.pool, { orgId: 'acme', role: 'ingest' });
    const { key: viewerKey } = await createKey(db.pool, { orgId: 'acme', role: 'viewer' });
    await run('node', ['service.mjs'], {
      cwd: consumer,
      env: outsideEnv({
        OTEL_EXPORTER_OTLP_ENDPOINT: baseUrl,
        OTEL_EXPORTER_OTLP_HEADERS: `Authorization=Bearer ${ingestKey}`,
        REQUEST_ID: 'packed-call-1',
      }),
    });

    const event = await vi.waitFor(
      async () => {
        const response = await fetch(`${baseUrl}/api/telemetry/events?request_id=packed-call-1`, {
          headers: { authorization: `Bearer ${viewerKey}` },
        });
        const { items } = (await response.json()) as { items: Record<string, unknown>[] };
        expect(items).toHaveLength(1);
        return items[0]!;
      },
      { timeout: 30_000, interval: 100 },
    );
    expect(event).toMatchObject({
      org_id: 'acme',
      service_name: 'packed-consumer',
      operation: 'chat',
      provider: 'openai',
      model_name: 'gpt-4o',
      endpoint: '/packed',
      input_tokens: 120,
      output_tokens: 30,
      success: true,
    });
  }, 240_000);
});
