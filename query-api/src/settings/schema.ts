import { z } from 'zod';

/**
 * Every per-org setting, its type, bounds and default: adding a setting is one line here. Stored in `orgs.settings`
 * (jsonb) holding only what an admin set, so an org that never chose follows the defaults, also when they change.
 */
export const ORG_SETTINGS_SHAPE = {
  /** Days raw events (`ai_events`) are kept. */
  retention_days: z.number().int().min(1).max(3650).default(180),
  /** Days rollup rows are kept; rollups outlive raw rows, so never fewer than `retention_days`. */
  rollup_retention_days: z.number().int().min(1).max(3650).default(730),
  /** Archive (and read back) rows before the retention job removes them; off means removed unarchived. */
  archive: z.boolean().default(true),
  /** Days structured logs (`POST /v1/logs`) are kept; removed unarchived, like rollups. */
  log_retention_days: z.number().int().min(1).max(3650).default(30),
  /** Keep (encrypted) the content of model calls: prompts, completions, tool calls, rationale. Off by default. */
  capture_content: z.boolean().default(false),
  /** With capture on, keep only calls whose span says `observatory.consent=true`. */
  require_consent: z.boolean().default(true),
  /** Days captured content (decision traces) is kept; never longer than its event (`retention_days`). */
  trace_retention_days: z.number().int().min(1).max(3650).default(30),
};

export type SettingName = keyof typeof ORG_SETTINGS_SHAPE;

/** Rules across settings, checked on the merged result of a change. */
function checkAcross(
  settings: { retention_days: number; rollup_retention_days: number },
  ctx: z.RefinementCtx,
) {
  if (settings.rollup_retention_days < settings.retention_days) {
    ctx.addIssue({
      code: 'custom',
      path: ['rollup_retention_days'],
      message: `must be at least retention_days (${settings.retention_days})`,
    });
  }
}

/** An org's effective settings: what it stored, defaults for the rest. */
export const OrgSettingsSchema = z.object(ORG_SETTINGS_SHAPE).strict().superRefine(checkAcross);
export type OrgSettings = z.infer<typeof OrgSettingsSchema>;

type Shape = typeof ORG_SETTINGS_SHAPE;

/** A change: any subset of the settings without their defaults, nothing else (an unknown key is named). */
export const OrgSettingsPatchSchema = z
  .object(
    Object.fromEntries(
      Object.entries(ORG_SETTINGS_SHAPE).map(([name, schema]) => [name, schema.unwrap().optional()]),
    ) as { [K in SettingName]: z.ZodOptional<ReturnType<Shape[K]['unwrap']>> },
  )
  .strict();
export type OrgSettingsPatch = z.infer<typeof OrgSettingsPatchSchema>;

/** The settings an org's stored object stands for; an unknown stored key (a setting since removed) is ignored. */
export function effectiveSettings(stored: unknown): OrgSettings {
  const known = Object.fromEntries(
    Object.entries((stored ?? {}) as Record<string, unknown>).filter(([k]) => k in ORG_SETTINGS_SHAPE),
  );
  return OrgSettingsSchema.parse(known);
}
