import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM with associated data: `version ‖ nonce (12) ‖ ciphertext ‖ tag (16)`. The associated data is
 * authenticated, not stored: opening with other associated data (another org, another event) fails.
 */
const VERSION = 1;
const NONCE = 12;
const TAG = 16;

export function seal(key: Buffer, plaintext: Buffer, associatedData: Buffer): Buffer {
  const nonce = randomBytes(NONCE);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(associatedData);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.of(VERSION), nonce, body, cipher.getAuthTag()]);
}

/** Throws when the key or the associated data is not the one sealed with, or the bytes were changed. */
export function open(key: Buffer, sealed: Buffer, associatedData: Buffer): Buffer {
  if (sealed.length < 1 + NONCE + TAG || sealed[0] !== VERSION) throw new Error('not a sealed value');
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(1, 1 + NONCE));
  decipher.setAAD(associatedData);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG));
  return Buffer.concat([decipher.update(sealed.subarray(1 + NONCE, sealed.length - TAG)), decipher.final()]);
}

/** What a content row's ciphertext is bound to: its org and its event. */
export const contentAssociatedData = (orgId: string, eventId: string) =>
  Buffer.from(`observatory.content.v1\0${orgId}\0${eventId}`, 'utf8');
