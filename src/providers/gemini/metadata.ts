import type { GenerateContentResponse } from '@google/genai';
import { HARM_PROBABILITIES, type CallMetadata, type FilterHit, type HarmProbability, type Usage } from '../../schemas';

/** The compact record of one answer: finish reason, ratings, block reason, ids, usage. */
export function metadataOf(response: GenerateContentResponse, usage: Usage): CallMetadata {
  const candidate = response.candidates?.[0];
  // A blocked prompt has no candidate: its ratings are the prompt's.
  const ratings = candidate?.safetyRatings ?? response.promptFeedback?.safetyRatings ?? [];
  const safetyRatings: Record<string, string> = {};
  const blockedCategories: string[] = [];
  for (const rating of ratings) {
    if (!rating.category) continue;
    safetyRatings[rating.category] = rating.probability ?? 'HARM_PROBABILITY_UNSPECIFIED';
    if (rating.blocked) blockedCategories.push(rating.category);
  }
  return {
    ...(candidate?.finishReason ? { finishReason: candidate.finishReason } : {}),
    safetyRatings,
    blockedCategories,
    ...(response.promptFeedback?.blockReason ? { blockReason: response.promptFeedback.blockReason } : {}),
    ...(response.modelVersion ? { modelVersion: response.modelVersion } : {}),
    ...(response.responseId ? { responseId: response.responseId } : {}),
    usage,
  };
}

function rank(probability: string): number {
  return HARM_PROBABILITIES.indexOf(probability as HarmProbability);
}

/** Ratings at or above the task's thresholds (empty: the answer passes the filter). */
export function filterHits(metadata: CallMetadata, thresholds: Partial<Record<string, HarmProbability>> | undefined): FilterHit[] {
  const hits: FilterHit[] = [];
  for (const [category, threshold] of Object.entries(thresholds ?? {})) {
    const probability = metadata.safetyRatings[category];
    if (threshold && probability !== undefined && rank(probability) >= 0 && rank(probability) >= rank(threshold)) {
      hits.push({ category, probability, threshold });
    }
  }
  return hits;
}
