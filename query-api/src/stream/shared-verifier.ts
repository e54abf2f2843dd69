import type { CredentialVerifier } from '../http/auth.ts';
import type { Principal } from '../keys/keys.ts';
import { credentialId } from './credential-status.ts';

/**
 * Verifies each distinct credential once at a time: requests presenting the same key or session while its check is
 * in flight share that one query, so a flood of streams from one key holds at most one pool connection. No result
 * is kept, so a revocation applies to the next check at once. A check the database cannot answer fails each sharer
 * with the database's error, which `app.onError` answers as 503 with `Retry-After`.
 */
export function sharedVerifier(inner: CredentialVerifier): CredentialVerifier {
  const inFlight = new Map<string, Promise<Principal | undefined>>();
  const share = (id: string, verify: () => Promise<Principal | undefined>) => {
    let check = inFlight.get(id);
    if (!check) {
      check = verify().finally(() => inFlight.delete(id));
      inFlight.set(id, check);
    }
    return check;
  };
  return {
    key: (key) => share(credentialId({ kind: 'key', secret: key }), () => inner.key(key)),
    session: (token) => share(credentialId({ kind: 'session', secret: token }), () => inner.session(token)),
  };
}
