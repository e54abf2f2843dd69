import { mkdtemp, rm } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import { insertModelCalls } from '../../../test-support/model-calls.ts';
import { main } from './main.ts';

const db = await createTestDatabase();

async function cli(
  args: string[],
  env: Record<string, string> = { DATABASE_URL: db.url },
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    args,
    { out: (t) => out.push(t), err: (t) => err.push(t) },
    { LOG_LEVEL: 'silent', ...env },
  );
  return { code, stdout: out.join(''), stderr: err.join('') };
}

function oneLineError(result: { code: number; stderr: string }, message: RegExp): void {
  expect(result.code).toBe(1);
  expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(result.stderr).toMatch(message);
}

describe('observatory CLI arguments', () => {
  it('prints help for every command, and the version', async () => {
    const all = await cli(['--help']);
    expect(all.code).toBe(0);
    for (const name of [
      'serve',
      'worker',
      'migrate',
      'keys create',
      'keys list',
      'keys revoke',
      'settings get',
      'settings set',
      'retention run',
      'archive list',
      'archive restore',
      'archive bigquery-schema',
      'drift run',
    ]) {
      expect(all.stdout).toContain(name);
      const one = await cli([...name.split(' '), '--help']);
      expect(one.code).toBe(0);
      expect(one.stdout).toMatch(new RegExp(`^Usage: observatory ${name}`));
      expect((await cli(['help', ...name.split(' ')])).stdout).toBe(one.stdout);
    }
    const version = await cli(['--version']);
    expect(version).toMatchObject({ code: 0, stdout: expect.stringMatching(/^\d+\.\d+\.\d+\n$/) });
    expect((await cli([])).code).toBe(1);
  });

  it('names a missing or invalid flag in one line', async () => {
    oneLineError(await cli(['keys', 'create', '--role', 'viewer']), /keys create needs --org/);
    oneLineError(await cli(['keys', 'create', '--org', 'acme']), /keys create needs --role/);
    oneLineError(await cli(['keys', 'create', '--org', 'acme', '--role', 'root']), /--role is invalid/);
    oneLineError(await cli(['keys', 'create', '--org', 'a b', '--role', 'viewer']), /--org is invalid/);
    oneLineError(await cli(['keys', 'list', '--org', 'acme', '--colour']), /Unknown option '--colour'/);
    oneLineError(await cli(['keys', 'revoke']), /keys revoke needs <key_id>/);
    oneLineError(await cli(['keys', 'revoke', 'nope']), /<key_id> is invalid/);
    oneLineError(await cli(['serve', '--port', 'http']), /--port is invalid/);
    oneLineError(await cli(['keys', 'rotate']), /Unknown keys command "rotate"; one of: keys create/);
    oneLineError(await cli(['launch']), /Unknown command "launch"/);
    oneLineError(await cli(['migrate', 'now']), /Unexpected argument "now"/);
  });

  it('refuses to list the keys of an org that does not exist, and lists one that does', async () => {
    oneLineError(await cli(['keys', 'list', '--org', 'nobody']), /No org "nobody"/);
    const created = await cli(['keys', 'create', '--org', 'acme', '--role', 'viewer', '--name', 'ci']);
    expect(created.code).toBe(0);
    const listed = await cli(['keys', 'list', '--org', 'acme']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/viewer .* active {2}ci/);
    oneLineError(
      await cli(['keys', 'revoke', '00000000-0000-4000-8000-000000000000']),
      /No key with id 00000000/,
    );
  });

  it.each([
    [
      'an unreachable server',
      'postgres://postgres@127.0.0.1:1/postgres',
      /Cannot connect to PostgreSQL at 127\.0\.0\.1:1/,
    ],
    ['a malformed URL', 'mysql://nowhere', /DATABASE_URL/],
  ])('gives one line and a non-zero exit for %s', async (_what, url, message) => {
    const result = await cli(['migrate'], { DATABASE_URL: url });
    oneLineError(result, message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('gives one line and a non-zero exit when the port is busy', async () => {
    const blocker = createServer();
    const port = await new Promise<number>((resolve) =>
      blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as AddressInfo).port)),
    );
    const dataDir = await mkdtemp(join(tmpdir(), 'observatory-cli-busy-'));
    try {
      const result = await cli(['serve', '--port', String(port), '--host', '127.0.0.1'], {
        DATABASE_URL: db.url,
        OBSERVATORY_DATA_DIR: dataDir,
      });
      oneLineError(result, new RegExp(`Port ${port} is already in use`));
    } finally {
      blocker.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('drift run computes every model now and prints what it did; --org narrows it', async () => {
    await cli(['keys', 'create', '--org', 'drifty', '--role', 'viewer']);
    const latencies = Array.from({ length: 300 }, (_, i) => 100 + i);
    await insertModelCalls(db.pool, {
      orgId: 'drifty',
      model: 'm1',
      latencies,
      fromHoursAgo: 90,
      toHoursAgo: 30,
    });
    await insertModelCalls(db.pool, {
      orgId: 'drifty',
      model: 'm1',
      latencies: latencies.map((l) => l * 3),
      fromHoursAgo: 20,
      toHoursAgo: 1,
    });
    const run = await cli(['drift', 'run', '--org', 'drifty']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /^drifty {2}m1 {2}latency_ms \d+\.\d{3} significant, input_tokens 0\.000 stable, /,
    );
    expect(run.stdout).toMatch(/\nComputed drift of 1 model\(s\) in \d+\.\d s\n$/);
    const { rows } = await db.pool.query(
      "SELECT count(*)::int AS n FROM model_drift WHERE org_id = 'drifty'",
    );
    expect(rows[0].n).toBe(4);
    // Again the same day: recomputed, still one row per feature.
    expect((await cli(['drift', 'run'])).stdout).toMatch(/^drifty {2}m1 /m);
    oneLineError(await cli(['drift', 'run', '--org', 'nobody']), /No org "nobody"/);
    oneLineError(await cli(['drift', 'run', '--org', 'a b']), /--org is invalid/);
  });
});
