import { readFileSync } from 'node:fs';
import { z } from 'zod';
import defaults from './prices.json' with { type: 'json' };

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

export const PriceFileSchema = z.object({
  models: z.array(PriceEntrySchema).default([]),
  /** Per-org entries, consulted before the shared ones. */
  orgs: z.record(z.string(), z.array(PriceEntrySchema)).default({}),
});
export type PriceFile = z.infer<typeof PriceFileSchema>;

/** A price in units of 1e-10 USD per million tokens, so that cost arithmetic stays exact in BigInt. */
export interface Price {
  model: string;
  input: bigint;
  cachedInput: bigint;
  output: bigint;
  effectiveFrom: Date;
}

const SCALE_DIGITS = 10;

export function decimalToUnits(decimal: string): bigint {
  const [whole = '0', fraction = ''] = decimal.split('.');
  return (
    BigInt(whole) * 10n ** BigInt(SCALE_DIGITS) +
    BigInt(fraction.padEnd(SCALE_DIGITS, '0').slice(0, SCALE_DIGITS))
  );
}

export function unitsToDecimal(units: bigint): string {
  const whole = units / 10n ** BigInt(SCALE_DIGITS);
  const fraction = (units % 10n ** BigInt(SCALE_DIGITS))
    .toString()
    .padStart(SCALE_DIGITS, '0')
    .replace(/0+$/, '');
  return fraction ? `${whole}.${fraction}` : whole.toString();
}

function toPrice(entry: PriceEntry): Price {
  const input = decimalToUnits(entry.input);
  return {
    model: entry.model,
    input,
    cachedInput: entry.cached_input === undefined ? input : decimalToUnits(entry.cached_input),
    output: decimalToUnits(entry.output),
    effectiveFrom: new Date(`${entry.effective_from}T00:00:00Z`),
  };
}

class PriceList {
  private readonly exact = new Map<string, Price[]>();
  private readonly patterns: { pattern: RegExp; price: Price }[] = [];

  constructor(entries: PriceEntry[]) {
    for (const entry of entries) {
      const price = toPrice(entry);
      const list = this.exact.get(entry.model) ?? [];
      list.push(price);
      this.exact.set(entry.model, list);
      if (entry.pattern) this.patterns.push({ pattern: new RegExp(entry.pattern), price });
    }
  }

  lookup(model: string, at: Date): Price | undefined {
    const candidates =
      this.exact.get(model) ?? this.patterns.filter((p) => p.pattern.test(model)).map((p) => p.price);
    let best: Price | undefined;
    for (const price of candidates) {
      if (price.effectiveFrom <= at && (!best || price.effectiveFrom > best.effectiveFrom)) best = price;
    }
    return best;
  }
}

/**
 * Prices per model: an exact name first, then patterns; of several entries for a model, the one with the
 * latest `effective_from` not after the call. An org's own entries are consulted before the shared ones.
 */
export class PriceTable {
  private readonly shared: PriceList;
  private readonly orgs: Map<string, PriceList>;

  constructor(file: PriceFile) {
    this.shared = new PriceList(file.models);
    this.orgs = new Map(Object.entries(file.orgs).map(([org, entries]) => [org, new PriceList(entries)]));
  }

  lookup(model: string, at: Date, orgId?: string): Price | undefined {
    return (orgId && this.orgs.get(orgId)?.lookup(model, at)) || this.shared.lookup(model, at);
  }
}

function parsePriceFile(raw: unknown, source: string): PriceFile {
  const result = PriceFileSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Price table ${source} is invalid: ${problems}`);
  }
  return result.data;
}

/**
 * The shipped defaults, with the entries of `file` (default: env OBSERVATORY_PRICES_FILE) taking precedence:
 * an override file lists only what it changes or adds.
 */
export function loadPriceTable(file = process.env.OBSERVATORY_PRICES_FILE): PriceTable {
  const base = parsePriceFile(defaults, 'defaults');
  if (!file) return new PriceTable(base);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`Price table ${file} could not be read: ${(err as Error).message}`);
  }
  const override = parsePriceFile(raw, file);
  const overridden = new Set(override.models.map((m) => m.model));
  return new PriceTable({
    models: [...override.models, ...base.models.filter((m) => !overridden.has(m.model))],
    orgs: { ...base.orgs, ...override.orgs },
  });
}
