import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

// Addresses a tenant's webhook must not reach: loopback, private, link-local (cloud metadata),
// carrier-grade NAT, unspecified and multicast ranges.
const internal = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  internal.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  internal.addSubnet(net, prefix, 'ipv6');
}

// IPv4-mapped IPv6 (URL parsing turns ::ffff:127.0.0.1 into ::ffff:7f00:1) is checked as the IPv4 it carries.
function unmapped(address: string): string | undefined {
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (dotted) return dotted[1];
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (!hex) return undefined;
  const [hi, lo] = [Number.parseInt(hex[1]!, 16), Number.parseInt(hex[2]!, 16)];
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
}

function isInternal(address: string): boolean {
  const v4 = unmapped(address);
  if (v4) return internal.check(v4, 'ipv4');
  return internal.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
}

export class WebhookUrlError extends Error {
  override name = 'WebhookUrlError';
}

/**
 * Throws a WebhookUrlError unless `raw` is an http(s) URL whose host resolves only to public addresses
 * (any address when `allowPrivate`). Checked when a rule is saved and again before each delivery, since
 * a name can be re-pointed later.
 */
export async function assertWebhookUrl(raw: string, allowPrivate: boolean): Promise<URL> {
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
  if (allowPrivate) return url;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  if (isIP(host)) {
    addresses = [host];
  } else {
    try {
      addresses = (await lookup(host, { all: true })).map((a) => a.address);
    } catch {
      throw new WebhookUrlError(`host ${host} does not resolve`);
    }
  }
  if (addresses.some(isInternal)) {
    throw new WebhookUrlError(
      `host ${host} is a loopback, private or link-local address; set OBSERVATORY_ALLOW_PRIVATE_WEBHOOKS=true to allow it`,
    );
  }
  return url;
}
