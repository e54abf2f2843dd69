import { describe, expect, it } from 'vitest';
import { errorSummary, errorType, fallbackReasonFor } from './error-info.ts';

function providerError(props: Record<string, unknown>): Error {
  return Object.assign(new Error('user alice@example.com hit a limit'), props);
}

describe('fallbackReasonFor', () => {
  it.each([
    [providerError({ status: 429 }), 'rate_limited'],
    [providerError({ code: 'rate_limit_exceeded' }), 'rate_limited'],
    [new DOMException('slow', 'TimeoutError'), 'timeout'],
    [providerError({ code: 'ETIMEDOUT' }), 'timeout'],
    [providerError({ statusCode: 504 }), 'timeout'],
    [providerError({ status: 503 }), 'unavailable'],
    [providerError({ code: 'ECONNREFUSED' }), 'unavailable'],
    [providerError({ status: 500 }), 'error'],
    ['a string', 'error'],
  ])('%o → %s', (err, reason) => {
    expect(fallbackReasonFor(err)).toBe(reason);
  });
});

describe('errorType and errorSummary', () => {
  it('name the failure by code, status or class, and keep only a scrubbed message', () => {
    const err = providerError({ status: 401 });
    expect(errorType(err)).toBe('401');
    expect(errorSummary(err)).toBe('Error (status 401): user [email] hit a limit');
    expect(errorType(new RangeError('x'))).toBe('RangeError');
    expect(errorType(undefined)).toBe('_OTHER');
    expect(errorSummary({ code: 'has spaces and alice@example.com' })).toBe('Error');
  });
});
