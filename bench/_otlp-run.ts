import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { withPeakRss } from './support.ts';

/** Posts `count` spans from a client worker to `urls`; spans/s from "go" until the last answer. */
export async function otlpRun(options: {
  urls: string[];
  key: string;
  count: number;
  concurrency: number;
  format: 'protobuf' | 'json';
}): Promise<{ rate: number; peakMb: number; startMb: number }> {
  const client = new Worker(new URL('./_otlp-client.mjs', import.meta.url), {
    workerData: { ...options, from: 0, batchSize: 1000 },
  });
  const [ready] = (await once(client, 'message')) as [string];
  if (ready !== 'ready') throw new Error(`OTLP client: ${ready}`);
  const t = performance.now();
  const { peakMb, startMb } = await withPeakRss(async () => {
    client.postMessage('go');
    const [message] = (await once(client, 'message')) as [string];
    if (message !== 'done') throw new Error(`OTLP client: ${message}`);
  });
  const rate = options.count / ((performance.now() - t) / 1000);
  await client.terminate();
  return { rate, peakMb, startMb };
}
