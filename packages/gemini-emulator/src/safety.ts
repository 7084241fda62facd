import { z } from 'zod';

/** The harm categories the Gemini API rates text in. */
export const HARM_CATEGORIES = [
  'HARM_CATEGORY_HARASSMENT',
  'HARM_CATEGORY_HATE_SPEECH',
  'HARM_CATEGORY_SEXUALLY_EXPLICIT',
  'HARM_CATEGORY_DANGEROUS_CONTENT',
  'HARM_CATEGORY_CIVIC_INTEGRITY',
] as const;

export type HarmCategory = (typeof HARM_CATEGORIES)[number];

export const HARM_PROBABILITIES = ['NEGLIGIBLE', 'LOW', 'MEDIUM', 'HIGH'] as const;

export type HarmProbability = (typeof HARM_PROBABILITIES)[number];

/** One safety rating as it appears on a candidate or in `promptFeedback`. */
export interface SafetyRatingSpec {
  category: HarmCategory;
  probability: HarmProbability;
  /** True on the rating that caused a block. */
  blocked?: boolean;
}

/** Documented `finishReason` values; newer ones pass validation too, as long as they look like one. */
export const KNOWN_FINISH_REASONS = [
  'STOP',
  'MAX_TOKENS',
  'SAFETY',
  'RECITATION',
  'LANGUAGE',
  'OTHER',
  'BLOCKLIST',
  'PROHIBITED_CONTENT',
  'SPII',
  'MALFORMED_FUNCTION_CALL',
  'IMAGE_SAFETY',
  'IMAGE_PROHIBITED_CONTENT',
  'IMAGE_RECITATION',
  'IMAGE_OTHER',
  'NO_IMAGE',
  'UNEXPECTED_TOOL_CALL',
  'TOO_MANY_TOOL_CALLS',
] as const;

/** Documented `promptFeedback.blockReason` values; newer ones pass validation too. */
export const KNOWN_BLOCK_REASONS = [
  'SAFETY',
  'OTHER',
  'BLOCKLIST',
  'PROHIBITED_CONTENT',
  'IMAGE_SAFETY',
  'JAILBREAK',
  'MODEL_ARMOR',
] as const;

/** The four categories the emulator has always rated. */
const CLASSIC_CATEGORIES: readonly HarmCategory[] = HARM_CATEGORIES.slice(0, 4);

function ratingsWith(elevated: HarmCategory, rating: Omit<SafetyRatingSpec, 'category'>): readonly SafetyRatingSpec[] {
  return CLASSIC_CATEGORIES.map((category) =>
    category === elevated ? { category, ...rating } : { category, probability: 'NEGLIGIBLE' as const },
  );
}

/** What a normal candidate carries unless configured otherwise: four NEGLIGIBLE ratings. */
export const DEFAULT_SAFETY_RATINGS: readonly SafetyRatingSpec[] = CLASSIC_CATEGORIES.map((category) => ({
  category,
  probability: 'NEGLIGIBLE' as const,
}));

/** Ratings of a blocked output or prompt unless the fault rule gives its own: dangerous content, HIGH, blocked. */
export const DEFAULT_BLOCKING_RATINGS = ratingsWith('HARM_CATEGORY_DANGEROUS_CONTENT', {
  probability: 'HIGH',
  blocked: true,
});

/** Ratings of a `ratings` fault that gives none: an otherwise fine answer rated MEDIUM for hate speech. */
export const DEFAULT_FLAGGED_RATINGS = ratingsWith('HARM_CATEGORY_HATE_SPEECH', { probability: 'MEDIUM' });

const UPPERCASE_IDENTIFIER = /^[A-Z][A-Z0-9_]*$/;

function reasonSchema(known: readonly string[]) {
  return z.string().regex(UPPERCASE_IDENTIFIER, `expected an uppercase identifier such as ${known.join(', ')}`);
}

export const finishReasonSchema = reasonSchema(KNOWN_FINISH_REASONS);

export const blockReasonSchema = reasonSchema(KNOWN_BLOCK_REASONS);

const safetyRatingSchema = z
  .object({
    category: z.enum(HARM_CATEGORIES),
    probability: z.enum(HARM_PROBABILITIES),
    blocked: z.boolean().optional(),
  })
  .strict();

/** A list of ratings; each category at most once, as Google sends them. */
export const safetyRatingsSchema = z.array(safetyRatingSchema).superRefine((ratings, context) => {
  const seen = new Set<string>();
  for (const [index, rating] of ratings.entries()) {
    if (seen.has(rating.category)) {
      context.addIssue({ code: 'custom', path: [index, 'category'], message: `${rating.category} is rated twice` });
    }
    seen.add(rating.category);
  }
});

/** The `safetyRatings` field of a candidate or of `promptFeedback`: absent when there are none. */
export function safetyRatingsField(ratings: readonly SafetyRatingSpec[]): { safetyRatings?: SafetyRatingSpec[] } {
  return ratings.length === 0 ? {} : { safetyRatings: ratings.map((rating) => ({ ...rating })) };
}
