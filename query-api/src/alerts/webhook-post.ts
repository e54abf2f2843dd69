import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { WebhookTarget } from './webhook-url.ts';

/** A `lookup` that answers with already checked addresses instead of asking DNS a second time. */
export function pinnedLookup(addresses: readonly string[]): LookupFunction {
  const entries = addresses.map((address) => ({ address, family: isIP(address) }));
  return function pinnedLookupFunction(hostname, options, callback) {
    const family = options.family === 4 || options.family === 6 ? options.family : 0;
    const matching = family ? entries.filter((e) => e.family === family) : entries;
    const first = matching[0];
    if (!first) {
      const err: NodeJS.ErrnoException = new Error(`no checked IPv${family} address for ${hostname}`);
      err.code = 'ENOTFOUND';
      callback(err, '');
    } else if (options.all) {
      callback(null, matching);
    } else {
      callback(null, first.address, first.family);
    }
  };
}

/**
 * POSTs `body` as JSON to the target over a fresh connection to one of its checked addresses (no pooled socket
 * from an earlier resolution) and resolves with the status code. Redirects are not followed: a 3xx is the answer.
 */
export function postJson(target: WebhookTarget, body: unknown, timeoutMs: number): Promise<number> {
  const payload = JSON.stringify(body);
  const send = target.url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const request = send(
      target.url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
          'user-agent': 'observatory-alerts',
        },
        lookup: pinnedLookup(target.addresses),
        agent: false,
        signal: AbortSignal.timeout(timeoutMs),
      },
      (response) => {
        resolve(response.statusCode ?? 0);
        // Only the status matters; the body is not read.
        response.destroy();
      },
    );
    request.once('error', reject);
    request.end(payload);
  });
}
