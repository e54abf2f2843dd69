import { hash } from 'node:crypto';

/**
 * A UUIDv7-layout id that is the same every time the same span is exported: its 48-bit timestamp is the span's
 * start in ms (so ids sort by time) and its other bits come from a hash of trace and span id (so the writer's
 * primary key turns a re-export into a no-op).
 */
export function eventId(traceId: string, spanId: string, startMs: number): string {
  // One-shot hash: no Hash object per span.
  const bytes = hash('sha256', `${traceId}:${spanId}`, 'buffer').subarray(0, 16);
  // Exact in a double: a start in ms from 64-bit nanoseconds stays below 2^45.
  let ms = Math.max(0, Math.floor(startMs));
  for (let i = 5; i >= 0; i--) {
    bytes[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  bytes[6] = 0x70 | (bytes[6]! & 0x0f);
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
