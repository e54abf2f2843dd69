/**
 * The OTLP load generator of the ingest benchmark, run in a worker thread so that encoding requests does not share
 * the service's event loop (a real client runs elsewhere). Every request is serialised before the parent says go
 * (OTLP/protobuf or OTLP/JSON, `batchSize` spans each); then `concurrency` clients post them, each request to the
 * next of `urls` in turn, and the worker reports how many spans it sent.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { spans, toOtlp, toOtlpJson } from './_ingest-data.ts';

const { urls, key, from, count, batchSize, concurrency, format } = workerData as {
  urls: string[];
  key: string;
  from: number;
  count: number;
  batchSize: number;
  concurrency: number;
  format: 'protobuf' | 'json';
};
const bodies: (Uint8Array | string)[] = [];
for (let i = from; i < from + count; i += batchSize) {
  const batch = spans(i, Math.min(batchSize, from + count - i));
  bodies.push(format === 'protobuf' ? toOtlp(batch) : toOtlpJson(batch));
}
const contentType = format === 'protobuf' ? 'application/x-protobuf' : 'application/json';
let next = 0;
async function client(): Promise<void> {
  while (next < bodies.length) {
    const index = next++;
    const res = await fetch(urls[index % urls.length]!, {
      method: 'POST',
      body: bodies[index]!,
      headers: { authorization: `Bearer ${key}`, 'content-type': contentType },
    });
    if (res.status !== 200) throw new Error(`receiver answered ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
  }
}
parentPort!.postMessage('ready');
parentPort!.once('message', async () => {
  try {
    await Promise.all(Array.from({ length: concurrency }, client));
    parentPort!.postMessage('done');
  } catch (err) {
    parentPort!.postMessage((err as Error).message);
  }
});
