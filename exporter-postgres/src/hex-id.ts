import { z } from 'zod';

/** A trace (16 bytes) or span (8 bytes) id as hex, either case accepted, lower-cased as everywhere in Observatory. */
export const hexIdSchema = (bytes: 8 | 16) =>
  z
    .string()
    .regex(new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`), `must be ${bytes * 2} hex characters`)
    .transform((v) => v.toLowerCase());
