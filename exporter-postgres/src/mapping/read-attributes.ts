import { ORG_ID_PATTERN } from '@observatory/semconv';
import { ObservatoryAttributes as Obs } from '../attributes.ts';
import type { Attributes, AttributeValue, SpanInput } from '../span.ts';
import { cutText } from './scrub.ts';

export const MAX_TEXT = 1024;
export const MAX_ID = 256;

/** The first of `keys` present with a non-empty value. */
export function first(attrs: Attributes, keys: readonly string[]): AttributeValue | undefined {
  for (const key of keys) {
    const value = attrs[key];
    if (value !== undefined && value !== null && value !== '') return value;
  }
  return undefined;
}

/** The first of `keys` as text, cut to `max` characters; null when none is a scalar. */
export function text(attrs: Attributes, keys: readonly string[], max = MAX_TEXT): string | null {
  const value = first(attrs, keys);
  if (value === undefined || typeof value === 'object') return null;
  return cutText(String(value), max);
}

/** The first of `keys` that is a finite number (or a numeric string). */
export function number(attrs: Attributes, keys: readonly string[]): number | null {
  for (const key of keys) {
    const value = attrs[key];
    const n =
      typeof value === 'string' && value.trim() !== ''
        ? Number(value)
        : typeof value === 'bigint'
          ? Number(value)
          : value;
    if (typeof n === 'number' && Number.isFinite(n)) return n;
  }
  return null;
}

/** The span's org: the ingest key's, else the one the span or its resource claims, else the default. */
export function orgOf(
  span: SpanInput,
  options: { orgId?: string | undefined; defaultOrgId: string },
): string {
  if (options.orgId) return options.orgId;
  const claimed = text(span.attributes, [Obs.ORG_ID]) ?? text(span.resource, [Obs.ORG_ID]);
  return claimed && ORG_ID_PATTERN.test(claimed) ? claimed : options.defaultOrgId;
}

export const nanosToMs = (nanos: bigint) => Number(nanos / 1000n) / 1000;
