import type { CostSource } from '../event.ts';
import type { PriceTable } from './price-table.ts';
import { rateFor } from './rates.ts';
import { decimalToUnits, unitsToDecimal } from './units.ts';

export interface Usage {
  /** Names to price, most precise first: a dated response model, then the requested model. */
  models: readonly string[];
  /** The provider the span names; it decides between providers that price the same model differently. */
  provider: string | null;
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
const UNPRICED: Cost = { cost_usd: null, cost_source: 'unpriced' };

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
  if (usage.inputTokens === null && usage.outputTokens === null) return UNPRICED;
  const found = prices.lookup({
    models: usage.models,
    provider: usage.provider,
    orgId: usage.orgId,
    at: usage.at,
  });
  if (!found) return UNPRICED;
  const { rates } = found;
  const inputTokens = usage.inputTokens ?? 0;
  const input = BigInt(inputTokens);
  const cached = BigInt(Math.min(usage.cachedInputTokens ?? 0, inputTokens));
  const output = BigInt(usage.outputTokens ?? 0);
  const units =
    (input - cached) * rateFor(rates.input, inputTokens) +
    cached * rateFor(rates.cachedInput, inputTokens) +
    output * rateFor(rates.output, inputTokens);
  // Prices are per million tokens; round half up to the 1e-10 USD unit.
  return { cost_usd: unitsToDecimal((units + 500_000n) / 1_000_000n), cost_source: found.source };
}
