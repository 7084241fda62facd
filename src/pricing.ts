/**
 * Cost estimates from a built-in, overridable price table (USD per 1M tokens). Pure: the batch
 * and item workflows use it for live cost. Prices change: override them per batch (`options.prices`,
 * CLI `--prices prices.json`).
 */
import type { Usage } from './usage';

/** USD per 1M tokens (its schema, PriceSchema, is in schemas.ts: this module stays free of zod for the workflows). */
export interface Price {
  input: number;
  output: number;
  cachedInput: number;
  /** Context-cache storage, per 1M cached tokens per hour. */
  cacheStoragePerHour: number;
}
export type PriceTable = Record<string, Price>;

/** Paid tier, standard (≤ 200k-token) prompts, as published in Nov 2026; storage prices of the 3.x models are assumed like 2.5's. */
export const DEFAULT_PRICES: PriceTable = {
  'gemini-3.5-flash': { input: 1.5, output: 9.0, cachedInput: 0.15, cacheStoragePerHour: 1.0 },
  'gemini-3-flash-preview': { input: 0.5, output: 3.0, cachedInput: 0.05, cacheStoragePerHour: 1.0 },
  'gemini-2.5-flash': { input: 0.3, output: 2.5, cachedInput: 0.03, cacheStoragePerHour: 1.0 },
  'gemini-2.5-flash-lite': { input: 0.1, output: 0.4, cachedInput: 0.01, cacheStoragePerHour: 1.0 },
  'gemini-2.5-pro': { input: 1.25, output: 10.0, cachedInput: 0.125, cacheStoragePerHour: 4.5 },
};

/** The price of a model: exact name, else the longest table key it starts with (e.g. "-001" versions). */
export function priceFor(model: string, overrides: PriceTable = {}): Price | undefined {
  const name = model.replace(/^models\//, '');
  const table = { ...DEFAULT_PRICES, ...overrides };
  if (table[name]) return table[name];
  const key = Object.keys(table)
    .filter((candidate) => name.startsWith(`${candidate}-`))
    .sort((a, b) => b.length - a.length)[0];
  return key ? table[key] : undefined;
}

/** Dollars, to a billionth: enough for a cost per call, without float noise like 0.00012300000000000001. */
export function roundUsd(value: number): number {
  return Math.round(value * 1e9) / 1e9;
}

/** Estimated USD for one call's usage; cached input is billed at the cached rate, thoughts as output. */
export function usageCost(usage: Usage, price: Price): number {
  const freshInput = Math.max(usage.inputTokens - usage.cachedTokens, 0);
  return roundUsd(
    (freshInput * price.input +
      usage.cachedTokens * price.cachedInput +
      (usage.outputTokens + usage.thoughtsTokens) * price.output) /
      1e6,
  );
}

/** Gemini Batch Mode bills every token at half the online price. */
export const BATCH_PRICE_FACTOR = 0.5;

/** A model's price through the batch API: every per-token rate times BATCH_PRICE_FACTOR (storage unchanged). */
export function batchPriceOf(price: Price): Price {
  return {
    input: price.input * BATCH_PRICE_FACTOR,
    output: price.output * BATCH_PRICE_FACTOR,
    cachedInput: price.cachedInput * BATCH_PRICE_FACTOR,
    cacheStoragePerHour: price.cacheStoragePerHour,
  };
}

/** What a call priced at the batch rate saved against the online price for the same tokens. */
export function batchSavingUsd(batchCostUsd: number): number {
  return batchCostUsd / BATCH_PRICE_FACTOR - batchCostUsd;
}

/** Cached share of input tokens (0 when there was no input). */
export function cacheHitRate(usage: Usage): number {
  return usage.inputTokens > 0 ? usage.cachedTokens / usage.inputTokens : 0;
}

/** Input tokens at full-price equivalence: cached tokens weigh what they cost (10 % when no price is known). */
export function effectiveInputTokens(usage: Usage, price?: Price): number {
  const discount = price && price.input > 0 ? price.cachedInput / price.input : 0.1;
  return Math.round(Math.max(usage.inputTokens - usage.cachedTokens, 0) + usage.cachedTokens * discount);
}

/** Storage cost of keeping `tokens` cached for `hours`. */
export function cacheStorageCost(tokens: number, hours: number, price: Price): number {
  return (tokens * hours * price.cacheStoragePerHour) / 1e6;
}
