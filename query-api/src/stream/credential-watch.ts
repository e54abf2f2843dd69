import type pg from 'pg';
import type { Logger } from '../log.ts';
import {
  type CredentialEnd,
  credentialEnd,
  fetchCredentialStatus,
  type HeldCredential,
} from './credential-status.ts';

interface Watcher extends HeldCredential {
  end(reason: CredentialEnd): void;
}

export interface CredentialWatchOptions {
  /** How often every watched credential is asked about again. */
  recheckMs: number;
  logger?: Logger | undefined;
}

/**
 * Watches the credentials of open streams: every `recheckMs`, one query asks about all of them together (however
 * many streams there are), and a revoked key or an ended or expired session ends each stream that holds it. The
 * timer runs only while something is watched.
 */
export class CredentialWatch {
  private readonly watchers = new Set<Watcher>();
  private timer: NodeJS.Timeout | undefined;
  private checking = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: CredentialWatchOptions,
  ) {}

  /** Calls `end` once the credential stops granting access; returns the function that stops watching. */
  watch(held: HeldCredential, end: (reason: CredentialEnd) => void): () => void {
    const watcher: Watcher = { ...held, end };
    this.watchers.add(watcher);
    if (!this.timer) {
      this.timer = setInterval(() => void this.recheck(), this.options.recheckMs);
      this.timer.unref();
    }
    return () => this.watchers.delete(watcher);
  }

  private async recheck(): Promise<void> {
    if (this.checking) return;
    if (this.watchers.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    // Only what was asked about is judged, so a stream opened while the query runs is not misjudged.
    const watchers = [...this.watchers];
    this.checking = true;
    try {
      const keyIds = new Set(watchers.map((w) => w.keyId));
      const sessionHashes = new Set(watchers.flatMap((w) => (w.sessionHash ? [w.sessionHash] : [])));
      const status = await fetchCredentialStatus(this.pool, [...keyIds], [...sessionHashes]);
      for (const watcher of watchers) {
        const reason = credentialEnd(watcher, status);
        if (reason && this.watchers.delete(watcher)) watcher.end(reason);
      }
    } catch (err) {
      // Streams stay open while the database cannot say; their maximum lifetime still bounds them.
      this.options.logger?.warn({ err: (err as Error).message }, 'stream credential re-check failed');
    } finally {
      this.checking = false;
    }
  }
}
