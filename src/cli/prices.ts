/**
 * `--prices FILE`: the prices a batch's cost estimates use, USD per 1M tokens by model, over the
 * built-in table (src/pricing.ts: Gemini's). What a model without a built-in price needs, e.g. an
 * OpenAI-compatible endpoint's:
 *
 *   { "gpt-4.1-mini": { "input": 0.4, "output": 1.6, "cachedInput": 0.1 } }
 *
 * `cachedInput` defaults to `input` (no discount assumed), `cacheStoragePerHour` to 0.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { describeZodError } from '../schemas';
import { InputError } from '../input';
import type { PriceTable } from '../pricing';

const UsdPerMillion = z.number({ error: 'must be a number of USD per 1M tokens' }).min(0, 'must be 0 or more');

const PriceFileSchema = z.record(
  z.string().min(1, 'a model name must not be empty'),
  z
    .object({
      input: UsdPerMillion,
      output: UsdPerMillion,
      cachedInput: UsdPerMillion.optional(),
      cacheStoragePerHour: UsdPerMillion.optional(),
    })
    .strict(),
);

/** Reads and checks a price file; an unreadable file, bad JSON or a bad field is an InputError naming it. */
export async function readPriceFile(file: string): Promise<PriceTable> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new InputError(file, [{ message: `cannot read the price file: ${(error as Error).message}` }]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new InputError(file, [{ message: `not JSON: ${(error as Error).message}` }]);
  }
  const parsed = PriceFileSchema.safeParse(json);
  if (!parsed.success)
    throw new InputError(
      file,
      describeZodError(parsed.error).map((issue) => ({ field: issue.path, message: issue.message })),
    );
  return Object.fromEntries(
    Object.entries(parsed.data).map(([model, price]) => [
      model,
      {
        input: price.input,
        output: price.output,
        cachedInput: price.cachedInput ?? price.input,
        cacheStoragePerHour: price.cacheStoragePerHour ?? 0,
      },
    ]),
  );
}
