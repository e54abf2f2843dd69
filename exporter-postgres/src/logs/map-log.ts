import { createHash } from 'node:crypto';
import { cutText, scrubJson, scrubToLength } from '@observatory/semconv';
import { eventId } from '../mapping/event-id.ts';
import type { AttributeValue } from '../span.ts';
import type { LogInput } from './log-input.ts';
import {
  type LogRow,
  MAX_LOG_ATTRIBUTE_KEY,
  MAX_LOG_ATTRIBUTES,
  MAX_LOG_BODY,
  MAX_LOG_NAME,
} from './log-row.ts';

const NANOS_PER_MS = 1_000_000n;

// Big integers arrive as decimal strings from OTLP, but an in-process caller may hand over a bigint.
const json = (value: unknown) =>
  JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? v.toString() : v)) ?? 'null';

/** A structured value as capped JSON text: strings inside are scrubbed first, so no cut hides personal data. */
function jsonText(value: AttributeValue, max: number): string {
  return cutText(json(scrubJson(value)), max);
}

function bodyText(body: AttributeValue): string {
  if (body === null || body === undefined) return '';
  if (typeof body === 'string') return scrubToLength(body, MAX_LOG_BODY);
  return jsonText(body, MAX_LOG_BODY);
}

type Flat = LogRow['attributes'][string];

/** The first MAX_LOG_ATTRIBUTES attributes, flat (nested values as JSON text), scrubbed keys and values. */
function attributesOf(input: LogInput): LogRow['attributes'] {
  const flat: Record<string, Flat> = {};
  let kept = 0;
  const all = input.eventName ? { 'event.name': input.eventName, ...input.attributes } : input.attributes;
  for (const [key, value] of Object.entries(all)) {
    if (value === undefined) continue;
    if (kept++ >= MAX_LOG_ATTRIBUTES) break;
    flat[cutText(key, MAX_LOG_ATTRIBUTE_KEY)] =
      value === null || typeof value === 'string' || typeof value === 'boolean'
        ? value
        : typeof value === 'number'
          ? Number.isFinite(value)
            ? value
            : String(value)
          : typeof value === 'bigint'
            ? value.toString()
            : json(value);
  }
  // scrubJson scrubs keys and strings (capped at 1024 characters each) and blanks values under credential names.
  return scrubJson(flat) as LogRow['attributes'];
}

function nameOf(value: AttributeValue | undefined): string | null {
  return typeof value === 'string' && value ? scrubToLength(value, MAX_LOG_NAME) : null;
}

const dateOf = (nanos: bigint) => new Date(Number(nanos / NANOS_PER_MS));

/**
 * One OTLP log record as a `structured_logs` row of `orgId`: scrubbed and capped, with an id derived from what is
 * stored, so a record delivered twice is stored once. Pure apart from hashing.
 */
export function mapLog(input: LogInput, orgId: string, receivedAt: Date): LogRow {
  const received = BigInt(receivedAt.getTime()) * NANOS_PER_MS;
  const observed = input.observedTimeUnixNano || received;
  const time = input.timeUnixNano || observed;
  const content = {
    severity_number: input.severityNumber,
    severity_text: nameOf(input.severityText),
    service_name: nameOf(input.resource['service.name']),
    scope_name: nameOf(input.scopeName),
    body: bodyText(input.body),
    trace_id: input.traceId ?? null,
    span_id: input.spanId ?? null,
    attributes: attributesOf(input),
  };
  // Hashed from the stored (scrubbed) content and the times as sent (not the receive time standing in for a missing
  // one): nothing reversible about what was scrubbed away, the same id on every delivery, and two lines differing
  // only below the millisecond stay apart.
  const digest = createHash('sha256')
    .update(`${input.timeUnixNano}:${input.observedTimeUnixNano}:${json(content)}`)
    .digest('hex');
  const at = dateOf(time);
  return {
    id: eventId(orgId, digest, at.getTime()),
    org_id: orgId,
    time: at,
    observed_time: dateOf(observed),
    received_at: receivedAt,
    ...content,
  };
}
