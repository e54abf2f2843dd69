import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, it } from 'vitest';
import {
  getRequestContext,
  type RequestContext,
  requestIdFrom,
  runWithRequestContext,
  setRequestIdentity,
  withRequestContext,
} from './request-context.ts';

it('gives each node:http request its own context, with the request id from X-Request-ID echoed back', async () => {
  const seen: (RequestContext | undefined)[] = [];
  const server = createServer(
    withRequestContext(async (req, res) => {
      setRequestIdentity({ userId: req.headers['x-user-id'] as string });
      await new Promise((r) => setTimeout(r, 5));
      seen.push({ ...getRequestContext()! });
      res.end();
    }),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const [given, generated] = await Promise.all([
    fetch(url, { headers: { 'x-request-id': 'abc-123', 'x-user-id': 'u1' } }),
    fetch(url, { headers: { 'x-user-id': 'u2' } }),
  ]);
  server.close();

  expect(given.headers.get('x-request-id')).toBe('abc-123');
  const generatedId = generated.headers.get('x-request-id');
  expect(generatedId).toMatch(/^[0-9a-f-]{36}$/);
  expect(seen).toEqual(
    expect.arrayContaining([
      { requestId: 'abc-123', userId: 'u1' },
      { requestId: generatedId, userId: 'u2' },
    ]),
  );
  expect(getRequestContext()).toBeUndefined();
});

it('accepts only plain tokens as request ids', () => {
  expect(requestIdFrom('req_1.a:b-c')).toBe('req_1.a:b-c');
  expect(requestIdFrom(['first', 'second'])).toBe('first');
  for (const bad of ['', 'a b', 'x'.repeat(129), 'jane@example.com', undefined]) {
    expect(requestIdFrom(bad)).toMatch(/^[0-9a-f-]{36}$/);
  }
});

it('does not let setRequestIdentity change the object the caller passed in', () => {
  const context = { requestId: 'r' };
  runWithRequestContext(context, () => setRequestIdentity({ orgId: 'acme' }));
  expect(context).toEqual({ requestId: 'r' });
});
