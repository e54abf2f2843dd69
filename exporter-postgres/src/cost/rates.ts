/**
 * A price per million tokens in units of 1e-10 USD (see units.ts). A tiered price (Gemini, Claude beyond 200k
 * tokens) charges every token of a call at the rate of the highest tier the call's input tokens exceed.
 */
export interface Rate {
  base: bigint;
  /** Ascending by `above`. */
  tiers: readonly { above: number; price: bigint }[];
}

export interface Rates {
  input: Rate;
  /** Cached input tokens; the input rate where the source gives none. */
  cachedInput: Rate;
  /** Zero for a model that charges no output (embeddings). */
  output: Rate;
}

/** The rates of one model that apply at an instant, or undefined when none does. */
export type PriceSchedule = (at: Date) => Rates | undefined;

export function flatRate(units: bigint): Rate {
  return { base: units, tiers: [] };
}

export function rateFor(rate: Rate, inputTokens: number): bigint {
  let price = rate.base;
  for (const tier of rate.tiers) if (inputTokens > tier.above) price = tier.price;
  return price;
}
