import { describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import { createApp } from '../app.ts';
import { ConfigError, loadConfig } from '../config.ts';
import { createKey } from '../keys/keys.ts';
import { SESSION_COOKIE } from '../keys/sessions.ts';
import { createLogger } from '../log.ts';

const db = await createTestDatabase();
const logger = createLogger('silent');
const viewerKey = (await createKey(db.pool, { orgId: 'acme', role: 'viewer' })).key;

/** The Set-Cookie header of a sign-in (or sign-out) as one app answers it. */
async function sessionCookie(
  trustProxy: boolean,
  url: string,
  headers: Record<string, string> = {},
  method: 'POST' | 'DELETE' = 'POST',
): Promise<string> {
  const app = createApp({ pool: db.pool, logger, trustProxy });
  const response = await app.request(url, {
    method,
    headers: { authorization: `Bearer ${viewerKey}`, ...headers },
  });
  expect(response.status).toBeLessThan(300);
  const cookie = response.headers.get('set-cookie');
  expect(cookie?.startsWith(`${SESSION_COOKIE}=`)).toBe(true);
  return cookie!;
}

const secure = (cookie: string) => /;\s*Secure(;|$)/i.test(cookie);

describe('the session cookie behind a TLS-terminating proxy', () => {
  it('ignores X-Forwarded-Proto unless proxies are trusted: Secure only when the request itself is https', async () => {
    const forwarded = { 'x-forwarded-proto': 'https' };
    expect(secure(await sessionCookie(false, 'http://observatory.test/api/session', forwarded))).toBe(false);
    expect(secure(await sessionCookie(false, 'http://observatory.test/api/session'))).toBe(false);
    expect(secure(await sessionCookie(false, 'https://observatory.test/api/session'))).toBe(true);
    expect(
      secure(await sessionCookie(false, 'http://observatory.test/api/session', forwarded, 'DELETE')),
    ).toBe(false);
  });

  it("honours a trusted proxy's X-Forwarded-Proto: the scheme the client used, the first of a chain", async () => {
    const via = (value: string) => ({ 'x-forwarded-proto': value });
    const plain = 'http://observatory.test/api/session';
    expect(secure(await sessionCookie(true, plain, via('https')))).toBe(true);
    expect(secure(await sessionCookie(true, plain, via('HTTPS')))).toBe(true);
    expect(secure(await sessionCookie(true, plain, via('https, http')))).toBe(true);
    expect(secure(await sessionCookie(true, plain, via('http')))).toBe(false);
    expect(secure(await sessionCookie(true, plain, via('http, https')))).toBe(false);
    expect(secure(await sessionCookie(true, plain))).toBe(false);
    expect(secure(await sessionCookie(true, 'https://observatory.test/api/session'))).toBe(true);
    expect(secure(await sessionCookie(true, plain, via('https'), 'DELETE'))).toBe(true);
  });

  it('keeps the other cookie attributes whatever the proxy says', async () => {
    const cookie = await sessionCookie(true, 'http://observatory.test/api/session', {
      'x-forwarded-proto': 'https',
    });
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\//);
  });
});

describe('OBSERVATORY_TRUST_PROXY', () => {
  it('is false by default, true or false when set, and anything else is a configuration error naming it', () => {
    expect(loadConfig({}).OBSERVATORY_TRUST_PROXY).toBe(false);
    expect(loadConfig({ OBSERVATORY_TRUST_PROXY: 'true' }).OBSERVATORY_TRUST_PROXY).toBe(true);
    expect(loadConfig({ OBSERVATORY_TRUST_PROXY: 'false' }).OBSERVATORY_TRUST_PROXY).toBe(false);
    expect(() => loadConfig({ OBSERVATORY_TRUST_PROXY: 'yes' })).toThrow(ConfigError);
    expect(() => loadConfig({ OBSERVATORY_TRUST_PROXY: 'yes' })).toThrow(/OBSERVATORY_TRUST_PROXY/);
  });
});
