import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface SignedDownload {
  jobId: string;
  orgId: string;
  /** The key that asked for the URL, so the download's audit row names who it was. */
  keyId: string;
  /** Unix seconds. */
  expires: number;
}

/** HMAC-SHA256 signatures for download URLs, over the job id, its org, the issuing key and the expiry. */
export class DownloadSigner {
  constructor(private readonly secret: Buffer) {}

  sign({ jobId, orgId, keyId, expires }: SignedDownload): string {
    return createHmac('sha256', this.secret)
      .update(`${jobId}\n${orgId}\n${keyId}\n${expires}`)
      .digest('base64url');
  }

  /** True when `signature` was made by `sign` for exactly these values and `expires` has not passed. */
  verify(download: SignedDownload, signature: string, now = Date.now()): boolean {
    const expected = Buffer.from(this.sign(download));
    const given = Buffer.from(signature);
    return (
      given.length === expected.length && timingSafeEqual(given, expected) && download.expires * 1000 > now
    );
  }
}

const SECRET_FILE = 'signing-secret';

/**
 * The signing secret: OBSERVATORY_SIGNING_SECRET when set, else one generated on first use and kept in
 * `<dataDir>/signing-secret` (mode 0600), so signed URLs survive restarts. Every API instance must share it.
 */
export async function resolveSigningSecret(envSecret: string | undefined, dataDir: string): Promise<Buffer> {
  if (envSecret) return Buffer.from(envSecret, 'utf8');
  const path = join(dataDir, SECRET_FILE);
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
