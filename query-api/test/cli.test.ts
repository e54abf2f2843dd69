import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type RunningServe, runCli, startServe } from '../../test-support/cli.ts';
import { createTestDatabase } from '../../test-support/database.ts';
import { insertModelCalls } from '../../test-support/model-calls.ts';
import { until } from '../../test-support/until.ts';

const db = await createTestDatabase();

function lastLine(text: string): string {
  return text.trimEnd().split('\n').at(-1) ?? '';
}

async function whoami(baseUrl: string, key: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${baseUrl}/api/whoami`, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, body: await res.json() };
}

describe('observatory CLI against DATABASE_URL', () => {
  it('keys create prints the key as the last line; keys list shows it; revoke disables it', async () => {
    const created = await runCli(['keys', 'create', '--org', 'acme', '--role', 'viewer', '--name', 'ci'], {
      DATABASE_URL: db.url,
    });
    expect(created.code).toBe(0);
    const key = lastLine(created.stdout);
    expect(key).toMatch(/^obs_/);
    const { rows } = await db.pool.query("SELECT id FROM api_keys WHERE org_id = 'acme'");
    expect(rows).toHaveLength(1);

    const listed = await runCli(['keys', 'list', '--org', 'acme'], { DATABASE_URL: db.url });
    expect(listed.stdout).toContain(rows[0].id);
    expect(listed.stdout).not.toContain(key);

    const serve = await startServe({ DATABASE_URL: db.url });
    try {
      expect(await whoami(serve.baseUrl, key)).toEqual({
        status: 200,
        body: { key_id: rows[0].id, org_id: 'acme', role: 'viewer' },
      });
      const revoked = await runCli(['keys', 'revoke', rows[0].id], { DATABASE_URL: db.url });
      expect(revoked.code).toBe(0);
      expect((await whoami(serve.baseUrl, key)).status).toBe(401);
    } finally {
      serve.child.kill('SIGTERM');
      expect(await serve.exited).toBe(0);
    }
  });
});

describe('observatory serve computes drift', () => {
  it("at start-up, when today's is missing", async () => {
    await runCli(['keys', 'create', '--org', 'drifty', '--role', 'viewer'], { DATABASE_URL: db.url });
    const latencies = Array.from({ length: 200 }, (_, i) => 50 + i);
    await insertModelCalls(db.pool, {
      orgId: 'drifty',
      model: 'm',
      latencies,
      fromHoursAgo: 60,
      toHoursAgo: 30,
    });
    await insertModelCalls(db.pool, {
      orgId: 'drifty',
      model: 'm',
      latencies,
      fromHoursAgo: 10,
      toHoursAgo: 1,
    });
    const serve = await startServe({ DATABASE_URL: db.url });
    try {
      const rows = await until('drift rows', async () => {
        const { rows } = await db.pool.query(
          "SELECT feature, reading FROM model_drift WHERE org_id = 'drifty' ORDER BY feature",
        );
        return rows.length === 4 && rows;
      });
      expect(rows.find((r) => r.feature === 'latency_ms')).toEqual({
        feature: 'latency_ms',
        reading: 'stable',
      });
    } finally {
      serve.child.kill('SIGTERM');
      expect(await serve.exited).toBe(0);
    }
  });
});

describe('observatory serve on the embedded database', () => {
  const dirs: string[] = [];
  const running: RunningServe[] = [];

  async function dataDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'observatory-cli-'));
    dirs.push(dir);
    return dir;
  }

  async function serve(dir: string): Promise<RunningServe> {
    const started = await startServe({ OBSERVATORY_DATA_DIR: dir });
    running.push(started);
    return started;
  }

  afterAll(async () => {
    for (const s of running) {
      if (s.child.exitCode === null && s.child.signalCode === null) {
        s.child.kill('SIGTERM');
        await s.exited;
      }
    }
    // A server orphaned by the SIGKILL cases: stop it by the pid PostgreSQL recorded.
    for (const dir of dirs) {
      const pid = Number(
        (await readFile(join(dir, 'pg', 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0],
      );
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGINT');
        } catch {}
      }
    }
    await new Promise((r) => setTimeout(r, 500));
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('starts from a clean data dir, prints bootstrap keys, and keeps data across a restart', async () => {
    const dir = await dataDir();
    const first = await serve(dir);
    const health = await fetch(`${first.baseUrl}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', database: 'ok' });
    const bootstrap = first.output().stderr;
    const adminKey = /org_admin\s+(obs_\S+)/.exec(bootstrap)?.[1];
    const ingestKey = /ingest\s+(obs_\S+)/.exec(bootstrap)?.[1];
    expect(adminKey).toBeDefined();
    expect(ingestKey).toBeDefined();

    // A key created by another process while serve owns the database works at once.
    const created = await runCli(['keys', 'create', '--org', 'acme', '--role', 'org_admin'], {
      OBSERVATORY_DATA_DIR: dir,
    });
    expect(created.code).toBe(0);
    const key = lastLine(created.stdout);
    expect((await whoami(first.baseUrl, key)).body).toMatchObject({ org_id: 'acme', role: 'org_admin' });
    expect((await whoami(first.baseUrl, adminKey!)).body).toMatchObject({
      org_id: 'default',
      role: 'org_admin',
    });

    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const second = await serve(dir);
    expect(second.output().stderr).not.toMatch(/Created org/);
    expect((await whoami(second.baseUrl, key)).status).toBe(200);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('lets a second serve share the embedded database a running serve owns', async () => {
    const dir = await dataDir();
    const first = await serve(dir);
    const second = await serve(dir);
    expect((await fetch(`${second.baseUrl}/health`)).status).toBe(200);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    // The owner's database outlives the second service.
    expect((await fetch(`${first.baseUrl}/health`)).status).toBe(200);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
  });

  it('starts cleanly after serve is killed with SIGKILL, alone or with its PostgreSQL', async () => {
    const dir = await dataDir();
    const first = await serve(dir);
    const key = lastLine(
      (await runCli(['keys', 'create', '--org', 'acme', '--role', 'viewer'], { OBSERVATORY_DATA_DIR: dir }))
        .stdout,
    );
    first.child.kill('SIGKILL');
    await first.exited;

    const second = await serve(dir);
    expect((await whoami(second.baseUrl, key)).status).toBe(200);
    // Now the whole process group, PostgreSQL included: a stale postmaster.pid is left behind.
    process.kill(-second.child.pid!, 'SIGKILL');
    await second.exited;
    await new Promise((r) => setTimeout(r, 300));

    const third = await serve(dir);
    expect((await whoami(third.baseUrl, key)).status).toBe(200);
    third.child.kill('SIGTERM');
    expect(await third.exited).toBe(0);
  });
});
