import { describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import { isConnectionError } from './connection-errors.ts';
import { withTransaction } from './transaction.ts';

const db = await createTestDatabase();

async function terminate(pid: number): Promise<void> {
  await db.pool.query('SELECT pg_terminate_backend($1)', [pid]);
}

describe('withTransaction on a lost connection', () => {
  it('fails that call only, while a statement runs, and the next call gets a fresh connection', async () => {
    const failed = withTransaction(db.pool, async (client) => {
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const running = client.query('SELECT pg_sleep(5)');
      // It may fail while `terminate` is still awaited: handled from the start, it is awaited (and thrown) below.
      running.catch(() => undefined);
      await terminate(rows[0]!.pid);
      await running;
    });
    const err = await failed.catch((e: unknown) => e);
    expect(isConnectionError(err)).toBe(true);
    await expect(
      withTransaction(db.pool, async (c) => (await c.query('SELECT 1 AS one')).rows[0]),
    ).resolves.toEqual({
      one: 1,
    });
  });

  it('survives the connection dying while the transaction waits on something else', async () => {
    let pid = 0;
    const err = await withTransaction(db.pool, async (client) => {
      pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      await terminate(pid);
      // Let the server's goodbye arrive while no statement is running on this client.
      await new Promise((resolve) => setTimeout(resolve, 300));
      await client.query('SELECT 1');
    }).catch((e: unknown) => e);
    expect(isConnectionError(err)).toBe(true);
    const { rows } = await db.pool.query<{ alive: boolean }>(
      'SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1) AS alive',
      [pid],
    );
    expect(rows[0]!.alive).toBe(false);
    await expect(
      withTransaction(db.pool, async (c) => (await c.query('SELECT 2 AS two')).rows[0]),
    ).resolves.toEqual({
      two: 2,
    });
  });
});
