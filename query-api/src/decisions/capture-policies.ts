import type { CapturePolicies, CapturePolicy } from '@observatory/exporter-postgres';
import type pg from 'pg';
import { effectiveSettings } from '../settings/schema.ts';

// How long another replica's settings change may take to reach this one's ingest. A change made through this
// process reaches it at once (`invalidate`).
const TTL_MS = 5_000;

/**
 * Which orgs capture content, from their settings, cached per org for a few seconds: ingest asks on every request,
 * and an org that does not capture (the default) costs a map lookup.
 */
export class CapturePolicyCache {
  private readonly cache = new Map<string, { policy: CapturePolicy | undefined; until: number }>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly ttlMs = TTL_MS,
  ) {}

  readonly policies: CapturePolicies = async (orgIds) => {
    const now = Date.now();
    const stale = orgIds.filter((org) => (this.cache.get(org)?.until ?? 0) <= now);
    if (stale.length > 0) await this.refresh(stale, now);
    const capturing = new Map<string, CapturePolicy>();
    for (const org of orgIds) {
      const policy = this.cache.get(org)?.policy;
      if (policy) capturing.set(org, policy);
    }
    return capturing;
  };

  /**
   * Reads the orgs' settings. While the database cannot answer, an org keeps the policy it had, and an org never
   * read captures nothing: ingest goes on (to the spill file) without content rather than failing.
   */
  private async refresh(orgIds: string[], now: number): Promise<void> {
    let rows: { id: string; settings: unknown }[];
    try {
      ({ rows } = await this.pool.query<{ id: string; settings: unknown }>(
        'SELECT id, settings FROM orgs WHERE id = ANY($1::text[])',
        [orgIds],
      ));
    } catch {
      return;
    }
    const found = new Map(rows.map((r) => [r.id, effectiveSettings(r.settings)]));
    for (const org of orgIds) {
      const s = found.get(org);
      const policy = s?.capture_content ? { requireConsent: s.require_consent } : undefined;
      this.cache.set(org, { policy, until: now + this.ttlMs });
    }
  }

  /** Forgets the org's policy, so the next ingest reads its settings again. */
  invalidate(orgId: string): void {
    this.cache.delete(orgId);
  }
}
