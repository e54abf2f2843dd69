import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Who and what one incoming request is about; every model call traced inside it inherits these. */
export interface RequestContext {
  requestId: string;
  orgId?: string;
  userId?: string;
  clientId?: string;
  /** The conversation or thread the request continues (`gen_ai.conversation.id` on every call and agent in it). */
  sessionId?: string;
}

export const REQUEST_ID_HEADER = 'x-request-id';

const storage = new AsyncLocalStorage<RequestContext>();
// A caller-supplied id ends up in rows and logs: accept only short, plain tokens, never free text.
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The incoming `X-Request-ID` when it is a plain token, else a fresh UUID. */
export function requestIdFrom(header: string | string[] | null | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value && REQUEST_ID.test(value) ? value : randomUUID();
}

/** Runs `fn` with `context` as the current request; model calls inside inherit its ids. */
export function runWithRequestContext<T>(context: RequestContext, fn: () => T): T {
  return storage.run({ ...context }, fn);
}

export function getRequestContext(): RequestContext | undefined {
  return storage.getStore();
}

/**
 * Sets org, user, client or session on the current request once they are known (typically after authentication),
 * so every later model call in the request carries them. Outside a request it does nothing.
 */
export function setRequestIdentity(identity: Omit<RequestContext, 'requestId'>): void {
  const current = storage.getStore();
  if (current) Object.assign(current, identity);
}

type NodeHandler = (req: IncomingMessage, res: ServerResponse) => unknown;

/** Wraps a node:http request listener: request id from `X-Request-ID` (echoed back), context for the request. */
export function withRequestContext(handler: NodeHandler): NodeHandler {
  return function requestContextListener(req, res) {
    const requestId = requestIdFrom(req.headers[REQUEST_ID_HEADER]);
    res.setHeader(REQUEST_ID_HEADER, requestId);
    return storage.run({ requestId }, () => handler(req, res));
  };
}

/** The part of a Hono context the middleware uses, typed structurally so this package needs no Hono. */
interface HonoLikeContext {
  req: { header(name: string): string | undefined };
  header(name: string, value: string): void;
}

/** Hono middleware doing what {@link withRequestContext} does for node:http. */
export function requestContext() {
  return function requestContextMiddleware(c: HonoLikeContext, next: () => Promise<void>): Promise<void> {
    const requestId = requestIdFrom(c.req.header(REQUEST_ID_HEADER));
    c.header(REQUEST_ID_HEADER, requestId);
    return storage.run({ requestId }, next);
  };
}
