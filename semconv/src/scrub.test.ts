import { describe, expect, it } from 'vitest';
import { medianMs } from '../../test-support/median-ms.ts';
import { cutText, looksPersonal, scrubJson, scrubText, scrubToLength } from './scrub.ts';

describe('scrubText', () => {
  it.each([
    ['mail bob.smith@example.co.uk!', 'mail [email]!'],
    ['call 5551234567 now', 'call [phone] now'],
    ['call +15551234567.', 'call [phone].'],
    ['tel 1234567', 'tel [phone]'],
    ['(555) 123-4567', '[phone]'],
    ['+1 (555) 123-4567', '[phone]'],
    ['+44 20 7946 0958', '[phone]'],
    ['+33 1 23 45 67 89', '[phone]'],
    ['ssn 123-45-6789', 'ssn [national-id]'],
    ['NI AB123456C', 'NI [national-id]'],
    ['card 4111 1111 1111 1111', 'card [card]'],
    ['card 4111-1111-1111-1111', 'card [card]'],
    ['order 4111111111111112', 'order 4111111111111112'],
    ['host 10.0.0.1:8080', 'host [ip]:8080'],
    ['from fe80::1.', 'from [ip].'],
    ['ip:2001:db8::1', 'ip:[ip]'],
    ['mapped ::ffff:10.0.0.1', 'mapped [ip]'],
    ['key sk-proj-abcdefghijklmnop', 'key [secret]'],
    ['stripe sk_live_51Habcdefgh', 'stripe [secret]'],
    [`gh ghp_${'a1'.repeat(18)}`, 'gh [secret]'],
    [`pat github_pat_${'A1'.repeat(20)}`, 'pat [secret]'],
    ['slack xoxb-1234567890-abcdef', 'slack [secret]'],
    ['aws AKIAABCDEFGHIJKLMNOP', 'aws [secret]'],
    ['jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc', 'jwt [secret]'],
    ['api_key=abc123 then', 'api_key=[secret] then'],
    ['"password": "hunter2"', '"password": "[secret]"'],
    ['postgres://app:pw@db.internal:5432/x', 'postgres://[secret]@db.internal:5432/x'],
    ['Bearer abc.def-123', 'Bearer [secret]'],
  ])('%s → %s', (input, expected) => {
    expect(scrubText(input)).toBe(expected);
  });

  it.each([
    ['Authorization: Bearer tok_live_abc123XYZ', 'Authorization: Bearer [secret]'],
    ['authorization: bearer tok_live_abc123XYZ and more', 'authorization: bearer [secret] and more'],
    ['AUTHORIZATION=Basic dXNlcjpwYXNz;', 'AUTHORIZATION=Basic [secret];'],
    ['Authorization: token zzzyyyxxx', 'Authorization: token [secret]'],
    ['{"authorization":"Bearer abc"}', '{"authorization":"Bearer [secret]"}'],
    ['Authorization: abc123 rejected', 'Authorization: [secret]'],
  ])('replaces the credential after Authorization and its scheme word: %s', (input, expected) => {
    expect(scrubText(input)).toBe(expected);
  });

  it.each([
    'at 12:30:45 on 2026-11-30 04:54:28',
    'request 550e8400-e29b-41d4-a716-446655440000',
    'Limit 30000, Used 29000, Requested 1500',
    'max_tokens=4096 exceeded',
    'version 1.2.3.4.5 of Foo::Bar',
    'model gpt-4o-2024-08-06 answered 429',
  ])('leaves ordinary text alone: %s', (input) => {
    expect(scrubText(input)).toBe(input);
  });
});

