import {
  anyTruncated,
  contentAssociatedData,
  type DataKeys,
  DecisionContentSchema,
  openSealed,
} from '@observatory/exporter-postgres';
import type pg from 'pg';
import { getEvent } from '../query/events-sql.ts';
import { readSettings } from '../settings/store.ts';
import type { DecisionTrace } from './schemas.ts';

const DAY_MS = 86_400_000;

/**
 * The decrypted decision trace of one of the org's events, or undefined when the org has no such event or nothing
 * of it was captured. The event is read first, within the org, so another org's event id finds nothing.
 */
export async function readDecisionTrace(
  pool: pg.Pool,
  keys: DataKeys,
  orgId: string,
  eventId: string,
): Promise<DecisionTrace | undefined> {
  const event = await getEvent(pool, orgId, eventId);
  if (!event) return undefined;
  const { rows } = await pool.query<{ ciphertext: Buffer }>(
    'SELECT ciphertext FROM ai_event_content WHERE org_id = $1 AND event_id = $2',
    [orgId, event.id],
  );
  if (!rows[0]) return undefined;
  const key = await keys.forOrg(pool, orgId, { create: false });
  // A content row without a data key cannot have been written by this service: treat it as unreadable.
  if (!key) throw new Error(`org ${orgId} has content but no data key`);
  const plaintext = openSealed(key, rows[0].ciphertext, contentAssociatedData(orgId, event.id));
  const content = DecisionContentSchema.parse(JSON.parse(plaintext.toString('utf8')));
  const settings = await readSettings(pool, orgId);
  const keptDays = Math.min(settings!.trace_retention_days, settings!.retention_days);
  return {
    ...content,
    event_id: event.id,
    trace_id: event.trace_id,
    span_id: event.span_id,
    model_name: event.model_name,
    created_at: event.created_at.toISOString(),
    expires_at: new Date(event.created_at.getTime() + keptDays * DAY_MS).toISOString(),
    truncated: anyTruncated(content),
  };
}
