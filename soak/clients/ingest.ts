import type { AckedBurst, ClientSpec, IngestResult } from '../protocol.ts';
import { bearer, Recorder, sleep } from './http.ts';
import { otlpRequest } from './otlp-request.ts';

const ROUTE = 'POST /v1/traces';
// What OTLP exporters retry (the OTLP/HTTP specification's retryable answers), and no answer at all.
const RETRYABLE = new Set([0, 429, 502, 503, 504]);
const MAX_IN_FLIGHT = 200;

/** Exporter-like backoff: doubling from 500 ms, capped at 5 s, jittered; a Retry-After is honoured as a floor. */
function retryDelayMs(attempt: number, retryAfter: string | null | undefined): number {
  const backoff = Math.min(5000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);
  const after = Number(retryAfter);
  return Number.isFinite(after) && after > 0 ? Math.max(backoff, after * 1000) : backoff;
}

/**
 * Sends OTLP at a fixed rate whatever the answers, each request retried on 429, 5xx and network errors until
 * `giveUpAt`; reports the span ids of every acknowledged request.
 */
export async function runIngest(spec: Extract<ClientSpec, { role: 'ingest' }>): Promise<IngestResult> {
  const recorder = new Recorder();
  const acked: string[] = [];
  const bursts = new Map<number, AckedBurst>();
  let abandoned = 0;
  let retries = 0;
  let inFlight = 0;

  async function send(burstAt: number | undefined): Promise<void> {
    const sentAt = Date.now();
    const request = otlpRequest(spec.spansPerRequest, burstAt === undefined ? undefined : spec.burst?.model);
    for (let attempt = 0; ; attempt++) {
      const res = await recorder.call(`${ROUTE}`, `${spec.url}/v1/traces`, {
        method: 'POST',
        body: request.body,
        headers: bearer(spec.key, { 'content-type': 'application/x-protobuf' }),
      });
      if (res.status === 200) {
        acked.push(...request.spanIds);
        if (burstAt !== undefined) {
          const ackMs = Date.now() - sentAt;
          const known = bursts.get(burstAt);
          if (!known || ackMs < known.firstAckMs) bursts.set(burstAt, { at: burstAt, firstAckMs: ackMs });
        }
        return;
      }
      if (!RETRYABLE.has(res.status) || Date.now() > spec.giveUpAt) {
        abandoned++;
        return;
      }
      retries++;
      await sleep(retryDelayMs(attempt, res.headers?.get('retry-after')));
    }
  }

  const pending = new Set<Promise<void>>();
  const intervalMs = 1000 / spec.requestsPerSecond;
  let next = Date.now();
  while (Date.now() < spec.until) {
    const now = Date.now();
    const burst = spec.burst;
    const phase = burst ? (now - spec.startedAt) % burst.periodMs : Number.POSITIVE_INFINITY;
    const burstAt = burst && phase < burst.onMs ? now - phase : undefined;
    if (inFlight < MAX_IN_FLIGHT) {
      inFlight++;
      const p = send(burstAt).finally(() => {
        inFlight--;
        pending.delete(p);
      });
      pending.add(p);
    }
    next += intervalMs;
    await sleep(Math.max(0, next - Date.now()));
  }
  await Promise.all(pending);
  return {
    role: 'ingest',
    acked,
    abandoned,
    retries,
    bursts: [...bursts.values()],
    timings: recorder.timings,
    statuses: recorder.statuses,
  };
}
