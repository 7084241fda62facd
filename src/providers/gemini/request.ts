/**
 * The one place a Gemini request is built: the online call (`generate`) and Batch Mode both send
 * exactly this content config, so a batch request is the online stage-1 request.
 */
import type { Content, GenerateContentConfig } from '@google/genai';
import type { GenerationSettings } from '../../schemas';
import type { BatchRequest } from '../types';

export function contentsOf(prompt: string): Content[] {
  return [{ role: 'user', parts: [{ text: prompt }] }];
}

/** System instruction, structured output, sampling settings and context cache, without any transport option. */
export function contentConfig(request: BatchRequest): GenerateContentConfig {
  const settings: GenerationSettings = request.generation;
  const config: GenerateContentConfig = {
    responseMimeType: 'application/json',
    responseJsonSchema: request.responseJsonSchema,
    ...(request.cachedContent ? { cachedContent: request.cachedContent } : {}),
  };
  if (request.systemInstruction) config.systemInstruction = request.systemInstruction;
  if (settings.temperature !== undefined) config.temperature = settings.temperature;
  if (settings.topP !== undefined) config.topP = settings.topP;
  if (settings.topK !== undefined) config.topK = settings.topK;
  if (settings.maxOutputTokens !== undefined) config.maxOutputTokens = settings.maxOutputTokens;
  if (settings.seed !== undefined) config.seed = settings.seed;
  if (settings.thinkingBudget !== undefined) config.thinkingConfig = { thinkingBudget: settings.thinkingBudget };
  return config;
}

/**
 * The REST `GenerateContentRequest` for a JSONL input file, as the SDK's converter builds it for
 * inline requests: `systemInstruction` (a Content) and `cachedContent` at request level, the rest
 * of the config in `generationConfig`.
 */
export function restRequestOf(request: BatchRequest): Record<string, unknown> {
  const { systemInstruction, cachedContent, ...generationConfig } = contentConfig(request);
  return {
    contents: contentsOf(request.prompt),
    ...(typeof systemInstruction === 'string' ? { systemInstruction: { parts: [{ text: systemInstruction }] } } : {}),
    ...(cachedContent ? { cachedContent } : {}),
    generationConfig,
  };
}
