import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { contentAssociatedData, DataKeys, LocalMasterKeys, openSealed } from '@observatory/exporter-postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServe, runCli, startServe } from '../../test-support/cli.ts';
import { createTestDatabase } from '../../test-support/database.ts';
import { until } from '../../test-support/until.ts';
import { resolveMasterKeys } from '../src/decisions/master-key.ts';
import type { DecisionTrace } from '../src/decisions/schemas.ts';
import { createKey } from '../src/keys/keys.ts';

const db = await createTestDatabase();
const dataDir = await mkdtemp(join(tmpdir(), 'observatory-traces-'));
const env = { DATABASE_URL: db.url, OBSERVATORY_DATA_DIR: dataDir };
let serve: RunningServe;
const keys: Record<string, string> = {};

beforeAll(async () => {
  for (const [name, orgId, role, scopes] of [
    ['ingest', 'acme', 'ingest', []],
    ['admin', 'acme', 'org_admin', []],
    ['viewer', 'acme', 'viewer', []],
    ['tracer', 'acme', 'viewer', ['traces:read']],
    ['otherIngest', 'globex', 'ingest', []],
    ['otherAdmin', 'globex', 'org_admin', []],
  ] as const) {
    keys[name] = (await createKey(db.pool, { orgId, role, scopes: [...scopes] })).key;
  }
  serve = await startServe({ ...env, LOG_LEVEL: 'debug' });
});

afterAll(async () => {
  serve?.child.kill('SIGTERM');
  await serve?.exited;
  await rm(dataDir, { recursive: true, force: true });
});

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const marker = () => `zq${hex(6)}`;

const request = (path: string, key: string, init: RequestInit = {}) =>
  fetch(`${serve.baseUrl}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...init.headers },
  });

/** A model call whose every content attribute (each convention's) carries `secret`; returns the event id. */
async function sendCall(
  secret: string,
  { consent, key = keys.ingest! }: { consent?: boolean; key?: string } = {},
) {
  const traceId = hex(16);
  const now = BigInt(Date.now()) * 1_000_000n;
  const attributes: Record<string, string | number | boolean> = {
    'gen_ai.operation.name': 'chat',
    'gen_ai.request.model': 'gpt-4o',
    'gen_ai.system_instructions': JSON.stringify([{ type: 'text', content: `Be terse ${secret}` }]),
    'gen_ai.input.messages': JSON.stringify([
      { role: 'user', parts: [{ type: 'text', content: `Hello ${secret}` }] },
    ]),
    'gen_ai.output.messages': JSON.stringify([
      { role: 'assistant', parts: [{ type: 'text', content: `Hi ${secret}` }] },
    ]),
    'gen_ai.tool.definitions': JSON.stringify([{ name: `tool_${secret}` }]),
    'gen_ai.prompt': `old prompt ${secret}`,
    'gen_ai.prompt.0.content': `openllmetry ${secret}`,
    'llm.input_messages.0.message.content': `openinference ${secret}`,
    'input.value': `input ${secret}`,
    'ai.prompt.messages': JSON.stringify([{ role: 'user', content: `vercel ${secret}` }]),
    'ai.response.text': `vercel answer ${secret}`,
    'observatory.decision.rationale': `because ${secret}`,
    'observatory.decision.confidence': 0.75,
  };
  if (consent !== undefined) attributes['observatory.consent'] = consent;
  const value = (v: string | number | boolean) =>
    typeof v === 'string'
      ? { stringValue: v }
      : typeof v === 'number'
        ? { doubleValue: v }
        : { boolValue: v };
  const body = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'tracer-test' } }] },
        scopeSpans: [
          {
            spans: [
              {
                traceId,
                spanId: hex(8),
                name: 'chat gpt-4o',
                kind: 3,
                startTimeUnixNano: String(now - 500_000_000n),
                endTimeUnixNano: String(now),
                attributes: Object.entries(attributes).map(([k, v]) => ({ key: k, value: value(v) })),
                events: [
                  {
                    name: 'gen_ai.content.completion',
                    attributes: [{ key: 'gen_ai.completion', value: { stringValue: `event ${secret}` } }],
                  },
                ],
                status: { code: 0 },
              },
            ],
          },
        ],
      },
    ],
  };
  expect((await request('/v1/traces', key, { method: 'POST', body: JSON.stringify(body) })).status).toBe(200);
  return until('the event', async () => {
    const { rows } = await db.pool.query<{ id: string }>('SELECT id FROM ai_events WHERE trace_id = $1', [
      traceId,
    ]);
    return rows[0]?.id;
  });
}

async function setSettings(key: string, settings: Record<string, unknown>) {
  const res = await request('/api/telemetry/settings', key, {
    method: 'PUT',
    body: JSON.stringify(settings),
  });
  expect(res.status).toBe(200);
}

/** Every file under the data directory (spill files, key files, …) as text. */
async function dataDirText(dir = dataDir): Promise<string> {
  let text = '';
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) text += await dataDirText(path);
    else text += await readFile(path, 'latin1');
  }
  return text;
}

/** The tables (any schema of ours) any row of which mentions `needle`. */
async function tablesMentioning(needle: string): Promise<string[]> {
  const { rows: tables } = await db.pool.query<{ name: string }>(
    `SELECT format('%I.%I', table_schema, table_name) AS name FROM information_schema.tables
     WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'`,
  );
  const found: string[] = [];
  for (const { name } of tables) {
    const { rows } = await db.pool.query(`SELECT 1 FROM ${name} t WHERE t::text LIKE $1 LIMIT 1`, [
      `%${needle}%`,
    ]);
    if (rows.length > 0) found.push(name);
  }
  return found;
}

