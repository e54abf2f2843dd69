import { createRoute } from '@hono/zod-openapi';
import type pg from 'pg';
import { auditActor } from '../audit/entry.ts';
import type { AuditTrail } from '../audit/trail.ts';
import { jsonBody } from '../http/body.ts';
import {
  jsonContent,
  keyAccess,
  named,
  openApiRoutes,
  PROBLEM_RESPONSES,
  problems,
} from '../http/openapi.ts';
import { ProblemError } from '../http/problem.ts';
import { OrgSettingsPatchSchema, OrgSettingsSchema } from '../settings/schema.ts';
import { readSettings, SettingsError, updateSettings } from '../settings/store.ts';

const SettingsJsonSchema = named('OrgSettings', OrgSettingsSchema, "The org's settings, defaults filled in");
const PatchJsonSchema = named(
  'OrgSettingsPatch',
  OrgSettingsPatchSchema,
  'Any subset of the settings; the others keep their value',
);

/** `GET`/`PUT /api/telemetry/settings`: the caller org's settings (read: viewer, org_admin; change: org_admin). */
export function settingsRoutes({
  pool,
  audit,
  onChange,
}: {
  pool: pg.Pool;
  audit: AuditTrail;
  /** After an org's settings changed (this process's caches of them). */
  onChange?: (orgId: string) => void;
}) {
  const common = { tags: ['settings'], path: '/api/telemetry/settings' };
  const get = createRoute({
    ...common,
    method: 'get',
    operationId: 'getSettings',
    summary: "The org's settings: retention and archive (viewer, org_admin)",
    ...keyAccess(pool, ['viewer', 'org_admin']),
    responses: { 200: jsonContent(SettingsJsonSchema, 'The settings'), ...PROBLEM_RESPONSES },
  });
  const put = createRoute({
    ...common,
    method: 'put',
    operationId: 'updateSettings',
    summary: "Change some of the org's settings; audited with old and new values (org_admin)",
    ...keyAccess(pool, ['org_admin'], jsonBody()),
    request: { body: { ...jsonContent(PatchJsonSchema, 'The settings to change'), required: true } },
    responses: {
      200: jsonContent(SettingsJsonSchema, 'The settings after the change'),
      ...PROBLEM_RESPONSES,
      ...problems(413, 415),
    },
  });

  return openApiRoutes()
    .openapi(get, async (c) => {
      const settings = await readSettings(pool, c.get('principal')!.orgId);
      return c.json(settings!, 200);
    })
    .openapi(put, async (c) => {
      const principal = c.get('principal')!;
      try {
        const after = await updateSettings(
          pool,
          audit,
          principal.orgId,
          c.req.valid('json'),
          auditActor(c, principal),
        );
        onChange?.(principal.orgId);
        return c.json(after!, 200);
      } catch (err) {
        if (!(err instanceof SettingsError)) throw err;
        const errors = err.issues.map((i) => ({ field: i.path.join('.'), message: i.message }));
        throw new ProblemError(400, `Invalid body: ${err.message}`, { errors });
      }
    });
}
