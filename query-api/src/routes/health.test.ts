import pg from 'pg';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import { TcpProxy } from '../../../test-support/tcp-proxy.ts';
import { createApp } from '../app.ts';

const db = await createTestDatabase();
const proxy = new TcpProxy('127.0.0.1', Number(new URL(db.url).port || 5432));
await proxy.start();
const pool = new pg.Pool({ connectionString: proxy.urlFor(db.url), connectionTimeoutMillis: 500 });
pool.on('error', () => undefined);
const app = createApp({ pool, logger: pino({ level: 'silent' }) });

afterAll(async () => {
  await proxy.stop();
  await pool.end();
});

async function waitForStatus(status: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await app.request('/health');
    if (res.status === status) return;
    if (Date.now() > deadline) throw new Error(`/health still ${res.status}, expected ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('GET /health through a database outage', () => {
  it('is 503 while the database is unreachable and 200 again by itself once it is back', async () => {
    await waitForStatus(200, 5000);
    await proxy.cut();
    const down = await app.request('/health');
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ status: 'unavailable', database: 'unreachable' });
    await proxy.restore();
    await waitForStatus(200, 5000);
  });

  it('answers 503 with Retry-After, not 500, to an API request while the database is unreachable', async () => {
    await proxy.cut();
    const res = await app.request('/api/whoami', { headers: { authorization: 'Bearer obs_nope' } });
    await proxy.restore();
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.headers.get('retry-after')).toBeTruthy();
  });
});
