import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LocalMasterKeys, rewrapDataKeys } from '@observatory/exporter-postgres';
import type pg from 'pg';
import { withTransaction } from '../db/transaction.ts';
import { resolveSecret } from '../secrets.ts';

export interface MasterKeyConfig {
  OBSERVATORY_MASTER_KEY?: string | undefined;
  OBSERVATORY_MASTER_KEY_PREVIOUS?: string | undefined;
  OBSERVATORY_DATA_DIR: string;
}

const FILE = 'master-key';
const PREVIOUS = `${FILE}.previous`;
const NEXT = `${FILE}.next`;

async function readKeyFile(path: string): Promise<Buffer | undefined> {
  try {
    return Buffer.from((await readFile(path, 'utf8')).trim(), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * The master keys: OBSERVATORY_MASTER_KEY (and OBSERVATORY_MASTER_KEY_PREVIOUS, which only unwraps), else the key
 * file `<dataDir>/master-key`, created on first use with mode 0600, with the one a rotation replaced
 * (`master-key.previous`) and one a rotation stopped midway left (`master-key.next`), which only unwrap.
 */
export async function resolveMasterKeys(config: MasterKeyConfig): Promise<LocalMasterKeys> {
  if (config.OBSERVATORY_MASTER_KEY) {
    const previous = config.OBSERVATORY_MASTER_KEY_PREVIOUS;
    return new LocalMasterKeys(
      Buffer.from(config.OBSERVATORY_MASTER_KEY, 'utf8'),
      previous ? [Buffer.from(previous, 'utf8')] : [],
    );
  }
  const dir = config.OBSERVATORY_DATA_DIR;
  const current = await resolveSecret(undefined, dir, FILE);
  const others = [await readKeyFile(join(dir, PREVIOUS)), await readKeyFile(join(dir, NEXT))];
  return new LocalMasterKeys(
    current,
    others.filter((k): k is Buffer => k !== undefined),
  );
}

/**
 * `observatory keys rotate-master`: every org's data key re-wrapped under the current master key, in one
 * transaction; no ciphertext changes. With OBSERVATORY_MASTER_KEY the new key is that variable and the old one
 * OBSERVATORY_MASTER_KEY_PREVIOUS. With the key file a new key is made: written to `master-key.next` first, the
 * data keys re-wrapped, then it replaces `master-key` (the old one kept as `master-key.previous`), so a rotation
 * stopped at any point leaves every data key readable.
 */
export async function rotateMasterKey(
  pool: pg.Pool,
  config: MasterKeyConfig,
): Promise<{ rewrapped: number; keyId: string }> {
  let keys: LocalMasterKeys;
  const dir = config.OBSERVATORY_DATA_DIR;
  if (config.OBSERVATORY_MASTER_KEY) {
    keys = await resolveMasterKeys(config);
  } else {
    const current = await resolveSecret(undefined, dir, FILE);
    let next = await readKeyFile(join(dir, NEXT));
    if (!next) {
      next = Buffer.from(randomBytes(32).toString('base64url'), 'utf8');
      await writeFile(join(dir, NEXT), next, { mode: 0o600, flag: 'wx' });
    }
    const previous = await readKeyFile(join(dir, PREVIOUS));
    keys = new LocalMasterKeys(next, previous ? [current, previous] : [current]);
  }
  const rewrapped = await withTransaction(pool, (client) => rewrapDataKeys(client, keys));
  if (!config.OBSERVATORY_MASTER_KEY) {
    await rename(join(dir, FILE), join(dir, PREVIOUS));
    await rename(join(dir, NEXT), join(dir, FILE));
  }
  return { rewrapped, keyId: keys.currentKeyId };
}
