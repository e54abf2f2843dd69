import type pg from 'pg';
import type { CapturedContent, CapturePolicy } from './batch-contents.ts';
import type { EventContentRow } from './content-row.ts';
import type { DataKeys } from './data-keys.ts';
import { contentAssociatedData, seal } from './envelope.ts';

/** Where the capture policies come from: the service reads the orgs' settings (with a short-lived cache). */
export type CapturePolicies = (orgIds: readonly string[]) => Promise<ReadonlyMap<string, CapturePolicy>>;

/**
 * Content capture for the ingest path: which orgs capture, and the encryption of what they capture before it is
 * queued. Plaintext lives only between the mapping and `seal`, within one ingest call.
 */
export class ContentCapture {
  constructor(
    private readonly pool: pg.Pool,
    readonly policies: CapturePolicies,
    private readonly keys: DataKeys,
  ) {}

  /**
   * Each captured call's content as JSON, sealed with its org's data key and bound to its org and event. Content of
   * an org whose key cannot be had now (the database is down and the key not cached) is dropped, never kept in
   * plaintext: its events still go on to the pipeline (and the spill file).
   */
  async seal(captured: readonly CapturedContent[]): Promise<EventContentRow[]> {
    const rows: EventContentRow[] = [];
    for (const { event, content } of captured) {
      const key = await this.keys.forOrg(this.pool, event.org_id, { create: true }).catch(() => undefined);
      if (!key) continue;
      const sealed = seal(
        key,
        Buffer.from(JSON.stringify(content), 'utf8'),
        contentAssociatedData(event.org_id, event.id),
      );
      rows.push({
        event_id: event.id,
        org_id: event.org_id,
        created_at: event.created_at,
        ciphertext: sealed.toString('base64'),
      });
    }
    return rows;
  }
}
