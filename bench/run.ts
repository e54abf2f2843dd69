/**
 * `npm run bench`: runs every benchmark in this folder in turn and prints its figures. Each benchmark
 * measures its own baseline in the same run and prints ratios against it; nothing here asserts.
 */
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const only = process.argv.slice(2);
const files = (await readdir(here))
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_'))
  .sort();
for (const file of files) {
  const name = file.replace(/\.ts$/, '');
  if (only.length && !only.includes(name)) continue;
  console.log(`\n=== ${name} ===`);
  const module = (await import(`./${file}`)) as { run?: () => Promise<void> };
  if (typeof module.run !== 'function') {
    console.log('(no exported run(); skipped)');
    continue;
  }
  await module.run();
}
