import type { PriceEntry } from './price-file.ts';
import { flatRate, type PriceSchedule, type Rates } from './rates.ts';
import { decimalToUnits } from './units.ts';

interface Dated {
  effectiveFrom: Date;
  rates: Rates;
}

function dated(entry: PriceEntry): Dated {
  const input = flatRate(decimalToUnits(entry.input));
  return {
    effectiveFrom: new Date(`${entry.effective_from}T00:00:00Z`),
    rates: {
      input,
      cachedInput: entry.cached_input === undefined ? input : flatRate(decimalToUnits(entry.cached_input)),
      output: flatRate(decimalToUnits(entry.output)),
    },
  };
}

/** Of several entries for a model, the latest whose `effective_from` is not after the call. */
function schedule(entries: readonly Dated[]): PriceSchedule {
  return (at) => {
    let best: Dated | undefined;
    for (const entry of entries) {
      if (entry.effectiveFrom <= at && (!best || entry.effectiveFrom > best.effectiveFrom)) best = entry;
    }
    return best?.rates;
  };
}

/**
 * An operator's own prices (the shared or one org's list of `OBSERVATORY_PRICES_FILE`), indexed by model name
 * (case-insensitive). A name without an entry is matched by the entries' patterns.
 */
export class OverridePrices {
  private readonly byName = new Map<string, PriceSchedule>();
  private readonly patterns: { pattern: RegExp; entry: Dated }[] = [];

  constructor(entries: readonly PriceEntry[]) {
    const grouped = new Map<string, Dated[]>();
    for (const entry of entries) {
      const name = entry.model.toLowerCase();
      grouped.set(name, [...(grouped.get(name) ?? []), dated(entry)]);
      if (entry.pattern) this.patterns.push({ pattern: new RegExp(entry.pattern), entry: dated(entry) });
    }
    for (const [name, list] of grouped) this.byName.set(name, schedule(list));
  }

  /** `names` most specific first (modelNameCandidates); patterns are tried on the name as sent. */
  find(names: readonly string[], sent: string): PriceSchedule | undefined {
    const exact = this.byName.get(names[0] ?? '');
    if (exact) return exact;
    const matching = this.patterns.filter((p) => p.pattern.test(sent)).map((p) => p.entry);
    if (matching.length > 0) return schedule(matching);
    for (const name of names.slice(1)) {
      const found = this.byName.get(name);
      if (found) return found;
    }
    return undefined;
  }
}
