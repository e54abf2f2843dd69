import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ObservatoryAttributes as Obs } from '@observatory/exporter-postgres';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServe, startServe } from '../../test-support/cli.ts';
import { createTestDatabase } from '../../test-support/database.ts';
import { until } from '../../test-support/until.ts';
import { createKey } from '../src/keys/keys.ts';

const db = await createTestDatabase();
const dataDir = await mkdtemp(join(tmpdir(), 'observatory-privacy-'));
let serve: RunningServe;
let ingestKey: string;
let adminKey: string;

beforeAll(async () => {
  ingestKey = (await createKey(db.pool, { orgId: 'acme', role: 'ingest' })).key;
  adminKey = (await createKey(db.pool, { orgId: 'acme', role: 'org_admin' })).key;
  serve = await startServe({ DATABASE_URL: db.url, OBSERVATORY_DATA_DIR: dataDir, LOG_LEVEL: 'debug' });
});

afterAll(async () => {
  serve?.child.kill('SIGTERM');
  await serve?.exited;
  await rm(dataDir, { recursive: true, force: true });
});

const authorised = (key: string) => ({ authorization: `Bearer ${key}` });

// ---------------------------------------------------------------------------------------------------------------
// Generated personal data. `text` is what is sent; `needles` are what must never come out again.

interface Pii {
  text: string;
  needles: string[];
}

const same = (text: string): Pii => ({ text, needles: [text] });
const digitsToo = (text: string): Pii => ({ text, needles: [text, text.replace(/\D/g, '')] });

function luhnCheckDigit(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = Number(body[body.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return String((10 - (sum % 10)) % 10);
}

const base64url = (text: string) => Buffer.from(text).toString('base64url');
const token = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._~+/-]{15,39}$/);

const email = fc
  .stringMatching(/^[a-z][a-z0-9._+-]{2,15}@[a-z][a-z0-9-]{1,10}\.(com|org|io|co\.uk|de)$/)
  .map(same);
const phone = fc.oneof(
  fc.stringMatching(/^[2-9]\d{9}$/).map(digitsToo),
  fc.stringMatching(/^\+[1-9]\d{9,12}$/).map(digitsToo),
  fc.stringMatching(/^\([2-9]\d{2}\) [2-9]\d{2}-\d{4}$/).map(digitsToo),
  fc.stringMatching(/^\+44 20 \d{4} \d{4}$/).map(digitsToo),
);
const card = fc
  .tuple(fc.constantFrom('4', '51', '37'), fc.stringMatching(/^\d{14}$/), fc.constantFrom('', ' ', '-'))
  .map(([prefix, digits, separator]) => {
    const body = (prefix + digits).slice(0, 15);
    const number = body + luhnCheckDigit(body);
    return digitsToo(separator ? (number.match(/.{1,4}/g) as string[]).join(separator) : number);
  });
const ssn = fc.stringMatching(/^[1-8]\d{2}-[1-9]\d-\d{4}$/).map(same);
const apiKey = fc
  .oneof(
    fc.stringMatching(/^sk-(proj-)?[A-Za-z0-9]{20,40}$/),
    fc.stringMatching(/^ghp_[A-Za-z0-9]{36}$/),
    fc.stringMatching(/^github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}$/),
    fc.stringMatching(/^xoxb-\d{10,12}-[A-Za-z0-9]{24}$/),
    fc.stringMatching(/^AKIA[A-Z0-9]{16}$/),
  )
  .map(same);
const jwt = fc
  .tuple(fc.stringMatching(/^[a-z0-9]{4,20}$/), fc.stringMatching(/^[A-Za-z0-9_-]{20,43}$/))
  .map(([sub, signature]) =>
    same(`${base64url('{"alg":"HS256","typ":"JWT"}')}.${base64url(JSON.stringify({ sub }))}.${signature}`),
  );
const bearer = fc
  .tuple(fc.constantFrom('Bearer ', 'bearer ', 'Authorization: Bearer ', 'authorization: token '), token)
  .map(([prefix, secret]) => ({ text: `${prefix}${secret}`, needles: [secret] }));

const pii = fc.oneof(email, phone, card, ssn, apiKey, jwt, bearer);

/** One value of personal data for every text field of a span and of a JSON event. */
const FIELDS = [
  'user',
  'client',
  'request',
  'service',
  'endpoint',
  'provider',
  'model',
  'responseModel',
  'version',
  'adapter',
  'fallbackReason',
  'fallbackModel',
  'errorType',
  'message',
  'exception',
  'tagKey',
  'tagValue',
  'provenance',
  'content',
  'session',
] as const;
type Sample = Record<(typeof FIELDS)[number], Pii>;
const sample = fc.record(Object.fromEntries(FIELDS.map((f) => [f, pii])) as Record<keyof Sample, typeof pii>);

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const attribute = (key: string, value: string) => ({ key, value: { stringValue: value } });

