/** A Gemini `GenerateContentResponse` as the engine reads it: text, stop reason, usage, metadata. */
import { GenerateContentResponse } from '@google/genai';
import type { Usage } from '../../schemas';
import type { ModelAnswer } from '../types';
import { metadataOf } from './metadata';

/** Finish reasons that mean the answer was stopped by a filter. */
const SAFETY_FINISH_REASONS = new Set(['SAFETY', 'PROHIBITED_CONTENT', 'BLOCKLIST', 'SPII', 'IMAGE_SAFETY']);

/**
 * Works on the SDK's response objects (`generateContent`) and on plain response objects (Batch
 * Mode's inlined responses and result-file lines, which have no `.text` getter).
 */
export function answerOf(response: GenerateContentResponse): ModelAnswer {
  const usage = usageOf(response);
  const text = response instanceof GenerateContentResponse ? response.text : textOf(response);
  const stopped = stopOf(response, text);
  return {
    text,
    ...(stopped ? { stopped } : {}),
    usage,
    metadata: metadataOf(response, usage),
    // A plain JSON copy: the SDK's response object carries getters and headers.
    raw: () => JSON.parse(JSON.stringify({ ...response, sdkHttpResponse: undefined })) as unknown,
  };
}

/** The SDK's `.text`: the first candidate's non-thought text parts joined, undefined when there are none. */
export function textOf(response: GenerateContentResponse): string | undefined {
  const parts = response.candidates?.[0]?.content?.parts ?? [];
  const texts = parts.filter((part) => typeof part.text === 'string' && part.thought !== true).map((part) => part.text);
  return texts.length > 0 ? texts.join('') : undefined;
}

/** Why Gemini's answer cannot be used, before its text is read: a block, a safety or recitation stop, truncation, no text. */
function stopOf(response: GenerateContentResponse, text: string | undefined): ModelAnswer['stopped'] {
  const blockReason = response.promptFeedback?.blockReason;
  if (blockReason) return { category: 'safety_blocked', message: `prompt blocked: ${blockReason}` };
  const finishReason = response.candidates?.[0]?.finishReason ?? '';
  if (SAFETY_FINISH_REASONS.has(finishReason))
    return { category: 'safety_blocked', message: `output blocked: finishReason ${finishReason}` };
  if (finishReason === 'RECITATION') return { category: 'recitation', message: 'output stopped: RECITATION' };
  if (finishReason === 'MAX_TOKENS')
    return { category: 'truncated', message: `output truncated at maxOutputTokens (${text?.length ?? 0} characters)` };
  if (text === undefined || text.trim() === '')
    return { category: 'empty_response', message: `no text in the answer (finishReason ${finishReason || 'none'})` };
  return undefined;
}

function usageOf(response: GenerateContentResponse): Usage {
  const usage = response.usageMetadata;
  return {
    inputTokens: usage?.promptTokenCount ?? 0,
    outputTokens: usage?.candidatesTokenCount ?? 0,
    cachedTokens: usage?.cachedContentTokenCount ?? 0,
    thoughtsTokens: usage?.thoughtsTokenCount ?? 0,
  };
}
