import type { Attributes, AttributeValue } from '../span.ts';
import { FIXED64, LENGTH_DELIMITED, VARINT, type WireReader } from './wire-reader.ts';

/**
 * Which attributes are decoded: the set the mapping reads (everything else is stepped over unread), or all of them
 * (tests, and a caller that needs content attributes: an org that opted into content capture).
 */
export type AttributeKeys = ReadonlySet<string> | 'all';

const MAX_DEPTH = 8;

/**
 * Keys by their UTF-8 bytes, so a key outside the set is rejected without making a string of it and a key inside
 * it is the set's own string (no copy per span).
 */
class KeyTable {
  private readonly buckets = new Map<number, { bytes: Buffer; key: string }[]>();

  constructor(keys: ReadonlySet<string>) {
    for (const key of keys) {
      const bytes = Buffer.from(key, 'utf8');
      const slot = KeyTable.slot(bytes, 0, bytes.length);
      const bucket = this.buckets.get(slot) ?? [];
      bucket.push({ bytes, key });
      this.buckets.set(slot, bucket);
    }
  }

  private static slot(buf: Buffer, start: number, end: number): number {
    const length = end - start;
    return length === 0 ? 0 : (length << 16) | (buf[start + (length >> 1)]! << 8) | buf[end - 1]!;
  }

  lookup(buf: Buffer, start: number, end: number): string | undefined {
    const bucket = this.buckets.get(KeyTable.slot(buf, start, end));
    if (!bucket) return undefined;
    // A plain loop: keys are short, and Buffer.compare's argument checks cost more than the comparison.
    for (const { bytes, key } of bucket) {
      if (bytes.length !== end - start) continue;
      let i = 0;
      while (i < bytes.length && bytes[i] === buf[start + i]) i++;
      if (i === bytes.length) return key;
    }
    return undefined;
  }
}

/** What the readers below take: a key table, or 'all'. */
export type KeyFilter = KeyTable | 'all';

const tables = new WeakMap<ReadonlySet<string>, KeyTable>();

/** The key table of `keys`, built once per set (once per process for MAPPED_ATTRIBUTES). */
export function keyFilter(keys: AttributeKeys): KeyFilter {
  if (keys === 'all') return keys;
  let table = tables.get(keys);
  if (!table) {
    table = new KeyTable(keys);
    tables.set(keys, table);
  }
  return table;
}

// AnyValue: string 1, bool 2, int 3, double 4, array 5, kvlist 6, bytes 7. The last member on the wire wins, as in
// any protobuf decoder; an AnyValue with none set (or nested too deep) is null.
export function anyValue(r: WireReader, end: number, depth: number): AttributeValue {
  let value: AttributeValue = null;
  while (r.pos < end) {
    const tag = r.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1:
        if (wire !== LENGTH_DELIMITED) break;
        value = r.string();
        continue;
      case 2:
        if (wire !== VARINT) break;
        value = r.uint32() !== 0;
        continue;
      case 3:
        if (wire !== VARINT) break;
        value = r.int64();
        continue;
      case 4:
        if (wire !== FIXED64) break;
        value = r.double();
        continue;
      case 5: {
        if (wire !== LENGTH_DELIMITED) break;
        const arrayEnd = r.delimited();
        const values: AttributeValue[] = [];
        while (r.pos < arrayEnd) {
          const item = r.uint32();
          if (item >>> 3 === 1 && (item & 7) === LENGTH_DELIMITED) {
            const itemEnd = r.delimited();
            values.push(depth + 1 > MAX_DEPTH ? null : anyValue(r, itemEnd, depth + 1));
            r.pos = itemEnd;
          } else r.skip(item & 7);
        }
        value = values;
        continue;
      }
      case 6: {
        if (wire !== LENGTH_DELIMITED) break;
        const listEnd = r.delimited();
        const object: Attributes = {};
        keyValues(r, listEnd, 1, 'all', object, depth + 1);
        value = object as { [key: string]: AttributeValue };
        continue;
      }
      case 7:
        if (wire !== LENGTH_DELIMITED) break;
        value = r.base64();
        continue;
    }
    r.skip(wire);
  }
  return value;
}

/** KeyValue: key 1, value 2. Without a value, or nested too deep, the attribute is null; an empty key is dropped. */
export function keyValue(r: WireReader, end: number, keys: KeyFilter, into: Attributes, depth: number): void {
  let key: string | undefined;
  let skipped = false;
  let valueStart = -1;
  let valueEnd = -1;
  while (r.pos < end) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if ((tag & 7) !== LENGTH_DELIMITED || (field !== 1 && field !== 2)) {
      r.skip(tag & 7);
      continue;
    }
    const fieldEnd = r.delimited();
    if (field === 1) {
      if (keys === 'all') key = r.buf.toString('utf8', r.pos, fieldEnd);
      else {
        key = keys.lookup(r.buf, r.pos, fieldEnd);
        skipped = key === undefined;
      }
    } else {
      valueStart = r.pos;
      valueEnd = fieldEnd;
    }
    r.pos = fieldEnd;
  }
  if (!key || skipped) return;
  if (valueStart < 0 || depth > MAX_DEPTH) {
    into[key] = null;
    return;
  }
  r.pos = valueStart;
  into[key] = anyValue(r, valueEnd, depth);
  r.pos = end;
}

/** The repeated KeyValue `field` of the message ending at `end`, into `into` (a later duplicate key wins). */
export function keyValues(
  r: WireReader,
  end: number,
  field: number,
  keys: KeyFilter,
  into: Attributes,
  depth = 0,
): void {
  r.each(end, field, (kvEnd) => keyValue(r, kvEnd, keys, into, depth));
}

/** The attributes of the resource (field 1 of ResourceSpans and ResourceLogs) of the message ending at `end`. */
export function resourceOf(r: WireReader, end: number, keys: KeyFilter): Attributes {
  return (
    r.last(end, 1, (resourceEnd) => {
      const attributes: Attributes = {};
      keyValues(r, resourceEnd, 1, keys, attributes);
      return attributes;
    }) ?? {}
  );
}

/** The name of the InstrumentationScope (field 1 of ScopeSpans and ScopeLogs) of the message ending at `end`. */
export function scopeNameOf(r: WireReader, end: number): string | undefined {
  return r.last(end, 1, (scopeEnd) => r.last(scopeEnd, 1, (nameEnd) => r.text(nameEnd))) || undefined;
}
