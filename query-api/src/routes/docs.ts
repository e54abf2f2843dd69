import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../http/app-env.ts';
import { CONSOLE_CSP, staticFolder } from './console-files.ts';

export const OPENAPI_PATH = '/openapi.json';
export const DOCS_PATH = '/docs';

/**
 * `GET /openapi.json` (OpenAPI 3.1, generated from the routes' `createRoute` declarations) and the API reference at
 * `GET /docs`: a console page that renders the document in the browser, with nothing loaded from elsewhere, so it
 * works offline. Call after every route is mounted.
 */
export function registerDocs(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description:
      'An API key (`observatory keys create`), or for `/metrics` and the Alertmanager webhook their own token',
  });
  app.doc31(OPENAPI_PATH, {
    openapi: '3.1.0',
    info: {
      title: 'Observatory API',
      version: '0.1.0',
      description:
        'Telemetry for AI inference: ingest, query, export and alert. Errors are RFC 9457 problem+json.',
    },
  });
  const page = staticFolder('').get('docs.html')!;
  app.get(DOCS_PATH, (c) =>
    c.body(new Uint8Array(page.body), 200, {
      'content-type': page.type,
      'cache-control': 'no-cache',
      'content-security-policy': CONSOLE_CSP,
    }),
  );
}
