import { z } from 'zod';

const hexPattern = (bytes: 8 | 16, flags = '') => new RegExp(`^[0-9a-f]{${bytes * 2}}$`, flags);

/** A trace (16 bytes) or span (8 bytes) id as stored: lower-case hex. */
export const storedHexIdSchema = (bytes: 8 | 16) =>
  z.string().regex(hexPattern(bytes), `must be ${bytes * 2} lower-case hex characters`);

// Compiled once: the mapping checks every span's ids.
const STORED = { 8: hexPattern(8), 16: hexPattern(16) };

/** True when `value` is a trace (16 bytes) or span (8 bytes) id as stored. */
export const isStoredHexId = (value: string, bytes: 8 | 16): boolean => STORED[bytes].test(value);

/** A trace (16 bytes) or span (8 bytes) id as hex, either case accepted, lower-cased as everywhere in Observatory. */
export const hexIdSchema = (bytes: 8 | 16) =>
  z
    .string()
    .regex(hexPattern(bytes, 'i'), `must be ${bytes * 2} hex characters`)
    .transform((v) => v.toLowerCase());
