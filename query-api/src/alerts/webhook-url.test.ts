import { describe, expect, it } from 'vitest';
import { assertWebhookUrl } from './webhook-url.ts';

describe('webhook URL validation', () => {
  it.each([
    ['ftp://example.com/hook', /http or https/],
    ['file:///etc/passwd', /http or https/],
    ['not a url', /not a URL/],
    ['http://user:pw@93.184.216.34/hook', /credentials/],
    ['http://127.0.0.1:9093/hook', /loopback, private/],
    ['http://localhost/hook', /loopback, private/],
    ['http://10.1.2.3/hook', /loopback, private/],
    ['http://172.20.0.5/hook', /loopback, private/],
    ['http://192.168.1.1/hook', /loopback, private/],
    ['http://169.254.169.254/latest/meta-data', /loopback, private/],
    ['http://[::1]/hook', /loopback, private/],
    ['http://[fd00::1]/hook', /loopback, private/],
    ['http://[::ffff:127.0.0.1]/hook', /loopback, private/],
    ['http://0.0.0.0/hook', /loopback, private/],
  ])('refuses %s', async (url, message) => {
    await expect(assertWebhookUrl(url, false)).rejects.toThrow(message);
  });

  it('accepts public http(s) addresses', async () => {
    expect((await assertWebhookUrl('https://93.184.216.34/services/T0/B0/x', false)).hostname).toBe(
      '93.184.216.34',
    );
    expect((await assertWebhookUrl('http://[2606:4700::1111]/hook', false)).protocol).toBe('http:');
  });

  it('accepts private addresses only when explicitly allowed, and still only http(s)', async () => {
    expect((await assertWebhookUrl('http://127.0.0.1:9/hook', true)).port).toBe('9');
    await expect(assertWebhookUrl('gopher://127.0.0.1/', true)).rejects.toThrow(/http or https/);
  });
});
