import type { GenerateContentResponse } from '@google/genai';
import type { CallMetadata, Usage } from '../../schemas';

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
