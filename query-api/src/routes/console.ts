import { readFileSync } from 'node:fs';
import { Hono } from 'hono';
import type { AppEnv } from '../app.ts';

export interface ConsoleOptions {
  /** Link from an event's trace id to the trace viewer; `{trace_id}` is replaced. */
  traceUrlTemplate?: string;
}

const DIR = new URL('../../console/', import.meta.url);
const FILES: Record<string, string> = {
  '/': 'index.html',
  '/console/app.js': 'app.js',
  '/console/app.css': 'app.css',
};
const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

/**
 * The web console: a few static files (plain ES modules, no build step) and `GET /api/console/config`. The page
 * talks to the same API as everyone else, with the session cookie it gets at sign-in.
 */
export function consoleRoutes({
  traceUrlTemplate = 'http://localhost:16686/trace/{trace_id}',
}: ConsoleOptions = {}) {
  const app = new Hono<AppEnv>();
  for (const [path, file] of Object.entries(FILES)) {
    const body = readFileSync(new URL(file, DIR));
    const type = TYPES[file.split('.').pop()!]!;
    app.get(path, (c) =>
      c.body(new Uint8Array(body), 200, {
        'content-type': type,
        'cache-control': 'no-cache',
        'content-security-policy':
          "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
      }),
    );
  }
  app.get('/api/console/config', (c) => c.json({ trace_url_template: traceUrlTemplate }));
  return app;
}
