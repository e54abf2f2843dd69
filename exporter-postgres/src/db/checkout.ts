import type { Readable } from 'node:stream';
import type pg from 'pg';

export interface CheckedOutClient {
  client: pg.PoolClient;
  /** Hands the client back to the pool; it is destroyed instead when its connection failed or `broken` is set. */
  release(broken?: boolean): void;
  /**
   * Submits a streaming query (pg-query-stream) on the client, ended with the connection's error when the connection
   * fails or ends: a cursor paused between reads is never told (pg-cursor), so whoever reads it would wait forever
   * (a CSV download that never ends, an export that holds its lease for good).
   */
  stream<S extends pg.Submittable & Readable>(query: S): S;
}

/**
 * Checks a client out of the pool with an 'error' listener for as long as it is out. pg-pool listens only on idle
 * clients, and a server that drops a checked-out connection makes the client emit 'error' (even after the failing
 * query has been rejected): without a listener, that event would end the process.
 */
export async function checkout(pool: pg.Pool): Promise<CheckedOutClient> {
  const client = await pool.connect();
  let lost: Error | undefined;
  const streams = new Set<Readable>();
  const cutOff = (err: Error) => {
    lost ??= err;
    for (const s of streams) {
      // A stream's own _destroy closes its cursor and waits for the server's answer, which never comes now.
      s._destroy = (error, callback) => callback(error);
      s.destroy(lost);
    }
  };
  const onEnd = () => cutOff(new Error('Connection terminated unexpectedly'));
  client.on('error', cutOff);
  client.on('end', onEnd);
  let released = false;
  return {
    client,
    release(broken = false) {
      if (released) return;
      released = true;
      client.release(lost ?? broken);
      // Only now: release() has put the pool's own listener back, so the client is never without one.
      client.removeListener('error', cutOff);
      client.removeListener('end', onEnd);
    },
    stream(query) {
      const submitted = client.query(query);
      streams.add(submitted);
      submitted.once('close', () => streams.delete(submitted));
      if (lost) cutOff(lost);
      return submitted;
    },
  };
}
