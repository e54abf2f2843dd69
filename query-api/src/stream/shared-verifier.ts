import type { CredentialVerifier } from '../http/auth.ts';
import { ProblemError } from '../http/problem.ts';
import type { Principal } from '../keys/keys.ts';
import type { Logger } from '../log.ts';
import { credentialId } from './credential-status.ts';

const RETRY_SOON = { 'Retry-After': '2' };

/**
 * Verifies each distinct credential once at a time: requests presenting the same key or session while its check is
 * in flight share that one query, so a flood of streams from one key holds at most one pool connection. No result
 * is kept, so a revocation applies to the next check at once. A check the database cannot answer is a 503 with
 * `Retry-After`, not a 500.
 */
export function sharedVerifier(inner: CredentialVerifier, logger?: Logger): CredentialVerifier {
  const inFlight = new Map<string, Promise<Principal | undefined>>();
  const share = async (id: string, verify: () => Promise<Principal | undefined>) => {
    let check = inFlight.get(id);
    if (!check) {
      check = verify().finally(() => inFlight.delete(id));
      inFlight.set(id, check);
      check.catch((err: Error) => logger?.warn({ err: err.message }, 'stream credential check failed'));
    }
    try {
      return await check;
    } catch {
      throw new ProblemError(503, 'Credentials cannot be checked right now; retry shortly', {}, RETRY_SOON);
    }
  };
  return {
    key: (key) => share(credentialId({ kind: 'key', secret: key }), () => inner.key(key)),
    session: (token) => share(credentialId({ kind: 'session', secret: token }), () => inner.session(token)),
  };
}
