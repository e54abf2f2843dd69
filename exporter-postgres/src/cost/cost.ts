import type { CostSource } from '../event.ts';
import { decimalToUnits, type PriceTable, unitsToDecimal } from './price-table.ts';

export interface Usage {
  model: string;
  at: Date;
  orgId: string;
  inputTokens: number | null;
  outputTokens: number | null;
  /** Included in inputTokens, charged at the cached rate. */
  cachedInputTokens: number | null;
  /** A cost the span states itself; wins over the table. */
  providedUsd: number | null;
}

export interface Cost {
  cost_usd: string | null;
  cost_source: CostSource;
}

const MAX_USD = 9_999_999_999;

/** USD as an exact decimal string with at most 10 decimals, or null when not a sensible amount. */
export function usdToDecimal(usd: number): string | null {
  if (!Number.isFinite(usd) || usd < 0 || usd > MAX_USD) return null;
  return unitsToDecimal(decimalToUnits(usd.toFixed(10)));
}

export function computeCost(usage: Usage, prices: PriceTable): Cost {
  if (usage.providedUsd !== null) {
    const provided = usdToDecimal(usage.providedUsd);
    if (provided !== null) return { cost_usd: provided, cost_source: 'provided' };
  }
  const price = prices.lookup(usage.model, usage.at, usage.orgId);
  if (!price || (usage.inputTokens === null && usage.outputTokens === null)) {
    return { cost_usd: null, cost_source: 'unpriced' };
  }
  const input = BigInt(usage.inputTokens ?? 0);
  const cached = BigInt(Math.min(usage.cachedInputTokens ?? 0, usage.inputTokens ?? 0));
  const output = BigInt(usage.outputTokens ?? 0);
  const units = (input - cached) * price.input + cached * price.cachedInput + output * price.output;
  // Prices are per million tokens; round half up to the 1e-10 USD unit.
  return { cost_usd: unitsToDecimal((units + 500_000n) / 1_000_000n), cost_source: 'computed' };
}
