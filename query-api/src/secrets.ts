import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * `configured` when set, else a random secret generated on first use and kept in `<dataDir>/<file>` (mode 0600),
 * so it survives restarts. Every instance sharing the data directory reads the same one.
 */
export async function resolveSecret(
  configured: string | undefined,
  dataDir: string,
  file: string,
): Promise<Buffer> {
  if (configured) return Buffer.from(configured, 'utf8');
  const path = join(dataDir, file);
  await mkdir(dataDir, { recursive: true });
  // Written aside and hard-linked into place: the file appears whole or not at all, and when two processes
  // start together the first link wins and both read the same secret.
  const candidate = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(candidate, randomBytes(32).toString('base64url'), { mode: 0o600 });
  try {
    await link(candidate, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await rm(candidate, { force: true });
  }
  return Buffer.from((await readFile(path, 'utf8')).trim(), 'utf8');
}

/**
 * The key behind user pseudonyms: OBSERVATORY_PSEUDONYM_KEY, else `<dataDir>/pseudonym-key`. Changing it gives
 * every user a new pseudonym from then on.
 */
export function resolvePseudonymKey(configured: string | undefined, dataDir: string): Promise<Buffer> {
  return resolveSecret(configured, dataDir, 'pseudonym-key');
}

/**
 * The key of the audit chains' HMACs: OBSERVATORY_AUDIT_KEY, else `<dataDir>/audit-key`. Every process that writes
 * or verifies audit rows of one database needs the same key; a different one makes `audit verify` fail.
 */
export function resolveAuditKey(configured: string | undefined, dataDir: string): Promise<Buffer> {
  return resolveSecret(configured, dataDir, 'audit-key');
}
