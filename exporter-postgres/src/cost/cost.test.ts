import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Cost, computeCost, type Usage } from './cost.ts';
import type { PriceFile } from './price-file.ts';
import { loadPriceTable, PriceTable } from './price-table.ts';

const catalogOnly = loadPriceTable();
const AT = new Date('2026-11-01T12:00:00Z');

function cost(usage: Partial<Usage> & Pick<Usage, 'models'>, table = catalogOnly): Cost {
  return computeCost(
    {
      provider: null,
      at: AT,
      orgId: 'acme',
      inputTokens: 1_000_000,
      outputTokens: 0,
      cachedInputTokens: null,
      providedUsd: null,
      ...usage,
    },
    table,
  );
}

/** USD for one million input tokens and one million output tokens: the sum of the two rates. */
const perMillion = (model: string, provider: string | null = null) =>
  cost({ models: [model], provider, outputTokens: 1_000_000 }).cost_usd;

describe('catalogue prices', () => {
  it('price a model by its catalogue rates, cached input at the cached rate, exactly', () => {
    // gpt-4o-mini: $0.15 input, $0.075 cached input, $0.60 output per million tokens.
    expect(
      cost({
        models: ['gpt-4o-mini'],
        provider: 'openai',
        inputTokens: 1200,
        cachedInputTokens: 200,
        outputTokens: 300,
      }),
    ).toEqual({ cost_usd: '0.000345', cost_source: 'catalog' });
    expect(perMillion('claude-3-5-sonnet-20241022', 'anthropic')).toBe('18');
  });

  it.each([
    ['gpt-4o-mini-2024-07-18', 'openai', 'gpt-4o-mini'],
    ['claude-3-5-haiku-20241022', 'anthropic', 'claude-3-5-haiku'],
    ['anthropic.claude-3-5-sonnet-20240620-v1:0', 'aws.bedrock', 'claude-3-5-sonnet'],
    ['us.anthropic.claude-3-5-sonnet-20240620-v1:0', 'aws.bedrock', 'claude-3-5-sonnet'],
    ['eu.anthropic.claude-3-5-haiku-20241022-v1:0', null, 'claude-3-5-haiku'],
    ['claude-3-5-sonnet-v2@20241022', 'gcp.vertex_ai', 'claude-3-5-sonnet'],
    ['gemini-1.5-pro-002', 'gcp.vertex_ai', 'gemini-1.5-pro'],
    ['models/gemini-1.5-pro-002', null, 'gemini-1.5-pro'],
    ['gpt-35-turbo', 'azure.ai.openai', 'gpt-3.5-turbo'],
    ['gpt-4o-2024-08-06', 'azure', 'gpt-4o'],
  ])('price %s (provider %s) like %s', (model, provider, base) => {
    const priced = cost({ models: [model], provider, outputTokens: 1_000_000 });
    expect(priced.cost_source).toBe('catalog');
    expect(priced.cost_usd).not.toBeNull();
    expect(priced.cost_usd).toBe(perMillion(base));
  });

  it('price an Azure deployment by the model it answered with', () => {
    // A deployment name says nothing about the model; the response model does.
    expect(cost({ models: ['gpt-4o-2024-08-06', 'prod-chat'], provider: 'azure.ai.openai' })).toEqual({
      cost_usd: '2.5',
      cost_source: 'catalog',
    });
    expect(cost({ models: ['prod-chat'], provider: 'azure.ai.openai' }).cost_source).toBe('unpriced');
  });

  it("take the call's provider's price where providers differ, and the model's owner without one", () => {
    expect(perMillion('gpt-oss-120b')).toBe('0.219');
    expect(perMillion('gpt-oss-120b', 'cerebras')).toBe('1.1');
    expect(perMillion('claude-opus-5', 'anthropic')).toBe('30');
    expect(perMillion('us.anthropic.claude-opus-5-v1:0', 'aws.bedrock')).toBe('33');
  });

  it("price a model its span's provider does not sell (a fallback traced under the primary's provider)", () => {
    expect(perMillion('claude-3-5-haiku-2025-01-01', 'openai')).toBe(perMillion('claude-3-5-haiku'));
  });

  it('price embeddings by their input tokens, with or without a provider', () => {
    expect(cost({ models: ['text-embedding-3-small'], inputTokens: 1000 })).toEqual({
      cost_usd: '0.00002',
      cost_source: 'catalog',
    });
    // Embedding APIs charge no output; a client that reports some is not charged for it.
    expect(
      cost({ models: ['text-embedding-3-large'], provider: 'openai', inputTokens: 1000, outputTokens: 12 }),
    ).toEqual({ cost_usd: '0.00013', cost_source: 'catalog' });
  });

  it('apply the price in force at the call: dated changes, off-peak hours, tiers by input size', () => {
    const o3 = (at: string) => cost({ models: ['o3'], provider: 'openai', at: new Date(at) }).cost_usd;
    expect(o3('2025-05-01T00:00:00Z')).toBe('10');
    expect(o3('2025-07-01T00:00:00Z')).toBe('2');
    const deepseek = (at: string) =>
      cost({ models: ['deepseek-chat'], provider: 'deepseek', at: new Date(at) }).cost_usd;
    expect(deepseek('2026-11-01T10:00:00Z')).toBe('0.27');
    expect(deepseek('2026-11-01T20:00:00Z')).toBe('0.135');
    // Gemini 1.5 Pro: $1.25 per million input tokens up to 128k tokens a call, $2.50 for every token above.
    expect(cost({ models: ['gemini-1.5-pro'], inputTokens: 100_000 }).cost_usd).toBe('0.125');
    expect(cost({ models: ['gemini-1.5-pro'], inputTokens: 200_000 }).cost_usd).toBe('0.5');
  });
});

