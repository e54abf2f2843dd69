import { Hono } from 'hono';
import type { AppDeps, AppEnv } from '../app.ts';

const HEALTH_TIMEOUT_MS = 2000;

export function healthRoutes({ pool }: AppDeps): Hono<AppEnv> {
  return new Hono<AppEnv>().get('/health', async (c) => {
    try {
      await Promise.race([
        pool.query('SELECT 1'),
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
