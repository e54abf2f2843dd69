import { encodeRpcStatus } from '@observatory/exporter-postgres';
import type { MiddlewareHandler } from 'hono';

const PROTOBUF = /^application\/(x-)?protobuf\s*(;|$)/i;

/**
 * OTLP/HTTP error bodies: a client that sent protobuf gets its error as a protobuf `google.rpc.Status` (the OTLP/HTTP
 * specification), with the problem's detail as the message; JSON requests keep the problem+json body, which is
 * JSON. Status code and headers (Retry-After) are the problem's.
 */
export function otlpErrorBodies(): MiddlewareHandler {
  return async function otlpErrorBodiesMiddleware(c, next) {
    await next();
    if (c.res.status < 400 || !PROTOBUF.test(c.req.header('content-type') ?? '')) return;
    if (!c.res.headers.get('content-type')?.startsWith('application/problem+json')) return;
    const problem = (await c.res.json()) as { detail?: string; title?: string };
    const headers = new Headers(c.res.headers);
    headers.set('content-type', 'application/x-protobuf');
    headers.delete('content-length');
    const body = encodeRpcStatus(c.res.status, problem.detail ?? problem.title ?? '');
    c.res = new Response(body, { status: c.res.status, headers });
  };
}
