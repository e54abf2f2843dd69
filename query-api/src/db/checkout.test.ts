import pg from 'pg';
import QueryStream from 'pg-query-stream';
import { expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import { checkout } from './checkout.ts';
import { isConnectionError } from './connection-errors.ts';

const db = await createTestDatabase();

it('ends a streaming read paused between batches with an error when its connection is cut, instead of waiting forever', async () => {
  const { stream, client, release } = await checkout(db.pool);
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const read = stream(
    new QueryStream("SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, 100000) g", [], {
      batchSize: 100,
    }),
  );
  let received = 0;
  const outcome = new Promise<Error | 'ended'>((resolve) => {
    read.on('error', resolve);
    read.on('end', () => resolve('ended'));
  });
  read.on('data', () => {
    received++;
    if (received === 500) read.pause();
  });
  await expect.poll(() => received).toBe(500);
  const other = new pg.Client({ connectionString: db.url });
  await other.connect();
  await other.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
  await other.end();
  await new Promise((resolve) => setTimeout(resolve, 200));
  read.resume();
  const result = await outcome;
  release(true);
  expect(result).toBeInstanceOf(Error);
  // A lost connection, which the export worker retries and the CSV route answers as one.
  expect(isConnectionError(result)).toBe(true);
  expect(received).toBeLessThan(100_000);
});
