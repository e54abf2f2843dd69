import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Ingest } from '@observatory/exporter-postgres';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcStatus } from '../../exporter-postgres/src/otlp/rpc-status.ts';
import { bulkOtlpProtobuf } from '../../exporter-postgres/test/otlp-bulk.ts';
import { type RunningServe, startServe } from '../../test-support/cli.ts';
import { createTestDatabase } from '../../test-support/database.ts';
import { createApp } from '../src/app.ts';
import { createKey } from '../src/keys/keys.ts';

const db = await createTestDatabase();

async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]) * 1024;
}

// The cases against a real `observatory serve` (its own process, so its RSS is its own) with the
// default limits: 64 MiB per body, a 256 MiB body budget, an ingest queue of 100,000 events.
describe('request bodies against the real service', () => {
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

  /** A protobuf request's error body: a google.rpc.Status (OTLP/HTTP). */
  async function statusOf(res: Response): Promise<{ code: number; message: string }> {
    return RpcStatus.toObject(RpcStatus.decode(new Uint8Array(await res.arrayBuffer()))) as {
      code: number;
      message: string;
    };
  }

  function postTraces(body: Uint8Array, headers: Record<string, string> = {}) {
    return fetch(`${serve.baseUrl}/v1/traces`, {
      method: 'POST',
      body,
      headers: { authorization: `Bearer ${ingestKey}`, 'content-type': 'application/x-protobuf', ...headers },
    });
  }

  it('refuses ten concurrent gzip bombs (1 MB inflating to 1 GiB) with 413, memory flat and /health fast', async () => {
    // Gzip members may be concatenated: 1024 copies of 1 MiB of zeros, compressed once, inflate to 1 GiB.
    const bomb = Buffer.concat(Array(1024).fill(gzipSync(Buffer.alloc(1024 * 1024), { level: 9 })));
    expect(bomb.byteLength).toBeLessThan(1.1e6);
    const before = await rssBytes(serve.child.pid!);
    const { result, slowestHealthMs, peakRss } = await watched(() =>
      Promise.all(
        Array.from({ length: 10 }, async () => {
          const res = await postTraces(bomb, { 'content-encoding': 'gzip' });
          return { status: res.status, body: await statusOf(res) };
        }),
      ),
    );
    for (const answer of result) {
      expect(answer.status).toBe(413);
      expect(answer.body.message).toMatch(/larger than 67108864 bytes after decompression/);
    }
    expect(peakRss - before).toBeLessThan(300 * 1024 * 1024);
    expect(slowestHealthMs).toBeLessThan(1000);
  });

  it('refuses a 40 MB request of 150,000 spans once with 413 naming the limit, /health fast meanwhile', async () => {
    const body = bulkOtlpProtobuf(150_000, 'forty-megabytes');
    expect(body.byteLength).toBeGreaterThan(40e6);
    const { result, slowestHealthMs } = await watched(async () => {
      const res = await postTraces(body);
      return { status: res.status, body: await statusOf(res) };
    });
    expect(result.status).toBe(413);
    expect(result.body.message).toMatch(/150000 spans; at most 100000 .*OBSERVATORY_INGEST_QUEUE/);
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

describe('body doors of the ingest routes', () => {
  const budget = 1024 * 1024;
  let app: ReturnType<typeof createApp>;
  let ingest: Ingest;
  let spillDir: string;
  let key: string;

  beforeAll(async () => {
    spillDir = await mkdtemp(join(tmpdir(), 'observatory-bodies-app-'));
    ingest = new Ingest({ pool: db.pool, spillDir, flushIntervalMs: 10 });
    await ingest.start();
    app = createApp({ pool: db.pool, logger: pino({ level: 'silent' }), ingest, maxBufferedBytes: budget });
    key = (await createKey(db.pool, { orgId: 'bodies-app', role: 'ingest' })).key;
  });

  afterAll(async () => {
    await ingest.shutdown();
    await rm(spillDir, { recursive: true, force: true });
  });

  const post = (path: string, body: RequestInit['body']) =>
    app.request(path, {
      method: 'POST',
      body,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      duplex: 'half',
    } as RequestInit);

  it('answers 503 with Retry-After while the body budget is taken, and takes bodies again once it is freed', async () => {
    // 400 KiB held by a paused client leave too little of the 1 MiB budget for a 700 KiB body.
    const held = ' '.repeat(400 * 1024);
    const padding = ' '.repeat(700 * 1024);
    let parked!: () => void;
    const waiting = new Promise<void>((r) => {
      parked = r;
    });
    let resume!: () => void;
    const gate = new Promise<void>((r) => {
      resume = r;
    });
    let pulls = 0;
    // A client sending 400 KiB, then pausing mid-body: the service holds those bytes meanwhile.
    const slowBody = new ReadableStream<Uint8Array>({
      async pull(controller) {
        pulls++;
        if (pulls === 1) controller.enqueue(new TextEncoder().encode(held));
        else {
          parked();
          await gate;
          controller.enqueue(new TextEncoder().encode('{"resourceSpans":[]}'));
          controller.close();
        }
      },
    });
    const slow = post('/v1/traces', slowBody);
    await waiting;
    await new Promise((r) => setImmediate(r));

    const refused = await post('/v1/traces', `${padding}{"resourceSpans":[]}`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.headers.get('content-type')).toMatch(/problem\+json/);

    resume();
    expect((await slow).status).toBe(200);
    expect((await post('/v1/traces', `${padding}{"resourceSpans":[]}`)).status).toBe(200);
  });

  it('answers 413 naming the setting for a body that alone needs more than the whole budget', async () => {
    const res = await post('/v1/traces', `${' '.repeat(budget)}{"resourceSpans":[]}`);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { detail: string }).detail).toMatch(/OBSERVATORY_MAX_BUFFERED_BYTES/);
  });

  it('refuses OTLP/JSON that is not an object, or nests too deep, with 400 naming the body', async () => {
    const span = (value: string) =>
      `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"${'a'.repeat(32)}","spanId":"${'b'.repeat(16)}",` +
      `"startTimeUnixNano":"1","endTimeUnixNano":"2","attributes":[{"key":"k","value":${value}}]}]}]}]}`;
    const nested = (levels: number) =>
      `${'{"kvlistValue":{"values":[{"key":"k","value":'.repeat(levels)}{"stringValue":"x"}${'}]}}'.repeat(levels)}`;
    expect((await post('/v1/traces', span(nested(8)))).status).toBe(200);
    const refusals = [
      ['[]', /not an ExportTraceServiceRequest object/],
      ['[{"resourceSpans":[]}]', /not an ExportTraceServiceRequest object/],
      [`[${' '.repeat(300 * 1024)}]`, /not an ExportTraceServiceRequest object/],
      ['"resourceSpans"', /not an ExportTraceServiceRequest object/],
      [span(nested(20)), /deeper than 64 levels/],
      [`${'['.repeat(200_000)}${']'.repeat(200_000)}`, /deeper than 64 levels/],
    ] as const;
    for (const [body, detail] of refusals) {
      const res = await post('/v1/traces', body);
      expect(res.status).toBe(400);
      const problem = (await res.json()) as { detail: string; errors: { field: string }[] };
      expect(problem.detail).toMatch(detail);
      expect(problem.errors).toEqual([{ field: 'body', message: expect.any(String) }]);
    }
  });

  it('refuses JSON ingest bodies that are neither an object nor an array, or nest too deep, with 400', async () => {
    for (const [body, detail] of [
      ['42', /must be a JSON object \(one event\) or an array of them/],
      ['null', /must be a JSON object/],
      ['"event"', /must be a JSON object/],
      [`{"tags":${'{"a":'.repeat(100)}1${'}'.repeat(100)}}`, /deeper than 64 levels/],
    ] as const) {
      const res = await post('/api/telemetry/events', body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { detail: string }).detail).toMatch(detail);
    }
  });
});
