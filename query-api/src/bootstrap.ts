import { ADVISORY_LOCKS } from '@observatory/exporter-postgres';
import type pg from 'pg';
import { checkout } from './db/checkout.ts';
import { type CreatedKey, createKey } from './keys/keys.ts';

/**
 * On a database with no org yet, creates the `default` org with one org_admin and one ingest key, so a
 * new user can start at once. Returns the keys (to be shown once), or undefined when orgs already exist.
 */
export async function bootstrapDefaultOrg(pool: pg.Pool): Promise<CreatedKey[] | undefined> {
  const { client, release } = await checkout(pool);
  try {
    await client.query('SELECT pg_advisory_lock($1)', [ADVISORY_LOCKS.bootstrap]);
    const { rows } = await client.query('SELECT 1 FROM orgs LIMIT 1');
    if (rows.length > 0) return undefined;
    return [
      await createKey(pool, { orgId: 'default', role: 'org_admin', name: 'bootstrap admin' }),
      await createKey(pool, { orgId: 'default', role: 'ingest', name: 'bootstrap ingest' }),
    ];
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCKS.bootstrap]).catch(() => undefined);
    release();
  }
}
