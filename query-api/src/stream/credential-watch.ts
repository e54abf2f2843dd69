import type pg from 'pg';
import type { Credential, CredentialVerifier } from '../http/auth.ts';
import type { Principal } from '../keys/keys.ts';
import { sessionTokenHash } from '../keys/sessions.ts';
import type { Logger } from '../log.ts';
import {
  type CredentialEnd,
  credentialEnd,
  credentialId,
  fetchCredentialStatus,
} from './credential-status.ts';

interface Held {
  principal: Principal;
  sessionHash: string | undefined;
  /** When the database last confirmed the credential (verified or re-checked). */
  confirmedAt: number;
  ends: Set<(reason: CredentialEnd) => void>;
}

export interface CredentialWatchOptions {
  /** How often every held credential is asked about again. */
  recheckMs: number;
  logger?: Logger | undefined;
}

/**
 * The credentials that open streams hold. Every `recheckMs`, one query asks about all of them together (however many
 * streams there are), and a revoked key or an ended or expired session ends each stream that holds it. A credential
 * held by an open stream and confirmed within the last two intervals is trusted for another stream without a query,
 * so a flood of streams from one key costs one verification; a revocation ends those streams with the others.
 */
export class CredentialWatch {
  private readonly held = new Map<string, Held>();
  private timer: NodeJS.Timeout | undefined;
  private checking = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: CredentialWatchOptions,
  ) {}

  /** `inner`, skipped for a credential that an open stream holds and that was confirmed recently. */
  verifier(inner: CredentialVerifier): CredentialVerifier {
    return {
      key: async (key) => this.trusted({ kind: 'key', secret: key }) ?? inner.key(key),
      session: async (token) => this.trusted({ kind: 'session', secret: token }) ?? inner.session(token),
    };
  }

  /** Calls `end` once the credential stops granting access; returns the function that stops watching. */
  watch(credential: Credential, principal: Principal, end: (reason: CredentialEnd) => void): () => void {
    const id = credentialId(credential);
    let held = this.held.get(id);
    if (!held) {
      const sessionHash =
        credential.kind === 'session' ? sessionTokenHash(credential.secret).toString('hex') : undefined;
      held = { principal, sessionHash, confirmedAt: Date.now(), ends: new Set() };
      this.held.set(id, held);
    }
    const ends = held.ends;
    ends.add(end);
    if (!this.timer) {
      this.timer = setInterval(() => void this.recheck(), this.options.recheckMs);
      this.timer.unref();
    }
    return () => {
      ends.delete(end);
      if (ends.size === 0 && this.held.get(id)?.ends === ends) this.held.delete(id);
    };
  }

  private trusted(credential: Credential): Principal | undefined {
    const held = this.held.get(credentialId(credential));
    const fresh = held && Date.now() - held.confirmedAt <= 2 * this.options.recheckMs;
    return fresh ? held.principal : undefined;
  }

  private async recheck(): Promise<void> {
    if (this.checking) return;
    if (this.held.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    // Only what was asked about is judged, so a credential first held while the query runs is not misjudged.
    const asked = [...this.held];
    const askedAt = Date.now();
    this.checking = true;
    try {
      const status = await fetchCredentialStatus(
        this.pool,
        [...new Set(asked.map(([, h]) => h.principal.keyId))],
        asked.flatMap(([, h]) => (h.sessionHash ? [h.sessionHash] : [])),
      );
      for (const [id, held] of asked) {
        const reason = credentialEnd({ keyId: held.principal.keyId, sessionHash: held.sessionHash }, status);
        if (!reason) {
          held.confirmedAt = askedAt;
          continue;
        }
        if (this.held.get(id) === held) this.held.delete(id);
        for (const end of held.ends) end(reason);
      }
    } catch (err) {
      // Streams stay open while the database cannot say; their maximum lifetime still bounds them.
      this.options.logger?.warn({ err: (err as Error).message }, 'stream credential re-check failed');
    } finally {
      this.checking = false;
    }
  }
}
