/**
 * `npm run bench`: runs every benchmark in this folder in turn and prints its figures. Each benchmark
 * measures its own baseline in the same run and prints ratios against it; nothing here asserts.
 */
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
// `npm run bench -- query-api ingest` or `BENCH_ONLY=query,ingest npm run bench`: those benchmarks alone (by name prefix).
const only = process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(',') : process.argv.slice(2);
const files = (await readdir(here))
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_'))
  .sort();
for (const file of files) {
  const name = file.replace(/\.ts$/, '');
  if (only.length && !only.some((prefix) => name.startsWith(prefix.trim()))) continue;
  console.log(`\n=== ${name} ===`);
  // Each benchmark module exports one `run…Bench()` function that prints its own figures.
  const module = (await import(`./${file}`)) as Record<string, unknown>;
  const entry = Object.entries(module).find(
    ([key, value]) => /^run\w*Bench$/.test(key) && typeof value === 'function',
  );
  if (!entry) {
    console.log('(no exported run…Bench(); skipped)');
    continue;
  }
  await (entry[1] as () => Promise<unknown>)();
}
