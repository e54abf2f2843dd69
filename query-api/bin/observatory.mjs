#!/usr/bin/env node
// A checkout runs the TypeScript sources through tsx, so an edit needs no build; the Docker image ships only
// the compiled dist/ (and no tsx), and runs that.
import { existsSync } from 'node:fs';
import { register } from 'node:module';

const sources = new URL('../src/cli/main.ts', import.meta.url);

async function importSources() {
  // The workspace packages' sources too, which they export under the `@observatory/source` condition.
  register('./source-condition.mjs', import.meta.url);
  const { register: registerTsx } = await import('tsx/esm/api');
  registerTsx();
  return import(sources.href);
}

const { main } = existsSync(sources) ? await importSources() : await import('../dist/cli/main.js');
process.exitCode = await main(process.argv.slice(2));
