import { describe, expect, it } from 'vitest';
import { specialPurposeRange } from './special-address.ts';
import { assertWebhookUrl } from './webhook-url.ts';

const REFUSED = /special-purpose address/;

describe('webhook URL validation', () => {
  it.each([
    ['ftp://example.com/hook', /http or https/],
    ['file:///etc/passwd', /http or https/],
    ['not a url', /not a URL/],
    ['http://user:pw@93.184.216.34/hook', /credentials/],
  ])('refuses %s', async (url, message) => {
    await expect(assertWebhookUrl(url, false)).rejects.toThrow(message);
  });

  // The ranges the issue found missing, then the classic ones, then the rest of the IANA registries.
  it.each([
    ['192.0.2.10', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['198.19.255.254', 'reserved'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['100.127.255.254', 'carrierGradeNat'],
    ['240.0.0.1', 'reserved'],
    ['[64:ff9b::7f00:1]', 'rfc6052 of 127.0.0.1 (loopback)'],
    ['[64:ff9b::169.254.169.254]', 'rfc6052 of 169.254.169.254 (linkLocal)'],
    ['[::127.0.0.1]', 'ipv4Compatible'],
    ['[::8.8.8.8]', 'ipv4Compatible'],
    ['[2002:7f00:1::1]', '6to4 of 127.0.0.1 (loopback)'],
    ['[2002:c0a8:101::]', '6to4 of 192.168.1.1 (private)'],
    ['[fec0::1]', 'deprecatedSiteLocal'],
    ['127.0.0.1', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['10.1.2.3', 'private'],
    ['172.20.0.5', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['224.0.0.251', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['192.0.0.9', 'reserved'],
    ['198.51.100.7', 'reserved'],
    ['203.0.113.7', 'reserved'],
    ['192.88.99.1', 'reserved'],
    ['192.31.196.1', 'as112'],
    ['192.52.193.1', 'amt'],
    ['[::1]', 'loopback'],
    ['[::]', 'unspecified'],
    ['[fe80::1]', 'linkLocal'],
    ['[fd00::1]', 'uniqueLocal'],
    ['[ff02::1]', 'multicast'],
    ['[::ffff:127.0.0.1]', 'ipv4Mapped of 127.0.0.1 (loopback)'],
    ['[::ffff:10.0.0.1]', 'ipv4Mapped of 10.0.0.1 (private)'],
    ['[::ffff:0:7f00:1]', 'rfc6145 of 127.0.0.1 (loopback)'],
    ['[64:ff9b:1::1]', 'rfc6052'],
    ['[100::1]', 'discard'],
    ['[100:0:0:1::1]', 'dummyPrefix'],
    ['[2001::1]', 'teredo'],
    ['[2001:2::1]', 'benchmarking'],
    ['[2001:db8::1]', 'reserved'],
    ['[3fff::1]', 'reserved'],
    ['[5f00::1]', 'segmentRouting'],
    ['[4000::1]', 'reserved'],
  ])('refuses http://%s/hook (%s)', async (host, range) => {
    await expect(assertWebhookUrl(`http://${host}/hook`, false)).rejects.toThrow(REFUSED);
    expect(specialPurposeRange(new URL(`http://${host}/`).hostname.replace(/^\[|\]$/g, ''))).toBe(range);
  });

  it('refuses a name that resolves to a special-purpose address, whichever of its addresses it is', async () => {
    await expect(assertWebhookUrl('http://localhost/hook', false)).rejects.toThrow(REFUSED);
    const resolve = async () => ['93.184.216.34', '10.0.0.7'];
    await expect(assertWebhookUrl('https://hooks.example.test/x', false, resolve)).rejects.toThrow(
      /10\.0\.0\.7: private/,
    );
  });

  it.each([
    'https://93.184.216.34/services/T0/B0/x',
    'http://8.8.8.8/hook',
    'http://[2606:4700::1111]/hook',
    'http://[2a00:1450:4001:82a::200e]/hook',
    'http://[::ffff:93.184.216.34]/hook',
    'http://[64:ff9b::808:808]/hook',
    'http://[2002:808:808::1]/hook',
  ])('accepts the public address in %s', async (url) => {
    expect((await assertWebhookUrl(url, false)).href).toBe(new URL(url).href);
  });

  it('accepts a name whose addresses are all public', async () => {
    const resolve = async () => ['93.184.216.34', '2606:4700::1111'];
    expect((await assertWebhookUrl('https://hooks.example.test/x', false, resolve)).hostname).toBe(
      'hooks.example.test',
    );
  });

  it('accepts private addresses only when explicitly allowed, and still only http(s)', async () => {
    expect((await assertWebhookUrl('http://127.0.0.1:9/hook', true)).port).toBe('9');
    await expect(assertWebhookUrl('gopher://127.0.0.1/', true)).rejects.toThrow(/http or https/);
  });
});