describe('looksPersonal', () => {
  it.each([
    'bob@example.com',
    'user:bob@example.com',
    '5551234567',
    '+44 20 7946 0958',
    '4111111111111111',
    '123-45-6789',
    'sk-abcdefghijklmnop',
    `ghp_${'a'.repeat(36)}`,
    'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc',
    'Bearer abcdef',
    '10.1.2.3',
  ])('is true for %s', (value) => {
    expect(looksPersonal(value)).toBe(true);
  });

  it.each([
    'user-42',
    'checkout-api',
    '4bf92f3577b34da6a3ce929d0e0e4736',
    '550e8400-e29b-41d4-a716-446655440000',
    'accounts/fireworks/models/llama-v3p1-405b-instruct',
    'gpt-4o-2024-08-06',
    'ft:gpt-4o-mini:acme:support:9abc',
  ])('is false for an identifier of the usual shapes: %s', (value) => {
    expect(looksPersonal(value)).toBe(false);
  });
});

describe('cutting before scrubbing', () => {
  it('drops a word the cut would split, so half a key or an email cannot slip through', () => {
    expect(cutText('failed for bob@example.com', 16)).toBe('failed for ');
    expect(scrubToLength('key sk-abcdefghijklmnop', 10)).toBe('key ');
    expect(cutText('short', 10)).toBe('short');
    expect(cutText('ab cd', 3)).toBe('ab ');
    // One giant word is cut where it is: the length rules see its beginning.
    expect(cutText('a'.repeat(50), 10)).toBe('a'.repeat(10));
  });

  it('never returns more than the maximum', () => {
    expect(scrubToLength('a@b.co '.repeat(300), 1000).length).toBeLessThanOrEqual(1000);
  });
});

describe('scrubJson', () => {
  it('scrubs keys and values, replaces values stored under credential names, and cuts long strings', () => {
    expect(
      scrubJson({
        'bob@example.com': 'call 5551234567',
        accessToken: 'opaque',
        apiKey: 5,
        max_tokens: 3,
        nested: [{ password: null, clientSecret: 'y', note: 'x'.repeat(5000) }],
      }),
    ).toEqual({
      '[email]': 'call [phone]',
      accessToken: '[secret]',
      apiKey: '[secret]',
      max_tokens: 3,
      nested: [{ password: null, clientSecret: '[secret]', note: '[secret]' }],
    });
  });
});

const STORED = 1024;
// The longest error message JSON ingest accepts; OTLP accepts whatever fits the body.
const ACCEPTED = 100_000;

/** `unit` repeated up to `length` characters. */
const repeat = (unit: string, length: number) =>
  unit.repeat(Math.ceil(length / unit.length)).slice(0, length);

const ADVERSARIAL: [string, string][] = [
  ['a.', 'a.'],
  ['@', '@'],
  ['a@', 'a@'],
  ['digits', '7'],
  ['digits and spaces', '1 '],
  ['digits and dots', '1.'],
  ['a-a-', 'a-'],
  ['hex', 'f'],
  ['base64', 'Ab+/'],
  ['colons', 'a:'],
  ['plus and digits', '+1 '],
  ['JWT starts', 'eyJ'],
  ['key prefixes', 'sk-'],
  ['URL userinfo', '://a:'],
  ['authorization', 'authorization: '],
  ['mix', 'a.1-b@c:+9 f0:'],
];

describe('scrubbing time is linear', () => {
  it.each(ADVERSARIAL)('%s at the stored length: under 5 ms', (_name, unit) => {
    const text = repeat(unit, STORED);
    expect(medianMs(() => scrubText(text))).toBeLessThan(5);
    expect(medianMs(() => looksPersonal(text))).toBeLessThan(5);
  });

  it.each(ADVERSARIAL)('%s at the longest accepted length, cut then scrubbed: under 5 ms', (_name, unit) => {
    const text = repeat(unit, ACCEPTED);
    expect(medianMs(() => scrubToLength(text, 1000))).toBeLessThan(5);
  });

  it('even uncut, 100,000 characters take well under a second (a backtracking pattern took seconds)', () => {
    const text = repeat('a.1-b@c:+9 f0:', ACCEPTED);
    expect(medianMs(() => scrubText(text), 3)).toBeLessThan(1000);
  });
});
