import type pg from 'pg';
import { checkout } from './checkout.ts';

/**
 * Runs `fn` in a transaction on one pooled connection: COMMIT when it returns, ROLLBACK when it throws. A connection
 * lost on the way fails this call only; the client is destroyed and the next call gets a fresh one.
 */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const { client, release } = await checkout(pool);
  let broken = false;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {
      broken = true;
    });
    throw err;
  } finally {
    release(broken);
  }
}
