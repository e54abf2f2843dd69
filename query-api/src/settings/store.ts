import type pg from 'pg';
import type { z } from 'zod';
import { type AuditEntry, writeAudit } from '../audit.ts';
import { withTransaction } from '../db/transaction.ts';
import { effectiveSettings, type OrgSettings, type OrgSettingsPatch, OrgSettingsSchema } from './schema.ts';

/** A change that breaks a rule across settings; `issues` name the fields as zod does. */
export class SettingsError extends Error {
  constructor(readonly issues: z.core.$ZodIssue[]) {
    super(issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    this.name = 'SettingsError';
  }
}

/** The org's effective settings, or undefined when there is no such org. */
export async function readSettings(
  db: pg.Pool | pg.PoolClient,
  orgId: string,
): Promise<OrgSettings | undefined> {
  const { rows } = await db.query<{ settings: unknown }>('SELECT settings FROM orgs WHERE id = $1', [orgId]);
  return rows[0] ? effectiveSettings(rows[0].settings) : undefined;
}

/** Every org's effective settings, for the retention job. */
export async function readAllSettings(db: pg.Pool | pg.PoolClient): Promise<Map<string, OrgSettings>> {
  const { rows } = await db.query<{ id: string; settings: unknown }>(
    'SELECT id, settings FROM orgs ORDER BY id',
  );
  return new Map(rows.map((r) => [r.id, effectiveSettings(r.settings)]));
}

/**
 * Applies `patch` to the org's settings and audits `settings.update` with the old and new value of each setting that
 * changed, in one transaction (the org row locked, so concurrent changes apply one after the other). Undefined when
 * there is no such org; throws SettingsError when the result breaks a rule across settings.
 */
export async function updateSettings(
  pool: pg.Pool,
  orgId: string,
  patch: OrgSettingsPatch,
  actor: Omit<AuditEntry, 'orgId' | 'action'>,
): Promise<OrgSettings | undefined> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<{ settings: Record<string, unknown> }>(
      'SELECT settings FROM orgs WHERE id = $1 FOR UPDATE',
      [orgId],
    );
    if (!rows[0]) return undefined;
    const before = effectiveSettings(rows[0].settings);
    const stored = { ...rows[0].settings, ...patch };
    const checked = OrgSettingsSchema.safeParse({ ...before, ...patch });
    if (!checked.success) throw new SettingsError(checked.error.issues);
    const after = checked.data;
    const changed = (Object.keys(after) as (keyof OrgSettings)[]).filter((k) => after[k] !== before[k]);
    await client.query('UPDATE orgs SET settings = $2 WHERE id = $1', [orgId, stored]);
    if (changed.length > 0) {
      await writeAudit(client, {
        ...actor,
        orgId,
        action: 'settings.update',
        target: orgId,
        details: {
          old: Object.fromEntries(changed.map((k) => [k, before[k]])),
          new: Object.fromEntries(changed.map((k) => [k, after[k]])),
        },
      });
    }
    return after;
  });
}
