import { z } from 'zod';
import { defineTask } from './task';

const ProductSchema = z.object({
  id: z.union([z.string(), z.number()]),
  name: z.string().min(1),
  description: z.string().min(1),
});

export const ProductEnrichmentSchema = z.object({
  category: z.enum([
    'kitchen',
    'outdoor',
    'electronics',
    'office',
    'toys',
    'software',
    'garden',
    'pets',
    'health',
    'home',
    'other',
  ]),
  summary: z.string().min(10).max(200).describe('One sentence a shopper would understand.'),
  keywords: z.array(z.string().min(2).max(40)).min(1).max(5),
  audience: z.enum(['consumer', 'business', 'both']),
  priceTier: z.enum(['budget', 'mid', 'premium']),
});

/** Like most real enrichment prompts: a fixed guide (the shared prefix) and a short per-item part. */
const CATALOGUE_GUIDE = [
  'You are a catalogue analyst for a general retailer. For each product record you receive, answer only with JSON matching the response schema.',
  'Rules:',
  '1. category: the aisle a shopper would look in. kitchen = cooking, food prep and tableware; outdoor = camping, hiking, cycling, beach; electronics = devices, chargers, audio, smart home hardware; office = stationery, furniture and equipment for work; toys = children and games; software = licences, apps and subscriptions; garden = plants, tools, watering; pets = food, care and accessories for animals; health = fitness, personal care, medical; home = furniture, cleaning, decor; other = anything else.',
  '2. summary: one plain sentence (10 to 200 characters) saying what the product is and who it helps. Do not repeat the name; no marketing superlatives.',
  '3. keywords: 1 to 5 lower-case search terms a customer would type, most specific first; no brand names unless the record gives one.',
  '4. audience: consumer, business, or both when the description addresses both.',
  '5. priceTier: budget, mid or premium, judged from materials, features and wording; mid when the record gives no hint.',
  'Be factual: never invent features that the description does not state. If the record is ambiguous, prefer the more general category.',
].join('\n');

/** The built-in demo task: enrich a product record with a category, summary and keywords. */
export const demoEnrichmentTask = defineTask({
  name: 'demo-enrichment',
  description: 'Classify and summarise a product (bundled demo over data/demo-products.jsonl).',
  itemSchema: ProductSchema,
  outputSchema: ProductEnrichmentSchema,
  systemInstruction: CATALOGUE_GUIDE,
  prompt: (product) =>
    [
      'Enrich this product record for our catalogue.',
      `Name: ${product.name}`,
      `Description: ${product.description}`,
      'Give its category, a one-sentence summary, 1 to 5 search keywords, the intended audience and a price tier.',
    ].join('\n'),
  partialContext: (product) => product.name,
  generation: { temperature: 0 },
});
