import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { type DeliveryOptions, deliver } from './notify.ts';

// A local receiver: /hook answers 204, /moved redirects to /hook, so a followed redirect would show up as a
// second request.
const requests: { path: string; host: string | undefined }[] = [];
const receiver = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    requests.push({ path: req.url ?? '', host: req.headers.host });
    if (req.url === '/moved') res.writeHead(302, { location: '/hook' }).end();
    else res.writeHead(204).end();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const port = (receiver.address() as AddressInfo).port;
afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())));
beforeEach(() => {
  requests.length = 0;
});

/** A resolver for a name the system resolver cannot know, counting how often it is asked. */
function fakeResolver(addresses: string[]) {
  const resolve = async (hostname: string) => {
    resolve.calls.push(hostname);
    return addresses;
  };
  resolve.calls = [] as string[];
  return resolve;
}

const options = (o: Partial<DeliveryOptions>): DeliveryOptions => ({
  timeoutMs: 2000,
  maxAttempts: 3,
  backoffMs: 1,
  allowPrivate: false,
  publicUrl: 'http://localhost:4318',
  ...o,
});
const body = { event: 'firing' };

describe('webhook delivery', () => {
  it('refuses, at connect time, a name that resolves to a private address, sending nothing', async () => {
    const resolve = fakeResolver(['127.0.0.1']);
    const outcome = await deliver(
      { type: 'webhook', url: `http://hooks.example.test:${port}/hook` },
      body,
      options({ resolve }),
    );
    expect(outcome).toMatchObject({ ok: false, attempts: 1, httpStatus: null });
    expect(outcome.error).toMatch(/127\.0\.0\.1: loopback/);
    expect(requests).toEqual([]);
  });

  it('connects to the address it checked: one resolution per attempt, none by the HTTP client', async () => {
    const resolve = fakeResolver(['127.0.0.1']);
    const outcome = await deliver(
      { type: 'webhook', url: `http://hooks.example.test:${port}/hook` },
      body,
      options({ resolve, allowPrivate: true }),
    );
    expect(outcome).toEqual({ ok: true, attempts: 1, httpStatus: 204, error: null });
    expect(resolve.calls).toEqual(['hooks.example.test']);
    expect(requests).toEqual([{ path: '/hook', host: `hooks.example.test:${port}` }]);
  });

  it('does not follow a redirect: a 3xx is a failed delivery, not retried', async () => {
    const outcome = await deliver(
      { type: 'webhook', url: `http://127.0.0.1:${port}/moved` },
      body,
      options({ allowPrivate: true }),
    );
    expect(outcome).toMatchObject({ ok: false, attempts: 1, httpStatus: 302 });
    expect(outcome.error).toMatch(/redirects are not followed/);
    expect(requests.map((r) => r.path)).toEqual(['/moved']);
  });
});
