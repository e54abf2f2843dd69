import { createHmac } from 'node:crypto';
import type { AiEvent } from '../event.ts';
import { looksPersonal } from './scrub.ts';

/** The per-deployment secret behind user pseudonyms (HMAC-SHA-256 key). */
export type PseudonymKey = string | Uint8Array;

export const REDACTED = '[redacted]';

/** Hex digits of the HMAC kept: 128 bits, so two users never share a pseudonym in practice. */
const PSEUDONYM_HEX_DIGITS = 32;

/**
 * Identifier columns a caller names freely. A value holding personal data or a secret is replaced whole: the
 * column keeps no part of it, and its use (a filter, a label) needs none.
 */
const REDACTED_COLUMNS = [
  'client_id',
  'request_id',
  'service_name',
  'endpoint',
  'operation',
  'provider',
  'model_name',
  'model_version',
  'adapter_id',
  'fallback_reason',
  'fallback_model',
] as const satisfies readonly (keyof AiEvent)[];

/**
 * `u_` and a keyed hash of the org and the user id, always the same length. The same user in the same org
 * always gets the same pseudonym, so per-user grouping still works; another org's rows cannot be linked to it,
 * and without the key it cannot be reversed by hashing guesses.
 */
export function userPseudonym(key: PseudonymKey, orgId: string, userId: string): string {
  const digest = createHmac('sha256', key).update(`${orgId}\n${userId}`).digest('hex');
  return `u_${digest.slice(0, PSEUDONYM_HEX_DIGITS)}`;
}

/**
 * The event with every identifier that looks like an email, phone, card or national id number, an IP address
 * or a secret replaced: `user_id` by its pseudonym, the others by `[redacted]`. Other identifiers are kept as
 * sent. Pure.
 */
export function protectIdentifiers(event: AiEvent, key: PseudonymKey): AiEvent {
  const protectedEvent = { ...event };
  if (event.user_id !== null && looksPersonal(event.user_id)) {
    protectedEvent.user_id = userPseudonym(key, event.org_id, event.user_id);
  }
  for (const column of REDACTED_COLUMNS) {
    const value = event[column];
    if (value !== null && looksPersonal(value)) protectedEvent[column] = REDACTED;
  }
  return protectedEvent;
}
