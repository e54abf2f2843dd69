import { ProblemError } from '../http/problem.ts';
import type { Principal } from '../keys/keys.ts';

export interface StreamCapLimits {
  maxPerKey: number;
  maxPerOrg: number;
}

// A slot frees only when another stream of the key or org ends, which cannot be predicted: a modest pause.
const RETRY_AFTER_SECONDS = '10';

function take(counts: Map<string, number>, id: string): void {
  counts.set(id, (counts.get(id) ?? 0) + 1);
}

function give(counts: Map<string, number>, id: string): void {
  const left = (counts.get(id) ?? 1) - 1;
  if (left > 0) counts.set(id, left);
  else counts.delete(id);
}

/** Counts this process's open streams per key and per org, refusing a new one past either cap. */
export class StreamCaps {
  private readonly perKey = new Map<string, number>();
  private readonly perOrg = new Map<string, number>();

  constructor(private readonly limits: StreamCapLimits) {}

  /** Counts a new stream, or throws 429 when its key or org is at its cap. Returns the release, safe to call twice. */
  admit({ keyId, orgId }: Principal): () => void {
    if ((this.perKey.get(keyId) ?? 0) >= this.limits.maxPerKey) {
      throw this.refusal(`This key already has ${this.limits.maxPerKey} live streams open`);
    }
    if ((this.perOrg.get(orgId) ?? 0) >= this.limits.maxPerOrg) {
      throw this.refusal(`This org already has ${this.limits.maxPerOrg} live streams open`);
    }
    take(this.perKey, keyId);
    take(this.perOrg, orgId);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      give(this.perKey, keyId);
      give(this.perOrg, orgId);
    };
  }

  private refusal(detail: string): ProblemError {
    return new ProblemError(
      429,
      `${detail}, the most allowed; close one or retry later`,
      {},
      { 'Retry-After': RETRY_AFTER_SECONDS },
    );
  }
}
