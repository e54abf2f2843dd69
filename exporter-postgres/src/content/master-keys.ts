import { createHash, hkdfSync, randomBytes } from 'node:crypto';
import { open, seal } from './envelope.ts';

/**
 * What wraps and unwraps the per-org data keys. A KMS implements it with its own key ids (wrap = Encrypt, unwrap =
 * Decrypt); `LocalMasterKeys` does it with keys Observatory holds. Data keys never leave the process unwrapped.
 */
export interface MasterKeyProvider {
  /** The key new data keys are wrapped with, and rotation re-wraps to. */
  readonly currentKeyId: string;
  wrap(dataKey: Buffer): Promise<{ wrapped: Buffer; keyId: string }>;
  /** Throws when `keyId` is unknown to the provider or `wrapped` was not wrapped by it. */
  unwrap(wrapped: Buffer, keyId: string): Promise<Buffer>;
}

const WRAP_AAD = Buffer.from('observatory.data-key.v1', 'utf8');

/** An AES-256 key from secret text of any length (HKDF-SHA-256), and its id: the first 16 hex of its SHA-256. */
export function masterKeyFrom(secret: Buffer): { id: string; key: Buffer } {
  const key = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'observatory master key', 32));
  return { id: createHash('sha256').update(key).digest('hex').slice(0, 16), key };
}

/** Master keys held by this process: the current one wraps, every one unwraps (what it wrapped before rotation). */
export class LocalMasterKeys implements MasterKeyProvider {
  private readonly keys: Map<string, Buffer>;
  readonly currentKeyId: string;

  /** `current` first; `others` only unwrap (previous keys while a rotation is rolled out). */
  constructor(current: Buffer, others: readonly Buffer[] = []) {
    const all = [current, ...others].map(masterKeyFrom);
    this.keys = new Map(all.map(({ id, key }) => [id, key]));
    this.currentKeyId = all[0]!.id;
  }

  /** A provider with a random key, for tests and apps built without one: what it wraps is readable nowhere else. */
  static ephemeral(): LocalMasterKeys {
    return new LocalMasterKeys(randomBytes(32));
  }

  async wrap(dataKey: Buffer) {
    return { wrapped: seal(this.keys.get(this.currentKeyId)!, dataKey, WRAP_AAD), keyId: this.currentKeyId };
  }

  async unwrap(wrapped: Buffer, keyId: string) {
    const key = this.keys.get(keyId);
    if (!key) throw new Error(`master key ${keyId} is not configured`);
    return open(key, wrapped, WRAP_AAD);
  }
}
