import type { OpenAPIHono } from '@hono/zod-openapi';
import { Scalar } from '@scalar/hono-api-reference';
import type { AppEnv } from '../http/app-env.ts';

export const OPENAPI_PATH = '/openapi.json';
export const DOCS_PATH = '/docs';

/**
 * `GET /openapi.json` (OpenAPI 3.1, generated from the routes' `createRoute` declarations) and interactive docs at
 * `GET /docs`. Call after every route is mounted.
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
  app.get(DOCS_PATH, Scalar({ url: OPENAPI_PATH, pageTitle: 'Observatory API' }));
}
