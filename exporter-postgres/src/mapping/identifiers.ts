import { createHmac } from 'node:crypto';
import type { AiSpan } from '../ai-span.ts';
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

/** The same for an `ai_spans` row. */
const REDACTED_SPAN_COLUMNS = [
  'name',
  'agent_name',
  'tool_name',
  'service_name',
  'endpoint',
] as const satisfies readonly (keyof AiSpan)[];

/**
 * `u_` and a keyed hash of the org and the user id, always the same length. The same user in the same org
 * always gets the same pseudonym, so per-user grouping still works; another org's rows cannot be linked to it,
 * and without the key it cannot be reversed by hashing guesses.
 */
export function userPseudonym(key: PseudonymKey, orgId: string, userId: string): string {
  return pseudonym('u_', key, orgId, userId);
}

/**
 * A session id holding personal data (an email as a thread id) becomes `s_` and the same keyed hash as a user's:
 * one conversation keeps one pseudonym, so its calls still group together.
 */
export function sessionPseudonym(key: PseudonymKey, orgId: string, sessionId: string): string {
  return pseudonym('s_', key, orgId, sessionId);
}

function pseudonym(prefix: string, key: PseudonymKey, orgId: string, value: string): string {
  const digest = createHmac('sha256', key).update(`${orgId}\n${value}`).digest('hex');
  return `${prefix}${digest.slice(0, PSEUDONYM_HEX_DIGITS)}`;
}

/**
 * The event with every identifier that looks like an email, phone, card or national id number, an IP address
 * or a secret replaced: `user_id` by its pseudonym, the others by `[redacted]`. Other identifiers are kept as
 * sent. Pure.
 */
export function protectIdentifiers(event: AiEvent, key: PseudonymKey): AiEvent {
  const protectedEvent = protectPeople({ ...event }, key);
  for (const column of REDACTED_COLUMNS) {
    const value = event[column];
    if (value !== null && looksPersonal(value)) protectedEvent[column] = REDACTED;
  }
  return protectedEvent;
}

/** `protectIdentifiers` for an `ai_spans` row: the same rules, its own columns. */
export function protectSpanIdentifiers(span: AiSpan, key: PseudonymKey): AiSpan {
  const protectedSpan = protectPeople({ ...span }, key);
  for (const column of REDACTED_SPAN_COLUMNS) {
    const value = span[column];
    if (value !== null && looksPersonal(value)) protectedSpan[column] = REDACTED;
  }
  return protectedSpan;
}

/** Replaces a personal user or session id by its pseudonym, in place. */
function protectPeople<T extends Pick<AiEvent, 'org_id' | 'user_id' | 'session_id'>>(
  row: T,
  key: PseudonymKey,
): T {
  if (row.user_id !== null && looksPersonal(row.user_id))
    row.user_id = userPseudonym(key, row.org_id, row.user_id);
  if (row.session_id !== null && looksPersonal(row.session_id)) {
    row.session_id = sessionPseudonym(key, row.org_id, row.session_id);
  }
  return row;
}
