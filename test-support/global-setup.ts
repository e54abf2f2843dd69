import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePartitions, migrate } from '@observatory/exporter-postgres';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { openEmbedded } from '../query-api/src/db/embedded.ts';

export interface TestDatabaseServer {
  /** A connection string to the server's maintenance database, for creating and dropping databases. */
  adminUrl: string;
  /** Migrated database every test database is copied from. */
  template: string;
  /** Prefix of every database this run creates. */
  run: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    testDb: TestDatabaseServer;
  }
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * Once per `vitest run`: picks the server (TEST_DATABASE_URL, else an embedded PostgreSQL started here),
 * creates one migrated template database, and afterwards drops every database this run created.
 */
export default async function setup(project: TestProject) {
  let dataDir: string | undefined;
  let embedded: Awaited<ReturnType<typeof openEmbedded>> | undefined;
  let adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) {
    dataDir = await mkdtemp(join(tmpdir(), 'observatory-test-pg-'));
    embedded = await openEmbedded(dataDir);
    adminUrl = embedded.url;
  }
  const run = `obs_test_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const template = `${run}_template`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${template}`);
  const pool = new pg.Pool({ connectionString: withDatabase(adminUrl, template) });
  await migrate(pool);
  await ensurePartitions(pool);
  await pool.end();
  await admin.end();
  project.provide('testDb', { adminUrl, template, run });

  return async function teardown() {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    const { rows } = await client.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE datname LIKE $1 || '%'",
      [run],
    );
    for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    await client.end();
    await embedded?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  };
}
