import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bulkOtlpProtobuf } from '../../exporter-postgres/test/otlp-bulk.ts';
import { type RunningServe, startServe } from '../../test-support/cli.ts';
import { createTestDatabase } from '../../test-support/database.ts';
import { createKey } from '../src/keys/keys.ts';

// The cases against a real `observatory serve` (its own process, so its RSS is its own) with the
// default limits: 64 MiB per body, a 256 MiB body budget, an ingest queue of 100,000 events.
const db = await createTestDatabase();
let serve: RunningServe;
let dataDir: string;
let ingestKey: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'observatory-bodies-'));
  serve = await startServe({
    DATABASE_URL: db.url,
    OBSERVATORY_DATA_DIR: dataDir,
    OBSERVATORY_WORKER: 'false',
  });
  ingestKey = (await createKey(db.pool, { orgId: 'bodies', role: 'ingest' })).key;
});

afterAll(async () => {
  serve.child.kill('SIGTERM');
  await serve.exited;
  await rm(dataDir, { recursive: true, force: true });
});

async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]) * 1024;
}

/**
 * Runs `work` while asking /health one request after another and sampling the service's RSS; reports the
 * slowest /health answer and the highest RSS seen.
 */
async function watched<T>(
  work: () => Promise<T>,
): Promise<{ result: T; slowestHealthMs: number; peakRss: number }> {
  const pid = serve.child.pid!;
  let done = false;
  let slowestHealthMs = 0;
  let peakRss = await rssBytes(pid);
  const health = (async () => {
    while (!done) {
      const started = performance.now();
      const res = await fetch(`${serve.baseUrl}/health`);
      await res.arrayBuffer();
      expect(res.status).toBe(200);
      slowestHealthMs = Math.max(slowestHealthMs, performance.now() - started);
    }
  })();
  const sampler = setInterval(() => {
    rssBytes(pid).then(
      (rss) => {
        peakRss = Math.max(peakRss, rss);
      },
      () => undefined,
    );
  }, 20);
  try {
    const result = await work();
    return { result, slowestHealthMs, peakRss };
  } finally {
    done = true;
    clearInterval(sampler);
    await health;
  }
}

function postTraces(body: Uint8Array, headers: Record<string, string> = {}) {
  return fetch(`${serve.baseUrl}/v1/traces`, {
    method: 'POST',
    body,
    headers: { authorization: `Bearer ${ingestKey}`, 'content-type': 'application/x-protobuf', ...headers },
  });
}

describe('request bodies against the real service', () => {
  it('refuses ten concurrent gzip bombs (1 MB inflating to 1 GiB) with 413, memory flat and /health fast', async () => {
    // Gzip members may be concatenated: 1024 copies of 1 MiB of zeros, compressed once, inflate to 1 GiB.
    const bomb = Buffer.concat(Array(1024).fill(gzipSync(Buffer.alloc(1024 * 1024), { level: 9 })));
    expect(bomb.byteLength).toBeLessThan(1.1e6);
    const before = await rssBytes(serve.child.pid!);
    const { result, slowestHealthMs, peakRss } = await watched(() =>
      Promise.all(
        Array.from({ length: 10 }, async () => {
          const res = await postTraces(bomb, { 'content-encoding': 'gzip' });
          return { status: res.status, body: (await res.json()) as { detail: string } };
        }),
      ),
    );
    for (const answer of result) {
      expect(answer.status).toBe(413);
      expect(answer.body.detail).toMatch(/larger than 67108864 bytes after decompression/);
    }
    expect(peakRss - before).toBeLessThan(300 * 1024 * 1024);
    expect(slowestHealthMs).toBeLessThan(1000);
  });

  it('refuses a 40 MB request of 150,000 spans once with 413 naming the limit, /health fast meanwhile', async () => {
    const body = bulkOtlpProtobuf(150_000, 'forty-megabytes');
    expect(body.byteLength).toBeGreaterThan(40e6);
    const { result, slowestHealthMs } = await watched(async () => {
      const res = await postTraces(body);
      return { status: res.status, body: (await res.json()) as { detail: string } };
    });
    expect(result.status).toBe(413);
    expect(result.body.detail).toMatch(/150000 spans; at most 100000 .*OBSERVATORY_INGEST_QUEUE/);
    expect(slowestHealthMs).toBeLessThan(1000);
  });

  it('stores every span of a large request decoded off the event loop, /health fast meanwhile', async () => {
    const body = bulkOtlpProtobuf(3_000, 'large-request');
    const { result, slowestHealthMs } = await watched(async () => (await postTraces(body)).status);
    expect(result).toBe(200);
    const { rows } = await db.pool.query(
      "SELECT count(*)::int AS n FROM ai_events WHERE request_id = 'large-request' AND org_id = 'bodies'",
    );
    expect(rows[0].n).toBe(3_000);
    expect(slowestHealthMs).toBeLessThan(1000);
  });
});