function otlpSpan(s: Sample, traceId: string) {
  const now = BigInt(Date.now()) * 1_000_000n;
  const attributes: Record<string, string> = {
    'gen_ai.operation.name': 'chat',
    'gen_ai.request.model': s.model.text,
    'gen_ai.response.model': s.responseModel.text,
    'gen_ai.provider.name': s.provider.text,
    'gen_ai.input.messages': s.content.text,
    'user.id': s.user.text,
    'session.id': s.session.text,
    'error.type': s.errorType.text,
    [Obs.CLIENT_ID]: s.client.text,
    [Obs.REQUEST_ID]: s.request.text,
    [Obs.ENDPOINT]: s.endpoint.text,
    [Obs.MODEL_VERSION]: s.version.text,
    [Obs.ADAPTER_ID]: s.adapter.text,
    [Obs.FALLBACK_USED]: 'true',
    [Obs.FALLBACK_REASON]: s.fallbackReason.text,
    [Obs.FALLBACK_MODEL]: s.fallbackModel.text,
    [Obs.TAGS_JSON]: JSON.stringify({ [s.tagKey.text]: `see ${s.tagValue.text}` }),
    [Obs.PROVENANCE_JSON]: JSON.stringify({ source: `upload by ${s.provenance.text}` }),
  };
  return {
    resourceSpans: [
      {
        resource: { attributes: [attribute('service.name', s.service.text)] },
        scopeSpans: [
          {
            scope: { name: 'privacy-test' },
            spans: [
              {
                traceId,
                spanId: hex(8),
                name: `chat ${s.content.text}`,
                kind: 3,
                startTimeUnixNano: String(now - 1_000_000_000n),
                endTimeUnixNano: String(now),
                attributes: Object.entries(attributes).map(([k, v]) => attribute(k, v)),
                status: { code: 2, message: `upstream said: ${s.message.text}; retry later` },
                events: [
                  {
                    name: 'exception',
                    timeUnixNano: String(now),
                    attributes: [attribute('exception.message', `failed for ${s.exception.text}`)],
                  },
                ],
              },
            ],
          },
        ],
      },
    ],
  };
}

function jsonEvent(s: Sample, traceId: string) {
  return {
    trace_id: traceId,
    span_id: hex(8),
    user_id: s.user.text,
    client_id: s.client.text,
    request_id: s.request.text,
    service_name: s.service.text,
    endpoint: s.endpoint.text,
    operation: s.session.text,
    provider: s.provider.text,
    model_name: s.model.text,
    model_version: s.version.text,
    adapter_id: s.adapter.text,
    latency_ms: 12,
    success: false,
    error_code: s.errorType.text,
    error_message: `upstream said: ${s.message.text} and ${s.exception.text}`,
    fallback_used: true,
    fallback_reason: s.fallbackReason.text,
    fallback_model: s.fallbackModel.text,
    provenance: { source: s.provenance.text, nested: [{ who: s.content.text }] },
    tags: { [s.tagKey.text]: s.tagValue.text, authorization: s.responseModel.text },
    created_at: new Date().toISOString(),
  };
}

