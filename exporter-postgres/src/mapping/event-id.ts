import { createHash } from 'node:crypto';

/**
 * A UUIDv7-layout id that is the same every time the same span is exported: its 48-bit timestamp is the span's
 * start in ms (so ids sort by time) and its other bits come from a hash of trace and span id (so the writer's
 * primary key turns a re-export into a no-op).
 */
export function eventId(traceId: string, spanId: string, startMs: number): string {
  const bytes = createHash('sha256').update(`${traceId}:${spanId}`).digest().subarray(0, 16);
  const ms = BigInt(Math.max(0, Math.floor(startMs)));
  for (let i = 0; i < 6; i++) bytes[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  bytes[6] = 0x70 | (bytes[6]! & 0x0f);
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
