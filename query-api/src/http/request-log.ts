import { randomUUID } from 'node:crypto';
import { type Tracer, trace } from '@opentelemetry/api';
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { Logger } from '../log.ts';
import { startServerSpan, traceresponse } from './trace-context.ts';

export type RequestLogEnv = { Variables: { requestId: string; log: Logger } };

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Gives every request an id (the caller's X-Request-ID when it is well formed) and a span in the caller's trace
 * (its `traceparent`, else a new trace), and logs one JSON line when it completes, carrying request id, trace id and
 * span id; every answer names them in `X-Request-ID` and `traceresponse`. The query string is not logged: filters
 * can name users.
 */
export function requestLog(
  logger: Logger,
  tracer: Tracer = trace.getTracer('observatory'),
): MiddlewareHandler<RequestLogEnv> {
  return async function requestLogMiddleware(c, next) {
    const incoming = c.req.header('x-request-id');
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    const { context, span } = startServerSpan(tracer, c.req.method, c.req.header('traceparent'));
    const log = logger.child({ request_id: requestId, trace_id: context.traceId, span_id: context.spanId });
    c.set('requestId', requestId);
    c.set('log', log);
    const started = performance.now();
    await next();
    c.header('X-Request-ID', requestId);
    c.header('traceresponse', traceresponse(context));
    // The matched route, never the path itself: paths can carry ids.
    const route = routePath(c, -1);
    span.updateName(`${c.req.method} ${route}`);
    span.setAttributes({
      'http.request.method': c.req.method,
      'http.route': route,
      'http.response.status_code': c.res.status,
    });
    span.end();
    log.info(
      {
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        duration_ms: Math.round((performance.now() - started) * 10) / 10,
      },
      'request',
    );
  };
}