describe('unpriced calls', () => {
  it('are never $0: an unknown model has a null cost', () => {
    expect(cost({ models: ['in-house-classifier-v3'], provider: 'openai' })).toEqual({
      cost_usd: null,
      cost_source: 'unpriced',
    });
    expect(cost({ models: ['gpt-4o'], inputTokens: null, outputTokens: null })).toEqual({
      cost_usd: null,
      cost_source: 'unpriced',
    });
  });

  it('are priced by a cost the span provides, which wins over every table', () => {
    expect(cost({ models: ['in-house-7b'], providedUsd: 0.5 })).toEqual({
      cost_usd: '0.5',
      cost_source: 'provided',
    });
    expect(cost({ models: ['gpt-4o'], providedUsd: 0.25 })).toEqual({
      cost_usd: '0.25',
      cost_source: 'provided',
    });
  });
});

describe('overrides', () => {
  const file: PriceFile = {
    models: [
      { model: 'gpt-4o', input: '2.00', output: '8.00', effective_from: '2026-01-01' },
      { model: 'in-house-7b', input: '0.05', output: '0.10', effective_from: '2026-01-01' },
      {
        model: 'ft-summary',
        pattern: '^ft-summary-v\\d+$',
        input: '1.00',
        output: '1.00',
        effective_from: '2026-01-01',
      },
    ],
    orgs: {
      acme: [{ model: 'gpt-4o', input: '1.00', output: '4.00', effective_from: '2026-06-01' }],
    },
  };
  const table = new PriceTable(file);

  it('take precedence in order: the org, then the file, then the catalogue', () => {
    expect(cost({ models: ['gpt-4o'], orgId: 'acme' }, table)).toEqual({
      cost_usd: '1',
      cost_source: 'computed',
    });
    expect(cost({ models: ['gpt-4o'], orgId: 'globex' }, table)).toEqual({
      cost_usd: '2',
      cost_source: 'computed',
    });
    expect(cost({ models: ['gpt-4o-mini'], orgId: 'acme' }, table)).toEqual({
      cost_usd: '0.15',
      cost_source: 'catalog',
    });
    expect(cost({ models: ['in-house-7b'] }, table)).toEqual({ cost_usd: '0.05', cost_source: 'computed' });
  });

  it('match dated versions, other spellings and patterns of their models', () => {
    expect(cost({ models: ['gpt-4o-2024-08-06'], orgId: 'acme' }, table).cost_usd).toBe('1');
    expect(cost({ models: ['GPT-4o'], orgId: 'globex' }, table).cost_usd).toBe('2');
    expect(cost({ models: ['ft-summary-v3'] }, table)).toEqual({ cost_usd: '1', cost_source: 'computed' });
  });

  it("fall through to the next source for a call before an entry's effective date", () => {
    const before = new Date('2026-03-01T00:00:00Z');
    expect(cost({ models: ['gpt-4o'], orgId: 'acme', at: before }, table).cost_usd).toBe('2');
    const earlier = new Date('2025-06-01T00:00:00Z');
    expect(cost({ models: ['gpt-4o'], orgId: 'acme', at: earlier }, table)).toEqual({
      cost_usd: '2.5',
      cost_source: 'catalog',
    });
  });

  it('load from OBSERVATORY_PRICES_FILE, and a broken file fails naming the file and the field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'observatory-prices-'));
    const good = join(dir, 'prices.json');
    writeFileSync(good, JSON.stringify(file));
    expect(cost({ models: ['gpt-4o'], orgId: 'acme' }, loadPriceTable(good)).cost_usd).toBe('1');

    const bad = join(dir, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({ models: [{ model: 'x', input: 'free', output: '1', effective_from: '2026-01-01' }] }),
    );
    expect(() => loadPriceTable(bad)).toThrow(/bad\.json is invalid: models\.0\.input/);
    expect(() => loadPriceTable(join(dir, 'missing.json'))).toThrow(/missing\.json could not be read/);
  });
});
