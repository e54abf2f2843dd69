import {
  type ConditionalPrice,
  type MatchLogic,
  type ModelInfo,
  type ModelPrice,
  type Provider,
  waitForUpdate,
} from '@pydantic/genai-prices';
import { flatRate, type PriceSchedule, type Rate, type Rates } from './rates.ts';
import { numberToUnits } from './units.ts';

type Matcher = (name: string) => boolean;

/** The catalogue's match rules (names arrive lower-cased, as the package itself compares them). */
function compile(logic: MatchLogic): Matcher {
  if ('or' in logic) {
    const parts = logic.or.map(compile);
    return (name) => parts.some((part) => part(name));
  }
  if ('and' in logic) {
    const parts = logic.and.map(compile);
    return (name) => parts.every((part) => part(name));
  }
  if ('equals' in logic) {
    const value = logic.equals.toLowerCase();
    return (name) => name === value;
  }
  if ('starts_with' in logic) {
    const value = logic.starts_with.toLowerCase();
    return (name) => name.startsWith(value);
  }
  if ('ends_with' in logic) {
    const value = logic.ends_with.toLowerCase();
    return (name) => name.endsWith(value);
  }
  if ('contains' in logic) {
    const value = logic.contains.toLowerCase();
    return (name) => name.includes(value);
  }
  const pattern = new RegExp(logic.regex);
  return (name) => pattern.test(name);
}

/** The names a rule accepts exactly, when it is nothing but `equals` (possibly under `or`). */
function exactNames(logic: MatchLogic): string[] | undefined {
  if ('equals' in logic) return [logic.equals.toLowerCase()];
  if (!('or' in logic)) return undefined;
  const names: string[] = [];
  for (const part of logic.or) {
    const inner = exactNames(part);
    if (!inner) return undefined;
    names.push(...inner);
  }
  return names;
}

function toRate(value: ModelPrice[string]): Rate | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number') return flatRate(numberToUnits(value));
  return {
    base: numberToUnits(value.base),
    tiers: [...value.tiers]
      .sort((a, b) => a.start - b.start)
      .map((tier) => ({ above: tier.start, price: numberToUnits(tier.price) })),
  };
}

/**
 * Token rates only: a model the catalogue prices by other units (pages, audio seconds) stays unpriced. As in
 * the catalogue, a price it does not list is not charged: embeddings list no output price.
 */
function toRates(price: ModelPrice): Rates | undefined {
  const input = toRate(price.input_mtok);
  if (!input) return undefined;
  return {
    input,
    cachedInput: toRate(price.cache_read_mtok) ?? input,
    output: toRate(price.output_mtok) ?? flatRate(0n),
  };
}

function secondsOfDay(time: string): number {
  const match = /^(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|[+-]\d{2}:\d{2})$/.exec(time);
  if (!match) return Number.NaN;
  const [, h, m, s, zone] = match;
  const offset =
    zone === 'Z'
      ? 0
      : (zone!.startsWith('-') ? -1 : 1) * (Number(zone!.slice(1, 3)) * 60 + Number(zone!.slice(4))) * 60;
  return (Number(h) * 3600 + Number(m) * 60 + Number(s) - offset + 86_400) % 86_400;
}

/** A catalogue price constraint as a test of the call's time, its dates and times parsed once. */
function holdsAt(constraint: NonNullable<ConditionalPrice['constraint']>): (at: Date) => boolean {
  if (constraint.type === 'start_date') {
    const from = Date.parse(`${constraint.start_date}T00:00:00Z`);
    return (at) => at.getTime() >= from;
  }
  const start = secondsOfDay(constraint.start_time);
  const end = secondsOfDay(constraint.end_time);
  return (at) => {
    const now = at.getUTCHours() * 3600 + at.getUTCMinutes() * 60 + at.getUTCSeconds();
    return end < start ? now >= start || now < end : now >= start && now < end;
  };
}

/**
 * The package's rule for dated and off-peak prices: the last entry whose constraint holds at the call's time,
 * else the first (so a call before the earliest known date gets the earliest known price).
 */
function scheduleOf(model: ModelInfo): PriceSchedule {
  if (!Array.isArray(model.prices)) {
    const rates = toRates(model.prices);
    return () => rates;
  }
  const entries = model.prices.map((p) => ({
    holds: p.constraint ? holdsAt(p.constraint) : () => true,
    rates: toRates(p.prices),
  }));
  return (at) => {
    for (let i = entries.length - 1; i >= 0; i--) {
      const { holds, rates } = entries[i]!;
      if (holds(at)) return rates;
    }
    return entries[0]?.rates;
  };
}

