import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import { createApp } from '../app.ts';
import { main } from '../cli/main.ts';
import { createKey } from '../keys/keys.ts';

const db = await createTestDatabase();
const app = createApp({ pool: db.pool, logger: pino({ level: 'silent' }) });
const admin = (await createKey(db.pool, { orgId: 'acme', role: 'org_admin' })).key;
const viewer = (await createKey(db.pool, { orgId: 'acme', role: 'viewer' })).key;
const otherAdmin = (await createKey(db.pool, { orgId: 'globex', role: 'org_admin' })).key;

const DEFAULTS = {
  retention_days: 180,
  rollup_retention_days: 730,
  archive: true,
  log_retention_days: 30,
  capture_content: false,
  require_consent: true,
  trace_retention_days: 30,
};

function put(key: string, body: unknown) {
  return app.request('/api/telemetry/settings', {
    method: 'PUT',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}
const get = (key: string) =>
  app.request('/api/telemetry/settings', { headers: { authorization: `Bearer ${key}` } });

async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    args,
    { out: (t) => out.push(t), err: (t) => err.push(t) },
    { DATABASE_URL: db.url, LOG_LEVEL: 'silent' },
  );
  return { code, stdout: out.join(''), stderr: err.join('') };
}

async function auditRows(orgId: string) {
  const { rows } = await db.pool.query(
    `SELECT actor, action, details FROM audit_log WHERE org_id = $1 AND action = 'settings.update' ORDER BY id`,
    [orgId],
  );
  return rows;
}

describe('org settings', () => {
  it('reads the defaults for an org that never chose', async () => {
    const res = await get(viewer);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(DEFAULTS);
  });

  it('changes only what a PUT names, audited with old and new values, and only in the caller org', async () => {
    const res = await put(admin, { retention_days: 30 });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ...DEFAULTS, retention_days: 30 });
    expect(await (await get(viewer)).json()).toEqual({ ...DEFAULTS, retention_days: 30 });
    expect(await (await get(otherAdmin)).json()).toEqual(DEFAULTS);
    const [row] = await auditRows('acme');
    expect(row).toMatchObject({
      action: 'settings.update',
      details: { old: { retention_days: 180 }, new: { retention_days: 30 } },
    });
    expect(row.actor).not.toBe('cli');
    // The same value again changes nothing and audits nothing.
    expect((await put(admin, { retention_days: 30 })).status).toBe(200);
    expect(await auditRows('acme')).toHaveLength(1);
  });

  it.each([
    [{ retention_days: 0 }, 'retention_days'],
    [{ retention_days: 'long' }, 'retention_days'],
    [{ archive: 'yes' }, 'archive'],
    [{ rollup_retention_days: 10 }, 'rollup_retention_days'],
    [{ retention_days: 3651 }, 'retention_days'],
  ])('refuses %j with a 400 naming %s', async (body, field) => {
    const res = await put(admin, body);
    expect(res.status).toBe(400);
    const problem = (await res.json()) as { errors: { field: string }[] };
    expect(problem.errors.map((e) => e.field)).toContain(field);
  });

  it('refuses an unknown setting, naming it', async () => {
    const res = await put(admin, { retention_days: 20, keep_forever: true });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { detail: string }).detail).toMatch(/keep_forever/);
    expect(await (await get(admin)).json()).toMatchObject({ retention_days: 30 });
  });

  it('lets a viewer read but not change them', async () => {
    expect((await put(viewer, { retention_days: 5 })).status).toBe(403);
    expect(await (await get(viewer)).json()).toMatchObject({ retention_days: 30 });
  });

  it('observatory settings get|set: same schema, same audit with actor cli', async () => {
    const set = await cli(['settings', 'set', '--org', 'globex', 'retention_days=45', 'archive=false']);
    expect(set).toMatchObject({ code: 0, stderr: '' });
    expect(set.stdout).toBe(
      'retention_days=45\nrollup_retention_days=730\narchive=false\nlog_retention_days=30\ncapture_content=false\nrequire_consent=true\ntrace_retention_days=30\n',
    );
    const got = await cli(['settings', 'get', '--org', 'globex']);
    expect(got.stdout).toBe(set.stdout);
    expect(await auditRows('globex')).toEqual([
      {
        actor: 'cli',
        action: 'settings.update',
        details: { old: { retention_days: 180, archive: true }, new: { retention_days: 45, archive: false } },
      },
    ]);
    const bad = await cli(['settings', 'set', '--org', 'globex', 'retention_days=0']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^observatory: retention_days is invalid/);
    expect((await cli(['settings', 'set', '--org', 'globex', 'colour=red'])).stderr).toMatch(/colour/);
    expect((await cli(['settings', 'set', '--org', 'globex', 'rollup_retention_days=20'])).stderr).toMatch(
      /rollup_retention_days: must be at least retention_days/,
    );
    expect((await cli(['settings', 'get', '--org', 'nobody'])).stderr).toMatch(/No org "nobody"/);
  });
});
