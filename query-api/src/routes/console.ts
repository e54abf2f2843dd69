import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { jsonContent, openApiRoutes, problems } from '../http/openapi.ts';
import { ProblemError } from '../http/problem.ts';
import { CONSOLE_CSP, type StaticFile, staticFolder, VENDOR_FILES } from './console-files.ts';

export interface ConsoleOptions {
  /** Link from a trace to an external trace viewer (Jaeger, Tempo); `{trace_id}` is replaced. None: no link. */
  traceUrlTemplate?: string | undefined;
}

const ConsoleConfigSchema = z
  .object({
    trace_url_template: z
      .string()
      .nullable()
      .describe('`{trace_id}` is replaced by a trace id; null when no trace viewer is configured'),
  })
  .openapi('ConsoleConfig');

const HEADERS = { 'cache-control': 'no-cache', 'content-security-policy': CONSOLE_CSP };

/** The answer for one static file. */
function serve(c: Context, file: StaticFile) {
  return c.body(new Uint8Array(file.body), 200, { ...HEADERS, 'content-type': file.type });
}

/** The folder routes answer scripts, styles and icons, each with its own type. */
const FILE_TYPES: string = '*/*';

/** One route per folder of static files: `{file}` is one of the folder's files, anything else a 404. */
function folderRoute(prefix: string, files: Map<string, StaticFile>, operationId: string, summary: string) {
  return {
    route: createRoute({
      method: 'get',
      path: `${prefix}/{file}`,
      operationId,
      tags: ['console'],
      summary,
      request: {
        params: z.object({
          file: z
            .string()
            .max(100)
            .regex(/^[a-z0-9-]+\.(js|css|svg|html)$/, 'must be a console file name'),
        }),
      },
      responses: {
        200: { description: 'The file', content: { [FILE_TYPES]: { schema: z.string() } } },
        ...problems(400, 404),
      },
    }),
    files,
  };
}

/**
 * The web console: static ES modules (Preact with htm, uPlot; no build step), the files of those packages served
 * from `node_modules`, and `GET /api/console/config`. The page talks to the same API as everyone else, with the
 * session cookie it gets at sign-in.
 */
export function consoleRoutes({ traceUrlTemplate }: ConsoleOptions = {}) {
  const app = openApiRoutes();
  const root = staticFolder('');
  const single = (path: string, operationId: string, file: string, summary: string, type: string) =>
    app.openapi(
      createRoute({
        method: 'get',
        path,
        operationId,
        tags: ['console'],
        summary,
        responses: { 200: { description: file, content: { [type]: { schema: z.string() } } } },
      }),
      (c) => serve(c, root.get(file)!),
    );
  single('/', 'getConsolePage', 'index.html', 'The web console', 'text/html');
  single('/favicon.ico', 'getFavicon', 'favicon.svg', 'The icon (SVG)', 'image/svg+xml');
  for (const { route, files } of [
    folderRoute('/console', root, 'getConsoleFile', "The console's scripts, styles and icon"),
    folderRoute(
      '/console/pages',
      staticFolder('pages'),
      'getConsolePageModule',
      "The console's page modules",
    ),
    folderRoute('/console/lib', staticFolder('lib'), 'getConsoleLibrary', "The console's shared modules"),
    folderRoute(
      '/console/vendor',
      VENDOR_FILES,
      'getConsoleVendorFile',
      'Preact, htm and uPlot, as published',
    ),
  ]) {
    app.openapi(route, (c) => {
      const file = files.get(c.req.valid('param').file);
      if (!file) throw new ProblemError(404, `No console file ${c.req.path}`);
      return serve(c, file);
    });
  }
  const config = createRoute({
    method: 'get',
    path: '/api/console/config',
    operationId: 'getConsoleConfig',
    tags: ['console'],
    summary: 'Settings the web console needs (trace link template)',
    responses: { 200: jsonContent(ConsoleConfigSchema, 'The settings') },
  });
  return app.openapi(config, (c) => c.json({ trace_url_template: traceUrlTemplate || null }, 200));
}
