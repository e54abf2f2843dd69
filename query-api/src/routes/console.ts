import { readFileSync } from 'node:fs';
import { createRoute, z } from '@hono/zod-openapi';
import { jsonContent, openApiRoutes } from '../http/openapi.ts';

export interface ConsoleOptions {
  /** Link from an event's trace id to the trace viewer; `{trace_id}` is replaced. */
  traceUrlTemplate?: string;
}

const DIR = new URL('../../console/', import.meta.url);
const FILES = [
  { path: '/', file: 'index.html', type: 'text/html', operationId: 'getConsolePage' },
  { path: '/console/app.js', file: 'app.js', type: 'text/javascript', operationId: 'getConsoleScript' },
  { path: '/console/app.css', file: 'app.css', type: 'text/css', operationId: 'getConsoleStyles' },
] as const;

const ConsoleConfigSchema = z
  .object({ trace_url_template: z.string().describe('`{trace_id}` is replaced by the event’s trace id') })
  .openapi('ConsoleConfig');

/**
 * The web console: a few static files (plain ES modules, no build step) and `GET /api/console/config`. The page
 * talks to the same API as everyone else, with the session cookie it gets at sign-in.
 */
export function consoleRoutes({
  traceUrlTemplate = 'http://localhost:16686/trace/{trace_id}',
}: ConsoleOptions = {}) {
  const app = openApiRoutes();
  for (const { path, file, type, operationId } of FILES) {
    const body = readFileSync(new URL(file, DIR));
    const route = createRoute({
      method: 'get',
      path,
      operationId,
      tags: ['console'],
      summary: `The web console's ${file}`,
      responses: { 200: { description: file, content: { [type]: { schema: z.string() } } } },
    });
    app.openapi(route, (c) =>
      c.body(new Uint8Array(body), 200, {
        'content-type': `${type}; charset=utf-8`,
        'cache-control': 'no-cache',
        'content-security-policy':
          "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
      }),
    );
  }
  const config = createRoute({
    method: 'get',
    path: '/api/console/config',
    operationId: 'getConsoleConfig',
    tags: ['console'],
    summary: 'Settings the web console needs (trace link template)',
    responses: { 200: jsonContent(ConsoleConfigSchema, 'The settings') },
  });
  return app.openapi(config, (c) => c.json({ trace_url_template: traceUrlTemplate }, 200));
}
