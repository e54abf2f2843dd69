import { Hono } from 'hono';
import type { AppDeps, AppEnv } from '../app.ts';
import { retryOnConnectionLoss } from '../db/retry.ts';

const HEALTH_TIMEOUT_MS = 2000;

export function healthRoutes({ pool }: AppDeps): Hono<AppEnv> {
  return new Hono<AppEnv>().get('/health', async (c) => {
    try {
      await Promise.race([
        // A pooled connection the server dropped a moment ago is no verdict on the database: ask once more.
        retryOnConnectionLoss(() => pool.query('SELECT 1'), { attempts: 2, baseMs: 50 }),
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error('timed out')), HEALTH_TIMEOUT_MS).unref(),
        ),
      ]);
      return c.json({ status: 'ok', database: 'ok' });
    } catch (err) {
      return c.json({ status: 'unavailable', database: 'unreachable', error: (err as Error).message }, 503);
    }
  });
}
