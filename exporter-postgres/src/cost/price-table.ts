import type { CostSource } from '../event.ts';
import { bundledCatalog, type Catalog } from './catalog.ts';
import { modelNameCandidates } from './model-names.ts';
import { OverridePrices } from './override-prices.ts';
import { type PriceFile, readPriceFile } from './price-file.ts';
import type { PriceSchedule, Rates } from './rates.ts';

export interface PriceQuery {
  /** Names to price, most precise first (a dated response model before the requested name). */
  models: readonly string[];
  /** The call's provider as the span names it (`openai`, `aws.bedrock`, `azure.ai.openai`), if any. */
  provider: string | null;
  orgId: string;
  at: Date;
}

export interface FoundPrice {
  rates: Rates;
  /** `computed` for the operator's own prices (an org's or the file's), `catalog` for the catalogue's. */
  source: Extract<CostSource, 'computed' | 'catalog'>;
}

/** One model name's prices from each source, resolved once. */
interface Resolved {
  org: PriceSchedule | undefined;
  file: PriceSchedule | undefined;
  catalog: PriceSchedule | undefined;
}

const PRECEDENCE = [
  ['org', 'computed'],
  ['file', 'computed'],
  ['catalog', 'catalog'],
] as const;

// Model names come from callers: past this many distinct resolutions the memory is dropped and rebuilt from the
// names still in use, so it stays bounded whatever arrives.
const MAX_RESOLVED = 10_000;

/**
 * Prices per model call, from three sources in order: the call's org's own entries, the price file's shared
 * entries, then the maintained catalogue; the first that has a price for the call's time wins. Each distinct
 * (org, provider, model name) is resolved once — exact names, normalised names, patterns, catalogue rules — and
 * remembered in nested maps, so pricing a span allocates nothing and costs a few map lookups.
 */
export class PriceTable {
  private readonly shared: OverridePrices;
  private readonly orgs: Map<string, OverridePrices>;
  /** org ('' for an org without entries of its own) → provider → model name → prices. */
  private readonly resolved = new Map<string, Map<string, Map<string, Resolved>>>();
  private resolvedCount = 0;

  constructor(
    file: PriceFile = { models: [], orgs: {} },
    private readonly catalog: Catalog = bundledCatalog(),
  ) {
    this.shared = new OverridePrices(file.models);
    this.orgs = new Map(
      Object.entries(file.orgs).map(([org, entries]) => [org, new OverridePrices(entries)]),
    );
  }

  lookup({ models, provider, orgId, at }: PriceQuery): FoundPrice | undefined {
    const org = this.orgs.has(orgId) ? orgId : '';
    for (const [from, source] of PRECEDENCE) {
      for (const model of models) {
        const rates = this.resolve(org, provider ?? '', model)[from]?.(at);
        if (rates) return { rates, source };
      }
    }
    return undefined;
  }

  private resolve(org: string, provider: string, model: string): Resolved {
    if (this.resolvedCount >= MAX_RESOLVED) {
      this.resolved.clear();
      this.resolvedCount = 0;
    }
    let byProvider = this.resolved.get(org);
    if (!byProvider) {
      byProvider = new Map();
      this.resolved.set(org, byProvider);
    }
    let byModel = byProvider.get(provider);
    if (!byModel) {
      byModel = new Map();
      byProvider.set(provider, byModel);
    }
    let found = byModel.get(model);
    if (!found) {
      const names = modelNameCandidates(model);
      found = {
        org: this.orgs.get(org)?.find(names, model),
        file: this.shared.find(names, model),
        catalog: this.catalog.find(names, provider || null),
      };
      byModel.set(model, found);
      this.resolvedCount += 1;
    }
    return found;
  }
}

/** The catalogue, overridden by `file` (`OBSERVATORY_PRICES_FILE`) when one is given. */
export function loadPriceTable(file?: string): PriceTable {
  return new PriceTable(file ? readPriceFile(file) : undefined);
}
