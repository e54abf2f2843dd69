import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolvePseudonymKey } from './secrets.ts';

const dir = await mkdtemp(join(tmpdir(), 'observatory-secrets-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('the pseudonym key', () => {
  it('is generated once, kept private in the data directory, read again after a restart; the setting wins', async () => {
    const [a, b] = await Promise.all([
      resolvePseudonymKey(undefined, dir),
      resolvePseudonymKey(undefined, dir),
    ]);
    expect(a.length).toBeGreaterThanOrEqual(32);
    expect(b).toEqual(a);
    expect(await resolvePseudonymKey(undefined, dir)).toEqual(a);
    const path = join(dir, 'pseudonym-key');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await readFile(path, 'utf8')).trim()).toBe(a.toString());
    expect((await resolvePseudonymKey('p'.repeat(40), dir)).toString()).toBe('p'.repeat(40));
  });
});
