/**
 * The OTLP load generator of the ingest benchmark, run in a worker thread so that encoding requests does not share
 * the service's event loop (a real client runs elsewhere).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { spans, toOtlp } from './_ingest-data.ts';

const { url, key, count, batchSize, concurrency } = workerData as {
  url: string;
  key: string;
  count: number;
  batchSize: number;
  concurrency: number;
};
let next = 0;
async function client(): Promise<void> {
  while (next < count) {
    const body = toOtlp(spans(next, batchSize));
    next += batchSize;
    const res = await fetch(url, {
      method: 'POST',
      body,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-protobuf' },
    });
    if (res.status !== 200) throw new Error(`receiver answered ${res.status}`);
    await res.arrayBuffer();
  }
}
await Promise.all(Array.from({ length: concurrency }, client));
parentPort!.postMessage('done');
