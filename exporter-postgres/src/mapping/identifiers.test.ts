import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { medianMs } from '../../../test-support/median-ms.ts';
import { makeSpan } from '../../test/make-span.ts';
import { ObservatoryAttributes as Obs } from '../attributes.ts';
import { loadPriceTable } from '../cost/price-table.ts';
import { AiEventSchema } from '../event.ts';
import { EventEnvelopeSchema, eventFromEnvelope } from './envelope.ts';
import { mapSpan } from './map-span.ts';

const prices = loadPriceTable();
const receivedAt = new Date('2026-11-01T12:00:05Z');
const KEY = 'k'.repeat(32);
const options = { defaultOrgId: 'default', orgId: 'acme', prices, receivedAt, pseudonymKey: KEY };

/** Computed here from the definition: HMAC-SHA-256 over "org\nuser", 32 hex digits, prefixed u_. */
function expectedPseudonym(key: string, orgId: string, userId: string): string {
  return `u_${createHmac('sha256', key).update(`${orgId}\n${userId}`).digest('hex').slice(0, 32)}`;
}

const PERSONAL = {
  user: 'jane.doe@example.com',
  client: 'sk-live-abcdefghijklmnop',
  request: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig',
  service: 'svc for +1 415 555 0100',
  endpoint: '/users/jane.doe@example.com',
  model: 'ft:gpt-4o:4111111111111111',
  version: 'Bearer tok_live_abcdef123',
  adapter: '123-45-6789',
  fallbackReason: 'ghp_abcdefghijklmnopqrstuvwxyz0123456789',
  fallbackModel: 'AKIAABCDEFGHIJKLMNOP',
  operation: 'chat 5551234567',
  provider: '10.1.2.3',
};

const REDACTED_COLUMNS = [
  'client_id',
  'request_id',
  'service_name',
  'endpoint',
  'model_name',
  'model_version',
  'adapter_id',
  'fallback_reason',
  'fallback_model',
  'operation',
  'provider',
] as const;

describe('identifiers in the OTLP mapping', () => {
  const span = (attributes: Record<string, string>, resource = { 'service.name': PERSONAL.service }) =>
    makeSpan({ attributes: { 'gen_ai.request.model': PERSONAL.model, ...attributes }, resource });

  it('replaces a personal user_id by its keyed pseudonym and any other personal identifier by [redacted]', () => {
    const event = mapSpan(
      span({
        'user.id': PERSONAL.user,
        // Only model operations (chat, embeddings, …) make a span a model call, so the operation is never personal.
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': PERSONAL.provider,
        [Obs.CLIENT_ID]: PERSONAL.client,
        [Obs.REQUEST_ID]: PERSONAL.request,
        [Obs.ENDPOINT]: PERSONAL.endpoint,
        [Obs.MODEL_VERSION]: PERSONAL.version,
        [Obs.ADAPTER_ID]: PERSONAL.adapter,
        [Obs.FALLBACK_REASON]: PERSONAL.fallbackReason,
        [Obs.FALLBACK_MODEL]: PERSONAL.fallbackModel,
      }),
      options,
    );
    expect(() => AiEventSchema.parse(event)).not.toThrow();
    expect(event!.user_id).toBe(expectedPseudonym(KEY, 'acme', PERSONAL.user));
    for (const column of REDACTED_COLUMNS.filter((c) => c !== 'operation')) {
      expect(event![column], column).toBe('[redacted]');
    }
    const serialised = JSON.stringify(event);
    for (const value of Object.values(PERSONAL)) expect(serialised).not.toContain(value);
  });

  it('gives a user the same pseudonym every time, another one in another org or under another key', () => {
    const pseudonym = (orgId: string, pseudonymKey: string) =>
      mapSpan(span({ 'user.id': PERSONAL.user }), { ...options, orgId, pseudonymKey })!.user_id;
    const first = pseudonym('acme', KEY);
    expect(first).toMatch(/^u_[0-9a-f]{32}$/);
    expect(pseudonym('acme', KEY)).toBe(first);
    expect(pseudonym('globex', KEY)).not.toBe(first);
    expect(pseudonym('acme', 'another-key-another-key-another-key')).not.toBe(first);
  });

  it('keeps identifiers of the usual shapes as sent', () => {
    const event = mapSpan(
      span(
        {
          'user.id': 'user-42',
          [Obs.CLIENT_ID]: 'mobile',
          [Obs.REQUEST_ID]: '4bf92f3577b34da6a3ce929d0e0e4736',
          [Obs.ENDPOINT]: 'analyze',
          'gen_ai.request.model': 'accounts/fireworks/models/llama-v3p1-405b-instruct',
        },
        { 'service.name': 'checkout-api' },
      ),
      options,
    );
    expect(event).toMatchObject({
      user_id: 'user-42',
      client_id: 'mobile',
      request_id: '4bf92f3577b34da6a3ce929d0e0e4736',
      endpoint: 'analyze',
      model_name: 'accounts/fireworks/models/llama-v3p1-405b-instruct',
      service_name: 'checkout-api',
    });
  });
});

const context = { orgId: 'acme', prices, receivedAt, pseudonymKey: KEY };

function envelope(fields: Record<string, unknown>) {
  return EventEnvelopeSchema.parse({
    model_name: 'gpt-4o',
    latency_ms: 10,
    success: true,
    created_at: '2026-11-01T12:00:00Z',
    ...fields,
  });
}

describe('identifiers in the JSON envelope', () => {
  it('applies the same rules as the OTLP mapping', () => {
    const event = eventFromEnvelope(
      envelope({
        user_id: PERSONAL.user,
        client_id: PERSONAL.client,
        request_id: PERSONAL.request,
        service_name: PERSONAL.service,
        endpoint: PERSONAL.endpoint,
        operation: PERSONAL.operation,
        provider: PERSONAL.provider,
        model_name: PERSONAL.model,
        model_version: PERSONAL.version,
        adapter_id: PERSONAL.adapter,
        fallback_reason: PERSONAL.fallbackReason,
        fallback_model: PERSONAL.fallbackModel,
      }),
      context,
    );
    expect(event.user_id).toBe(expectedPseudonym(KEY, 'acme', PERSONAL.user));
    for (const column of REDACTED_COLUMNS) expect(event[column], column).toBe('[redacted]');
    expect(eventFromEnvelope(envelope({ user_id: 'user-42' }), context).user_id).toBe('user-42');
  });
});

describe('a pathological error message', () => {
  const message = 'a.'.repeat(50_000);

  it('is cut before it is scrubbed: under 5 ms through either mapping, and stored at most 1000 long', () => {
    const failed = makeSpan({
      attributes: { 'gen_ai.request.model': 'gpt-4o' },
      status: { code: 2, message },
    });
    expect(medianMs(() => mapSpan(failed, options))).toBeLessThan(5);
    expect(mapSpan(failed, options)!.error_message!.length).toBeLessThanOrEqual(1000);

    const input = envelope({ success: false, error_message: message });
    expect(medianMs(() => eventFromEnvelope(input, context))).toBeLessThan(5);
    expect(eventFromEnvelope(input, context).error_message!.length).toBeLessThanOrEqual(1000);
  });
});
