import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { ExportTraceServiceRequest } from '../exporter-postgres/src/otlp/trace-proto.ts';
import { CLI, childEnv } from './cli.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** An OTLP trace request with one model-call span per span id, as OTLP/protobuf or (hex ids) OTLP/JSON. */
export function otlpSpansRequest(
  spanIds: readonly string[],
  { format = 'protobuf', service = 'traffic' }: { format?: 'protobuf' | 'json'; service?: string } = {},
): { body: Uint8Array | string; type: string } {
  const now = BigInt(Date.now()) * 1_000_000n;
  const traceId = hex(16);
  const spans = spanIds.map((spanId) => ({
    traceId,
    spanId,
    name: 'chat gpt-4o',
    kind: 3,
    startTimeUnixNano: (now - 200_000_000n).toString(),
    endTimeUnixNano: now.toString(),
    attributes: [
      { key: 'gen_ai.operation.name', value: { stringValue: 'chat' } },
      { key: 'gen_ai.request.model', value: { stringValue: 'gpt-4o' } },
      { key: 'gen_ai.usage.input_tokens', value: { intValue: 100 } },
    ],
  }));
  const request = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeSpans: [{ scope: { name: service }, spans }],
      },
    ],
  };
  if (format === 'json') return { body: JSON.stringify(request), type: 'application/json' };
  for (const span of spans) {
    Object.assign(span, {
      traceId: Buffer.from(span.traceId, 'hex'),
      spanId: Buffer.from(span.spanId, 'hex'),
    });
  }
  const body = ExportTraceServiceRequest.encode(ExportTraceServiceRequest.fromObject(request)).finish();
  return { body, type: 'application/x-protobuf' };
}

export interface Traffic {
  /** Span ids of every request answered 200. */
  acked: Set<string>;
  /** Statuses other than 200 and the retried 429/503, with their bodies. */
  unexpected: string[];
  /** Answers (or refused connections) retried, by status ("none" for no answer). */
  retried: Map<string, number>;
}

/**
 * OTLP exporters posting spans until `stop` aborts: each retries a refused batch (429, 503, no answer) with the same
 * span ids, as the OTel exporters do, until it is answered 200.
 */
export function sendSpans(options: {
  urls: () => string[];
  key: string;
  stop: AbortSignal;
  clients?: number;
  spansPerRequest?: number;
  pauseMs?: number;
}): { traffic: Traffic; done: Promise<void> } {
  const traffic: Traffic = { acked: new Set(), unexpected: [], retried: new Map() };
  const client = async (n: number) => {
    while (!options.stop.aborted) {
      const spanIds = Array.from({ length: options.spansPerRequest ?? 20 }, () => hex(8));
      const { body } = otlpSpansRequest(spanIds);
      for (let attempt = 0; ; attempt++) {
        const urls = options.urls();
        const res = await fetch(`${urls[(n + attempt) % urls.length]}/v1/traces`, {
          method: 'POST',
          body,
          headers: { authorization: `Bearer ${options.key}`, 'content-type': 'application/x-protobuf' },
          signal: AbortSignal.timeout(15_000),
        }).catch(() => undefined);
        const text = res ? await res.text() : '';
        if (res?.status === 200) {
          for (const id of spanIds) traffic.acked.add(id);
          break;
        }
        if (res && res.status !== 429 && res.status !== 503) {
          traffic.unexpected.push(`POST /v1/traces ${res.status} ${text}`);
          break;
        }
        if (res && !res.headers.get('retry-after'))
          traffic.unexpected.push(`${res.status} without Retry-After`);
        const status = String(res?.status ?? 'none');
        traffic.retried.set(status, (traffic.retried.get(status) ?? 0) + 1);
        await sleep(200);
      }
      await sleep(options.pauseMs ?? 50);
    }
  };
  const done = Promise.all(Array.from({ length: options.clients ?? 2 }, (_, n) => client(n))).then(
    () => undefined,
  );
  return { traffic, done };
}

export interface RunningWriter {
  child: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
}

/** Starts `observatory writer` and waits for its "running" log line. */
export async function startWriter(env: Record<string, string | undefined>): Promise<RunningWriter> {
  const child = spawn(process.execPath, [CLI, 'writer'], { env: childEnv({ ...env, LOG_LEVEL: 'info' }) });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`writer did not start:\n${output}`)), 60_000);
    const onData = (d: Buffer) => {
      output += d;
      if (output.includes('ingest buffer writer running')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`writer exited with ${code}:\n${output}`));
    });
  });
  return { child, exited, output: () => output };
}