async function post(path: string, body: unknown): Promise<Response> {
  return fetch(`${serve.baseUrl}${path}`, {
    method: 'POST',
    headers: { ...authorised(ingestKey), 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** A minimal SSE reader: everything the stream delivered, as text. */
function openStream(url: string, headers: Record<string, string>) {
  const controller = new AbortController();
  let text = '';
  const done = (async () => {
    const res = await fetch(url, { headers, signal: controller.signal });
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true });
    }
  })().catch(() => undefined);
  return {
    text: () => text,
    close: async () => {
      controller.abort();
      await done;
    },
  };
}

function leaks(haystack: string, needles: Iterable<string>): string[] {
  return [...needles].filter((needle) => haystack.includes(needle));
}

describe('personal data sent in every text field never comes out again', () => {
  it('not in rows, CSV, an export file, the live stream, /metrics or the log', async () => {
    const stream = openStream(`${serve.baseUrl}/api/telemetry/stream`, authorised(adminKey));
    await until('the stream', () => (stream.text().includes('event: connected') ? true : undefined));
    const needles = new Set<string>();
    let sent = 0;
    try {
      await fc.assert(
        fc.asyncProperty(sample, async (s) => {
          const traceId = hex(16);
          const mine = Object.values(s).flatMap((p) => p.needles);
          for (const needle of mine) needles.add(needle);
          expect((await post('/v1/traces', otlpSpan(s, traceId))).status).toBe(200);
          expect((await post('/api/telemetry/events', jsonEvent(s, traceId))).status).toBe(200);
          sent += 2;
          const { rows } = await db.pool.query(
            'SELECT row_to_json(e)::text AS row FROM ai_events e WHERE trace_id = $1',
            [traceId],
          );
          expect(rows).toHaveLength(2);
          expect(leaks(rows.map((r) => r.row).join('\n'), mine)).toEqual([]);
        }),
        { numRuns: 25 },
      );

      const csv = await (
        await fetch(`${serve.baseUrl}/api/telemetry/events/stream?limit=100000`, {
          headers: authorised(adminKey),
        })
      ).text();
      expect(csv.split('\n').length).toBeGreaterThan(sent);

      const created = await fetch(`${serve.baseUrl}/api/telemetry/export`, {
        method: 'POST',
        headers: { ...authorised(adminKey), 'content-type': 'application/json' },
        body: JSON.stringify({ format: 'jsonl', gzip: false }),
      });
      expect(created.status).toBe(202);
      const { job_id } = (await created.json()) as { job_id: string };
      const downloadUrl = await until('the export job', async () => {
        const job = (await (
          await fetch(`${serve.baseUrl}/api/telemetry/export/${job_id}`, { headers: authorised(adminKey) })
        ).json()) as { download_url: string | null };
        return job.download_url ?? undefined;
      });
      const exported = await (await fetch(downloadUrl)).text();
      expect(exported.trim().split('\n')).toHaveLength(sent);

      await until('every event on the live stream', () =>
        stream.text().split('event: telemetry').length - 1 >= sent ? true : undefined,
      );
      const metrics = await (await fetch(`${serve.baseUrl}/metrics`)).text();
      expect(metrics).toContain('ai_inference_requests_total');
      const { stdout, stderr } = serve.output();

      for (const [where, text] of [
        ['CSV download', csv],
        ['export file', exported],
        ['live stream', stream.text()],
        ['/metrics', metrics],
        ['service log', stdout + stderr],
      ] as const) {
        expect(leaks(text, needles), where).toEqual([]);
      }
    } finally {
      await stream.close();
    }
  });
});

describe('pathological text', () => {
  const jsonFailure = (traceId: string, text: string) => ({
    trace_id: traceId,
    model_name: 'gpt-4o',
    latency_ms: 5,
    success: false,
    error_message: text,
    tags: { note: text },
    created_at: new Date().toISOString(),
  });
  const otlpFailure = (traceId: string, text: string) => {
    const now = String(BigInt(Date.now()) * 1_000_000n);
    return {
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                {
                  traceId,
                  spanId: hex(8),
                  name: 'chat',
                  startTimeUnixNano: now,
                  endTimeUnixNano: now,
                  attributes: [
                    attribute('gen_ai.request.model', 'gpt-4o'),
                    attribute(Obs.TAGS_JSON, JSON.stringify({ note: text })),
                  ],
                  status: { code: 2, message: text },
                },
              ],
            },
          ],
        },
      ],
    };
  };

  async function healthMs(): Promise<number> {
    const started = performance.now();
    const res = await fetch(`${serve.baseUrl}/health`);
    await res.arrayBuffer();
    expect(res.status).toBe(200);
    return performance.now() - started;
  }

  it('is cut before it is scrubbed: through JSON ingest and OTLP, /health answers within 100 ms meanwhile', async () => {
    const length = 60_000;
    const texts = ['a.', '@', '7', '1 ', 'a-', 'f', 'Ab+/', 'a:', 'a.1-b@c:+9 f0:'].map((unit) =>
      unit.repeat(Math.ceil(length / unit.length)).slice(0, length),
    );
    // A first request of each kind, so that what is measured is the work on the text, not code loading.
    expect((await post('/api/telemetry/events', jsonFailure(hex(16), 'warm-up'))).status).toBe(200);
    expect((await post('/v1/traces', otlpFailure(hex(16), 'warm-up'))).status).toBe(200);

    /** Every text through both routes, one at a time; the slowest /health answer seen meanwhile. */
    async function slowestHealthMs(traceId: string): Promise<number> {
      let slowest = 0;
      for (const text of texts) {
        for (const send of [
          () => post('/api/telemetry/events', jsonFailure(traceId, text)),
          () => post('/v1/traces', otlpFailure(traceId, text)),
        ]) {
          // The probe goes out while the hostile request is in flight; a service busy on it answers late.
          const [response, health] = await Promise.all([send(), healthMs()]);
          expect(response.status).toBe(200);
          slowest = Math.max(slowest, health);
        }
      }
      return slowest;
    }

    // The test machine is shared, so one probe can be late for reasons of its own; a service that these texts
    // block (the backtracking scrubber took 5–11 s) is late in every round. The bound must hold in one round.
    let traceId = hex(16);
    let slowest = await slowestHealthMs(traceId);
    for (let round = 1; round < 3 && slowest >= 100; round++) {
      traceId = hex(16);
      slowest = await slowestHealthMs(traceId);
    }
    expect(slowest).toBeLessThan(100);
    const { rows } = await db.pool.query(
      'SELECT max(length(error_message)) AS longest, count(*)::int AS n FROM ai_events WHERE trace_id = $1',
      [traceId],
    );
    expect(rows[0]).toEqual({ longest: 1000, n: 2 * texts.length });
  });
});
