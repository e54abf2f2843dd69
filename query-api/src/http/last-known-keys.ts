import { isConnectionError } from '../db/connection-errors.ts';
import { hashKey, type Principal } from '../keys/keys.ts';
import type { CredentialVerifier } from './auth.ts';

export interface LastKnownKeysOptions {
  /** How long after its last successful check a key is still taken while the database cannot be reached. */
  graceMs?: number;
  /** Keys remembered at most (the least recently checked are forgotten first). */
  maxKeys?: number;
}

/**
 * Keys as last verified, for when PostgreSQL cannot be reached: an ingest receiver keeps taking telemetry into its
 * spill file (or the JetStream buffer) through an outage for the keys it verified in the last `graceMs`, where it
 * would otherwise answer 503 to every exporter. Every check still goes to the database first, so a revocation applies
 * at once while it is up; only during an outage is a key revoked after its last check here taken, for at most
 * `graceMs`. Only key hashes are kept. Console sessions are never taken from here.
 */
export function withLastKnownKeys(
  inner: CredentialVerifier,
  { graceMs = 600_000, maxKeys = 10_000 }: LastKnownKeysOptions = {},
): CredentialVerifier {
  const known = new Map<string, { principal: Principal; at: number }>();
  return {
    session: (token) => inner.session(token),
    async key(key) {
      const id = hashKey(key).toString('base64');
      try {
        const principal = await inner.key(key);
        // Re-inserted, so the map's order is the order of last checks and the first entry the stalest.
        known.delete(id);
        if (principal) {
          known.set(id, { principal, at: Date.now() });
          if (known.size > maxKeys) known.delete(known.keys().next().value!);
        }
        return principal;
      } catch (err) {
        const last = known.get(id);
        if (last && isConnectionError(err) && Date.now() - last.at <= graceMs) return last.principal;
        throw err;
      }
    },
  };
}
