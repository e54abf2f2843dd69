import { createHmac, timingSafeEqual } from 'node:crypto';
import { resolveSecret } from '../secrets.ts';

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

/**
 * The signing secret: OBSERVATORY_SIGNING_SECRET when set, else one generated on first use and kept in
 * `<dataDir>/signing-secret` (mode 0600), so signed URLs survive restarts. Every API instance must share it.
 */
export function resolveSigningSecret(envSecret: string | undefined, dataDir: string): Promise<Buffer> {
  return resolveSecret(envSecret, dataDir, 'signing-secret');
}
