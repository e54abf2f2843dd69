import type protobuf from 'protobufjs';
import type { Attributes, AttributeValue } from '../span.ts';

// The logs receiver decodes with protobufjs, which hands back int64/fixed64 as Long-like {low, high} objects (or
// numbers), bytes as Uint8Array, and names the set member of a oneof in the oneof's own property (`value`). Reading
// those directly avoids a generic toObject() copy per record.
export interface LongLike {
  low: number;
  high: number;
}
export interface PbAnyValue {
  value?: string;
  stringValue?: string;
  boolValue?: boolean;
  intValue?: LongLike | number;
  doubleValue?: number;
  arrayValue?: { values?: PbAnyValue[] };
  kvlistValue?: { values?: PbKeyValue[] };
  bytesValue?: Uint8Array;
}
export interface PbKeyValue {
  key?: string;
  value?: PbAnyValue;
}
const MAX_DEPTH = 8;

export function u64(v: LongLike | number | undefined): bigint {
  if (v === undefined) return 0n;
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  return (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
}

function i64(v: LongLike | number): number | string {
  if (typeof v === 'number') return v;
  const n = BigInt.asIntN(64, (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0));
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(n)
    : n.toString();
}

export function anyValue(v: PbAnyValue | undefined, depth: number): AttributeValue {
  if (!v || depth > MAX_DEPTH) return null;
  switch (v.value) {
    case 'stringValue':
      return v.stringValue ?? '';
    case 'boolValue':
      return v.boolValue ?? false;
    case 'intValue':
      return i64(v.intValue ?? 0);
    case 'doubleValue':
      return v.doubleValue ?? 0;
    case 'arrayValue':
      return (v.arrayValue?.values ?? []).map((x) => anyValue(x, depth + 1));
    case 'kvlistValue':
      return keyValues(v.kvlistValue?.values, depth + 1) as { [key: string]: AttributeValue };
    case 'bytesValue':
      return Buffer.from(v.bytesValue ?? []).toString('base64');
    default:
      return null;
  }
}

export function keyValues(list: PbKeyValue[] | undefined, depth = 0): Attributes {
  const out: Attributes = {};
  for (const kv of list ?? []) if (kv.key) out[kv.key] = anyValue(kv.value, depth);
  return out;
}

export const hex = (bytes: Uint8Array) =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

const LENGTH_DELIMITED = 2;
/** Occurrences of the length-delimited field at `path` under the reader's position, skipping everything else. */
export function countAt(reader: protobuf.Reader, end: number, path: readonly number[]): number {
  let count = 0;
  while (reader.pos < end) {
    const tag = reader.uint32();
    if (tag >>> 3 !== path[0] || (tag & 7) !== LENGTH_DELIMITED) reader.skipType(tag & 7);
    else if (path.length === 1) {
      reader.skipType(LENGTH_DELIMITED);
      count++;
    } else {
      const length = reader.uint32();
      count += countAt(reader, reader.pos + length, path.slice(1));
    }
  }
  return count;
}
