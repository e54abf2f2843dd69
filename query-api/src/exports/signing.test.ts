import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DownloadSigner, resolveSigningSecret } from './signing.ts';

const dir = await mkdtemp(join(tmpdir(), 'observatory-signing-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('download signing', () => {
  const download = { jobId: 'job-1', orgId: 'acme', keyId: 'key-1', expires: 2_000_000_000 };

  it('accepts its own signature and refuses any change to job, org, key, expiry or secret', async () => {
    const signer = new DownloadSigner(Buffer.from('s'.repeat(32)));
    const signature = signer.sign(download);
    expect(signer.verify(download, signature)).toBe(true);
    expect(signer.verify({ ...download, jobId: 'job-2' }, signature)).toBe(false);
    expect(signer.verify({ ...download, orgId: 'globex' }, signature)).toBe(false);
    expect(signer.verify({ ...download, keyId: 'key-2' }, signature)).toBe(false);
    expect(signer.verify({ ...download, expires: download.expires + 1 }, signature)).toBe(false);
    expect(signer.verify(download, signature.slice(0, -1))).toBe(false);
    expect(new DownloadSigner(Buffer.from('t'.repeat(32))).verify(download, signature)).toBe(false);
    expect(signer.verify(download, signature, (download.expires + 1) * 1000)).toBe(false);
  });

  it('generates a secret once, keeps it private in the data directory, and prefers the environment', async () => {
    const [a, b] = await Promise.all([
      resolveSigningSecret(undefined, dir),
      resolveSigningSecret(undefined, dir),
    ]);
    expect(a.length).toBeGreaterThanOrEqual(32);
    expect(b).toEqual(a);
    expect(await resolveSigningSecret(undefined, dir)).toEqual(a);
    const path = join(dir, 'signing-secret');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await readFile(path, 'utf8')).trim()).toBe(a.toString());
    expect((await resolveSigningSecret('x'.repeat(40), dir)).toString()).toBe('x'.repeat(40));
  });
});
