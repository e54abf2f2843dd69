import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { specialPurposeRange } from './special-address.ts';

export class WebhookUrlError extends Error {
  override name = 'WebhookUrlError';
}

/** Resolves a host name to every address it has (the system resolver by default; tests pass their own). */
export type ResolveHost = (hostname: string) => Promise<string[]>;

export const systemResolver: ResolveHost = async (hostname) =>
  (await lookup(hostname, { all: true })).map((a) => a.address);

export interface WebhookTarget {
  url: URL;
  /** The checked addresses of the host, in resolver order: connect to these and nothing else. */
  addresses: string[];
}

export interface WebhookCheckOptions {
  allowPrivate: boolean;
  resolve?: ResolveHost;
}

/** `raw` as a URL, or a WebhookUrlError: only http(s), no credentials before the host. */
export function parseWebhookUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WebhookUrlError('is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new WebhookUrlError('must use http or https');
  }
  if (url.username || url.password) throw new WebhookUrlError('must not carry credentials before the host');
  return url;
}

/**
 * Parses `raw` and resolves its host once. Unless `allowPrivate`, throws a WebhookUrlError when any address is in
 * a special-purpose range (loopback, private, link-local, CGNAT, documentation, benchmarking, reserved, multicast,
 * and IPv6 forms carrying such an IPv4 address). The caller connects to the returned addresses, so a name that is
 * re-pointed between the check and the connection (DNS rebinding) cannot switch the target.
 */
export async function resolveWebhookTarget(
  raw: string,
  { allowPrivate, resolve = systemResolver }: WebhookCheckOptions,
): Promise<WebhookTarget> {
  const url = parseWebhookUrl(raw);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  if (isIP(host)) {
    addresses = [host];
  } else {
    try {
      addresses = await resolve(host);
    } catch {
      throw new WebhookUrlError(`host ${host} does not resolve`);
    }
    if (addresses.length === 0) throw new WebhookUrlError(`host ${host} does not resolve`);
  }
  if (!allowPrivate) {
    for (const address of addresses) {
      const range = specialPurposeRange(address);
      if (range) {
        throw new WebhookUrlError(
          `host ${host} is a special-purpose address (${address}: ${range}), not a public one; set OBSERVATORY_ALLOW_PRIVATE_WEBHOOKS=true to allow it`,
        );
      }
    }
  }
  return { url, addresses };
}

/** Throws a WebhookUrlError unless `raw` could be delivered to now; used when a rule is saved. */
export async function assertWebhookUrl(
  raw: string,
  allowPrivate: boolean,
  resolve: ResolveHost = systemResolver,
): Promise<URL> {
  return (await resolveWebhookTarget(raw, { allowPrivate, resolve })).url;
}
