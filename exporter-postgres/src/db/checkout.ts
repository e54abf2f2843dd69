import type pg from 'pg';

export interface CheckedOutClient {
  client: pg.PoolClient;
  /** Hands the client back to the pool; it is destroyed instead when its connection failed or `broken` is set. */
  release(broken?: boolean): void;
}

/**
 * Checks a client out of the pool with an 'error' listener for as long as it is out. pg-pool listens only on idle
 * clients, and a server that drops a checked-out connection makes the client emit 'error' (even after the failing
 * query has been rejected): without a listener, that event would end the process.
 */
export async function checkout(pool: pg.Pool): Promise<CheckedOutClient> {
  const client = await pool.connect();
  let lost: Error | undefined;
  const onError = (err: Error) => {
    lost ??= err;
  };
  client.on('error', onError);
  let released = false;
  return {
    client,
    release(broken = false) {
      if (released) return;
      released = true;
      client.release(lost ?? broken);
      // Only now: release() has put the pool's own listener back, so the client is never without one.
      client.removeListener('error', onError);
    },
  };
}