interface IndexedProvider {
  id: string;
  /** The provider names it answers to besides its id (`aws.bedrock` → aws). */
  matchesProvider: Matcher | undefined;
  /** The model families it owns (`claude` → anthropic); only providers that own a family have one. */
  ownsModel: Matcher | undefined;
  exact: Map<string, PriceSchedule>;
  /** Models with rules other than exact names, in catalogue order. */
  rules: { matches: Matcher; schedule: PriceSchedule }[];
  fallbackIds: readonly string[];
}

function indexProvider(provider: Provider): IndexedProvider {
  const exact = new Map<string, PriceSchedule>();
  const rules: IndexedProvider['rules'] = [];
  for (const model of provider.models) {
    const schedule = scheduleOf(model);
    const names = exactNames(model.match);
    if (names) {
      for (const name of names) if (!exact.has(name)) exact.set(name, schedule);
    } else {
      rules.push({ matches: compile(model.match), schedule });
    }
  }
  return {
    id: provider.id,
    matchesProvider: provider.provider_match && compile(provider.provider_match),
    ownsModel: provider.model_match && compile(provider.model_match),
    exact,
    rules,
    fallbackIds: provider.fallback_model_providers ?? [],
  };
}

// Provider names of the OpenTelemetry conventions and SDKs that the catalogue's own rules do not recognise.
const PROVIDER_ALIASES: readonly [RegExp, string][] = [
  [/azure|^az\./, 'azure'],
  [/^x_?ai$/, 'x-ai'],
  [/^gcp\./, 'google'],
];

/**
 * The price catalogue of `@pydantic/genai-prices`, indexed once: per provider an exact-name map and the
 * remaining match rules in the catalogue's order. Lookups follow the package's matching (provider by id or
 * its provider rules, model by its match rules, a provider's fallback providers), without its per-call
 * price arithmetic, which is floating point and too slow to run per span.
 */
export class Catalog {
  private readonly providers: IndexedProvider[];
  private readonly byId: Map<string, IndexedProvider>;
  private readonly owners: IndexedProvider[];

  constructor(providers: readonly Provider[]) {
    this.providers = providers.map(indexProvider);
    this.byId = new Map(this.providers.map((p) => [p.id, p]));
    this.owners = this.providers.filter((p) => p.ownsModel);
  }

  /**
   * `names` most specific first (modelNameCandidates). The call's provider is tried first with every name;
   * then the providers that own the name's family (a fallback to Claude traced under the primary's provider
   * `openai` is still Claude); last, an exact name at any family owner (`text-embedding-3-small` from a span
   * that names no provider).
   */
  find(names: readonly string[], provider: string | null): PriceSchedule | undefined {
    const hinted = provider ? this.provider(provider) : undefined;
    if (hinted) {
      for (const name of names) {
        const found = this.inProvider(hinted, name);
        if (found) return found;
      }
    }
    for (const name of names) {
      for (const owner of this.owners) {
        if (!owner.ownsModel!(name)) continue;
        const found = this.inProvider(owner, name);
        if (found) return found;
      }
    }
    for (const name of names) {
      for (const owner of this.owners) {
        const found = owner.exact.get(name);
        if (found) return found;
      }
    }
    return undefined;
  }

  private provider(name: string): IndexedProvider | undefined {
    const id = name.trim().toLowerCase();
    const alias = PROVIDER_ALIASES.find(([pattern]) => pattern.test(id))?.[1];
    return this.byId.get(alias ?? id) ?? this.providers.find((p) => p.matchesProvider?.(id));
  }

  private inProvider(
    provider: IndexedProvider,
    name: string,
    withFallbacks = true,
  ): PriceSchedule | undefined {
    const found = provider.exact.get(name) ?? provider.rules.find((r) => r.matches(name))?.schedule;
    if (found || !withFallbacks) return found;
    for (const id of provider.fallbackIds) {
      const fallback = this.byId.get(id);
      const inFallback = fallback && this.inProvider(fallback, name, false);
      if (inFallback) return inFallback;
    }
    return undefined;
  }
}

// The data shipped in the installed package version: nothing here calls `updatePrices`, so this promise is
// already settled and no network is involved. New prices arrive by updating the dependency.
const bundled = new Catalog((await waitForUpdate()) ?? []);

export function bundledCatalog(): Catalog {
  return bundled;
}
