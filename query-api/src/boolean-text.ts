import { z } from 'zod';

/**
 * A boolean as text — `true`/`false`/`1`/`0` — or a JSON boolean: how every boolean environment variable, query
 * parameter and filter is read, so `1` means the same everywhere.
 */
export const BooleanTextSchema = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0'])])
  .transform((v) => v === true || v === 'true' || v === '1');
