/**
 * The rollup trigger's ingest cost: the production writer (batches of 5,000, two at once) into `ai_events` with the
 * trigger on and off, alternating rounds in the same run, so the ratio is measured under the same load; then how long
 * the compactor takes to add what those rounds left pending. BENCH_ROLLUP_EVENTS events per round (default 100,000).
 * `BENCH_ONLY=rollups npm run bench` runs this file alone.
 */
import { pathToFileURL } from 'node:url';
import { compactRollups, createEventWriter } from '@observatory/exporter-postgres';
import { makeEvent } from '../exporter-postgres/test/make-event.ts';
import { benchDatabase, fmt, load } from './support.ts';

const MODELS = ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4', 'llama-3'];
const ENDPOINTS = ['/chat', '/search', '/summarise'];

function events(count: number, round: number) {
  const now = Date.now();
  return Array.from({ length: count }, (_, i) =>
    makeEvent({
      org_id: `org-${i % 3}`,
      model_name: MODELS[i % MODELS.length]!,
      endpoint: ENDPOINTS[i % ENDPOINTS.length]!,
      user_id: `user-${(i * 7 + round) % 500}`,
      success: i % 20 !== 0,
      error_code: i % 20 === 0 ? 'timeout' : null,
      fallback_used: i % 25 === 0,
      latency_ms: 50 + ((i * 7919) % 5000),
      ttft_ms: i % 2 ? 10 + ((i * 31) % 900) : null,
      // As a live service sends them: the last minute, and 2 % late by up to a day.
      created_at: new Date(now - (i % 50 === 0 ? (i * 997) % 86_400_000 : (i * 13) % 60_000)),
    }),
  );
}

/** Rounds, alternating off and on: several, as the shared machine's load moves between them. */
const ROUNDS = Number(process.env.BENCH_ROLLUP_ROUNDS ?? 6);

export async function runRollupsBench(count = Number(process.env.BENCH_ROLLUP_EVENTS ?? 100_000)) {
  const db = await benchDatabase('rollups');
  try {
    const writer = createEventWriter(db.pool);
    const rates: Record<'on' | 'off', number[]> = { on: [], off: [] };
    for (let round = 0; round < ROUNDS; round++) {
      const mode = round % 2 === 0 ? 'off' : 'on';
      await db.pool.query(
        `ALTER TABLE ai_events ${mode === 'on' ? 'ENABLE' : 'DISABLE'} TRIGGER ai_events_rollup_pending`,
      );
      const all = events(count, round);
      const batches = Array.from({ length: Math.ceil(count / 5000) }, (_, i) =>
        all.slice(i * 5000, (i + 1) * 5000),
      );
      const t = performance.now();
      const lanes = [0, 1].map(async (lane) => {
        for (let i = lane; i < batches.length; i += 2) await writer.write(batches[i]!);
      });
      await Promise.all(lanes);
      rates[mode].push(count / ((performance.now() - t) / 1000));
    }
    await db.pool.query('ALTER TABLE ai_events ENABLE TRIGGER ai_events_rollup_pending');
    const best = (xs: number[]) => Math.max(...xs);
    console.log(`writer, ${fmt(count)} events per round, best of ${ROUNDS / 2} rounds each (${load()}):`);
    console.log(`  without the rollup trigger  ${fmt(best(rates.off)).padStart(8)} events/s`);
    console.log(
      `  with the rollup trigger     ${fmt(best(rates.on)).padStart(8)} events/s = ${(best(rates.on) / best(rates.off)).toFixed(2)} × without`,
    );
    const t = performance.now();
    const result = await compactRollups(db.pool);
    const seconds = (performance.now() - t) / 1000;
    console.log(
      `compaction of ${fmt(result.moved)} pending events in ${(seconds * 1000).toFixed(0)} ms = ${fmt(result.moved / seconds)} events/s (${load()})`,
    );
  } finally {
    await db.drop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await runRollupsBench();
