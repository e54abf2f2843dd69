import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';
import { runServe } from './server.ts';

describe('observatory serve', () => {
  it('refuses an invalid OBSERVATORY_PRICES_FILE before it touches the database, naming the field', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'observatory-prices-')), 'prices.json');
    writeFileSync(
      file,
      JSON.stringify({ orgs: { acme: [{ model: 'gpt-4o', input: '1', output: 'cheap' }] } }),
    );
    // Nothing listens on port 1: reaching the database would fail with a connection error instead.
    const config = loadConfig({ DATABASE_URL: 'postgres://127.0.0.1:1/none', OBSERVATORY_PRICES_FILE: file });
    await expect(runServe(config)).rejects.toThrow(
      /prices\.json is invalid: orgs\.acme\.0\.output: .*; orgs\.acme\.0\.effective_from/,
    );
  });
});
