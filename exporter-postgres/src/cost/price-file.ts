import { readFileSync } from 'node:fs';
import { z } from 'zod';

const usdPerMillion = z
  .string()
  .regex(/^\d{1,6}(\.\d{1,6})?$/, 'must be a decimal string of USD per million tokens');

export const PriceEntrySchema = z.object({
  model: z.string().min(1),
  /** Regular expression matched against model names that have no exact entry (dated versions, aliases). */
  pattern: z
    .string()
    .refine((p) => {
      try {
        new RegExp(p);
        return true;
      } catch {
        return false;
      }
    }, 'must be a valid regular expression')
    .optional(),
  input: usdPerMillion,
  cached_input: usdPerMillion.optional(),
  output: usdPerMillion,
  effective_from: z.iso.date(),
});
export type PriceEntry = z.infer<typeof PriceEntrySchema>;

/** The shape of `OBSERVATORY_PRICES_FILE`: prices for everyone, and per-org prices that win over them. */
export const PriceFileSchema = z.object({
  models: z.array(PriceEntrySchema).default([]),
  orgs: z.record(z.string(), z.array(PriceEntrySchema)).default({}),
});
export type PriceFile = z.infer<typeof PriceFileSchema>;

/** Reads and validates a price file, failing with one message that names the file and every invalid field. */
export function readPriceFile(path: string): PriceFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`Price file ${path} could not be read: ${(err as Error).message}`);
  }
  const result = PriceFileSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Price file ${path} is invalid: ${problems}`);
  }
  return result.data;
}
