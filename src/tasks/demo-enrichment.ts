import { z } from 'zod';
import { defineTask } from './task';

const ProductSchema = z.object({
  id: z.union([z.string(), z.number()]),
  name: z.string().min(1),
  description: z.string().min(1),
});

export const ProductEnrichmentSchema = z.object({
  category: z.enum(['kitchen', 'outdoor', 'electronics', 'office', 'toys', 'software', 'garden', 'pets', 'health', 'home', 'other']),
  summary: z.string().min(10).max(200).describe('One sentence a shopper would understand.'),
  keywords: z.array(z.string().min(2).max(40)).min(1).max(5),
  audience: z.enum(['consumer', 'business', 'both']),
  priceTier: z.enum(['budget', 'mid', 'premium']),
});

/** The built-in demo task: enrich a product record with a category, summary and keywords. */
export const demoEnrichmentTask = defineTask({
  name: 'demo-enrichment',
  description: 'Classify and summarise a product (bundled demo over data/demo-products.jsonl).',
  itemSchema: ProductSchema,
  outputSchema: ProductEnrichmentSchema,
  systemInstruction:
    'You are a catalogue analyst. Answer only with JSON matching the response schema. Be factual; do not invent features that the description does not state.',
  prompt: (product) =>
    [
      'Enrich this product record for our catalogue.',
      `Name: ${product.name}`,
      `Description: ${product.description}`,
      'Give its category, a one-sentence summary, 1 to 5 search keywords, the intended audience and a price tier.',
    ].join('\n'),
  generation: { temperature: 0 },
});
