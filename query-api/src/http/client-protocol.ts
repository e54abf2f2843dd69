import type { Context } from 'hono';

export interface ClientProtocolOptions {
  /** Whether a proxy in front sets X-Forwarded-Proto (`OBSERVATORY_TRUST_PROXY`). */
  trustProxy: boolean;
}

/**
 * Whether the client reached the service over HTTPS. Behind a trusted TLS-terminating proxy that is its
 * X-Forwarded-Proto, whose first value is the scheme the client used (later proxies append theirs); otherwise
 * the header is ignored, since any client could send it, and only the request's own scheme counts.
 */
export function clientUsesHttps(c: Context, { trustProxy }: ClientProtocolOptions): boolean {
  if (trustProxy) {
    const forwarded = c.req.header('x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase();
    if (forwarded) return forwarded === 'https';
  }
  return new URL(c.req.url).protocol === 'https:';
}