const traceOf = (eventId: string, key = keys.admin!) =>
  request(`/api/telemetry/events/${eventId}/trace`, key);

describe('decision traces', () => {
  it('capture off (the default): a span full of content leaves none of it in any table, file or log', async () => {
    const secret = marker();
    const eventId = await sendCall(secret, { consent: true });
    expect(await tablesMentioning(secret)).toEqual([]);
    // The search does see what is stored, and the log does hold the request.
    expect(await tablesMentioning(eventId)).not.toEqual([]);
    expect(await dataDirText()).not.toContain(secret);
    const { stdout, stderr } = serve.output();
    expect(stdout).toContain('/v1/traces');
    expect(stdout + stderr).not.toContain(secret);
    expect((await traceOf(eventId)).status).toBe(404);
    const { rows } = await db.pool.query('SELECT 1 FROM ai_event_content');
    expect(rows).toEqual([]);
  });

  it('changing capture settings is org_admin only and audited', async () => {
    const viewerTry = await request('/api/telemetry/settings', keys.viewer!, {
      method: 'PUT',
      body: JSON.stringify({ capture_content: true }),
    });
    expect(viewerTry.status).toBe(403);
    await setSettings(keys.admin!, { capture_content: true });
    const { rows } = await db.pool.query(
      `SELECT details FROM audit_log WHERE org_id = 'acme' AND action = 'settings.update' ORDER BY seq DESC LIMIT 1`,
    );
    expect(rows[0].details).toEqual({ old: { capture_content: false }, new: { capture_content: true } });
  });

  it('with consent required, only consenting calls are captured, encrypted and readable through the route', async () => {
    await setSettings(keys.admin!, { capture_content: true, require_consent: true });
    const secret = marker();
    const consenting = await sendCall(secret, { consent: true });
    const silent = await sendCall(marker());
    const refused = await sendCall(marker(), { consent: false });
    const trace = await until('the content row', async () => {
      const res = await traceOf(consenting);
      return res.status === 200 ? ((await res.json()) as DecisionTrace) : undefined;
    });
    expect(trace.event_id).toBe(consenting);
    expect(trace.input).toEqual([
      {
        role: 'system',
        content: [{ type: 'text', text: `Be terse ${secret}`, truncated: false }],
        tool_calls: [],
        tool_call_id: null,
      },
      {
        role: 'user',
        content: [{ type: 'text', text: `Hello ${secret}`, truncated: false }],
        tool_calls: [],
        tool_call_id: null,
      },
    ]);
    expect(trace.output[0]!.content).toEqual([{ type: 'text', text: `Hi ${secret}`, truncated: false }]);
    expect(trace.rationale).toEqual({ text: `because ${secret}`, truncated: false });
    expect(trace.confidence).toBe(0.75);
    expect(trace.truncated).toBe(false);
    for (const id of [silent, refused]) expect((await traceOf(id)).status).toBe(404);
    const { rows } = await db.pool.query('SELECT event_id FROM ai_event_content');
    expect(rows.map((r) => r.event_id)).toEqual([consenting]);

    // Without consent required, every call of the org is captured.
    await setSettings(keys.admin!, { require_consent: false });
    const any = await sendCall(marker());
    await until('the content row', async () => ((await traceOf(any)).status === 200 ? true : undefined));
  });

  it('the ciphertext holds no plaintext; another org’s key or another event id does not open it', async () => {
    await setSettings(keys.admin!, { capture_content: true, require_consent: false });
    const secret = marker();
    const eventId = await sendCall(secret);
    const { rows } = await until('the content row', async () => {
      const r = await db.pool.query<{ ciphertext: Buffer }>(
        'SELECT ciphertext FROM ai_event_content WHERE event_id = $1',
        [eventId],
      );
      return r.rows.length ? r : undefined;
    });
    const ciphertext = rows[0]!.ciphertext;
    for (const plain of [secret, `Hello ${secret}`, 'Hello', 'because', '"role"', 'assistant']) {
      expect(ciphertext.includes(Buffer.from(plain))).toBe(false);
    }
    expect(await tablesMentioning(secret)).toEqual([]);
    expect(await dataDirText()).not.toContain(secret);

    // globex captures too, so it has a data key of its own.
    await setSettings(keys.otherAdmin!, { capture_content: true, require_consent: false });
    const globexEvent = await sendCall(marker(), { key: keys.otherIngest! });
    await until('globex content', async () =>
      (await traceOf(globexEvent, keys.otherAdmin!)).status === 200 ? true : undefined,
    );

    const dataKeys = new DataKeys(await resolveMasterKeys({ OBSERVATORY_DATA_DIR: dataDir }));
    const acmeKey = (await dataKeys.forOrg(db.pool, 'acme', { create: false }))!;
    const globexKey = (await dataKeys.forOrg(db.pool, 'globex', { create: false }))!;
    expect(openSealed(acmeKey, ciphertext, contentAssociatedData('acme', eventId)).toString()).toContain(
      secret,
    );
    expect(() => openSealed(globexKey, ciphertext, contentAssociatedData('acme', eventId))).toThrow();
    expect(() => openSealed(acmeKey, ciphertext, contentAssociatedData('acme', globexEvent))).toThrow();
    expect(() => openSealed(acmeKey, ciphertext, contentAssociatedData('globex', eventId))).toThrow();

    // Another org's event is not found, whatever the key.
    expect((await traceOf(globexEvent, keys.admin!)).status).toBe(404);
    expect((await traceOf(eventId, keys.otherAdmin!)).status).toBe(404);

    // A ciphertext moved onto another event's row does not decrypt there.
    const other = await sendCall(marker());
    await until('the other content row', async () =>
      (await traceOf(other)).status === 200 ? true : undefined,
    );
    await db.pool.query('UPDATE ai_event_content SET ciphertext = $1 WHERE event_id = $2', [
      ciphertext,
      other,
    ]);
    const moved = await traceOf(other);
    expect(moved.status).toBe(500);
    expect(await moved.text()).not.toContain(secret);
  });

  it('reading: org_admin or a viewer key with traces:read; every read is audited with the event id', async () => {
    await setSettings(keys.admin!, { capture_content: true, require_consent: false });
    const eventId = await sendCall(marker());
    await until('the content row', async () => ((await traceOf(eventId)).status === 200 ? true : undefined));
    const auditRows = async () =>
      (
        await db.pool.query(
          `SELECT actor, details FROM audit_log WHERE action = 'trace.read' AND target = $1`,
          [eventId],
        )
      ).rows;
    const before = (await auditRows()).length;
    const expected: [string, number][] = [
      ['ingest', 403],
      ['viewer', 403],
      ['tracer', 200],
      ['admin', 200],
      ['otherAdmin', 404],
    ];
    for (const [caller, status] of expected)
      expect((await traceOf(eventId, keys[caller]!)).status, caller).toBe(status);
    expect((await fetch(`${serve.baseUrl}/api/telemetry/events/${eventId}/trace`)).status).toBe(401);
    const after = await auditRows();
    expect(after).toHaveLength(before + 2);
    expect(after.at(-1)!.details).toMatchObject({ event_id: eventId });
  });

  it('keys rotate-master re-wraps every data key: traces stay readable, under the new master key alone', async () => {
    const { rows: before } = await db.pool.query<{ org_id: string; master_key_id: string }>(
      'SELECT org_id, master_key_id FROM org_data_keys ORDER BY org_id',
    );
    expect(before.map((r) => r.org_id)).toEqual(['acme', 'globex']);
    // Made by the first start, readable by its owner only.
    expect((await stat(join(dataDir, 'master-key'))).mode & 0o777).toBe(0o600);
    const oldMaster = await readFile(join(dataDir, 'master-key'));
    const rotated = await runCli(['keys', 'rotate-master'], env);
    expect(rotated.stderr).toBe('');
    expect(rotated.stdout).toMatch(/Re-wrapped 2 data key\(s\) under master key [0-9a-f]{16}/);
    const newMaster = await readFile(join(dataDir, 'master-key'));
    expect(newMaster.equals(oldMaster)).toBe(false);
    const { rows: after } = await db.pool.query<{ master_key_id: string }>(
      'SELECT master_key_id FROM org_data_keys',
    );
    expect(new Set(after.map((r) => r.master_key_id)).size).toBe(1);
    expect(after[0]!.master_key_id).not.toBe(before[0]!.master_key_id);

    // Every trace decrypts with a provider holding only the new master key.
    const onlyNew = new DataKeys(new LocalMasterKeys(newMaster));
    const { rows } = await db.pool.query<{ org_id: string; event_id: string; ciphertext: Buffer }>(
      'SELECT org_id, event_id, ciphertext FROM ai_event_content',
    );
    let opened = 0;
    for (const row of rows) {
      const key = (await onlyNew.forOrg(db.pool, row.org_id, { create: false }))!;
      try {
        openSealed(key, row.ciphertext, contentAssociatedData(row.org_id, row.event_id));
        opened++;
      } catch {
        // the row whose ciphertext the previous test moved
      }
    }
    expect(opened).toBe(rows.length - 1);
    // And through a freshly started service reading the key files.
    serve.child.kill('SIGTERM');
    await serve.exited;
    serve = await startServe({ ...env, LOG_LEVEL: 'debug' });
    const { rows: any } = await db.pool.query(
      `SELECT event_id FROM ai_event_content WHERE org_id = 'globex'`,
    );
    expect((await traceOf(any[0].event_id, keys.otherAdmin!)).status).toBe(200);
  });

  it('retention removes traces after trace_retention_days while their events stay', async () => {
    await setSettings(keys.admin!, { trace_retention_days: 2 });
    const eventId = await sendCall(marker());
    await until('the content row', async () => ((await traceOf(eventId)).status === 200 ? true : undefined));
    const old = new Date(Date.now() - 3 * 86_400_000);
    // Moves one trace (not its event) three days back: the row's time is not bound into the ciphertext.
    await db.pool.query('UPDATE ai_event_content SET created_at = $1 WHERE event_id = $2', [old, eventId]);
    const { rows: fresh } = await db.pool.query(
      `SELECT count(*)::int AS n FROM ai_event_content WHERE org_id = 'acme'`,
    );
    const ran = await runCli(['retention', 'run', '--org', 'acme'], env);
    expect(ran.code).toBe(0);
    const { rows } = await db.pool.query(`SELECT event_id FROM ai_event_content WHERE org_id = 'acme'`);
    expect(rows.map((r) => r.event_id)).not.toContain(eventId);
    expect(rows).toHaveLength(fresh[0].n - 1);
    const { rows: events } = await db.pool.query('SELECT 1 FROM ai_events WHERE id = $1', [eventId]);
    expect(events).toHaveLength(1);
  });
});
