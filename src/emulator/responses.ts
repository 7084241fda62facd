import type { FaultKind } from './faults';
import { countTextTokens } from './tokens';

/** What every HTTP 200 answer carries besides its candidates. */
export interface AnswerContext {
  modelVersion: string;
  responseId: string;
  /** Includes the cache's tokens when the request used one. */
  promptTokenCount: number;
  /** Tokens read from the request's context cache; absent without one. */
  cachedContentTokenCount?: number;
}

const HARM_CATEGORIES = [
  'HARM_CATEGORY_HARASSMENT',
  'HARM_CATEGORY_HATE_SPEECH',
  'HARM_CATEGORY_SEXUALLY_EXPLICIT',
  'HARM_CATEGORY_DANGEROUS_CONTENT',
] as const;

type SafetyRating = { category: string; probability: string; blocked?: boolean };

function safetyRatings(blockedCategory?: string): SafetyRating[] {
  return HARM_CATEGORIES.map((category) =>
    category === blockedCategory
      ? { category, probability: 'HIGH', blocked: true }
      : { category, probability: 'NEGLIGIBLE' },
  );
}

function usage(context: AnswerContext, candidatesTokenCount: number): Record<string, number> {
  const cached = context.cachedContentTokenCount;
  const base = { promptTokenCount: context.promptTokenCount, ...(cached === undefined ? {} : { cachedContentTokenCount: cached }) };
  // Google omits candidatesTokenCount when nothing was generated.
  return candidatesTokenCount === 0
    ? { ...base, totalTokenCount: context.promptTokenCount }
    : { ...base, candidatesTokenCount, totalTokenCount: context.promptTokenCount + candidatesTokenCount };
}

function envelope(context: AnswerContext, candidates: unknown[] | undefined, outputTokens: number, extra = {}) {
  return {
    ...(candidates === undefined ? {} : { candidates }),
    ...extra,
    usageMetadata: usage(context, outputTokens),
    modelVersion: context.modelVersion,
    responseId: context.responseId,
  };
}

/** A candidate with text (STOP or MAX_TOKENS). */
export function textAnswer(context: AnswerContext, text: string, finishReason: 'STOP' | 'MAX_TOKENS') {
  const candidate = {
    content: { role: 'model', parts: [{ text }] },
    finishReason,
    index: 0,
    safetyRatings: safetyRatings(),
  };
  return envelope(context, [candidate], countTextTokens(text));
}

/** A candidate that ends normally with no parts: `response.text` is undefined. */
function emptyAnswer(context: AnswerContext) {
  return envelope(context, [{ content: { role: 'model' }, finishReason: 'STOP', index: 0 }], 0);
}

/** Output blocked by safety filters. */
function safetyBlockedAnswer(context: AnswerContext) {
  const candidate = { finishReason: 'SAFETY', index: 0, safetyRatings: safetyRatings('HARM_CATEGORY_DANGEROUS_CONTENT') };
  return envelope(context, [candidate], 0);
}

/** Output stopped for reciting training data. */
function recitationAnswer(context: AnswerContext) {
  return envelope(context, [{ finishReason: 'RECITATION', index: 0 }], 0);
}

/** The prompt itself was blocked: no candidates at all. */
function blockedPromptAnswer(context: AnswerContext) {
  const promptFeedback = { blockReason: 'SAFETY', safetyRatings: safetyRatings('HARM_CATEGORY_DANGEROUS_CONTENT') };
  return envelope(context, undefined, 0, { promptFeedback });
}

/** Faults whose HTTP 200 answer carries no model text at all. */
export type ContentFaultKind = Extract<FaultKind, 'empty_response' | 'safety' | 'blocked_prompt' | 'recitation'>;

export const answerForContentFault: Record<ContentFaultKind, (context: AnswerContext) => object> = {
  empty_response: emptyAnswer,
  safety: safetyBlockedAnswer,
  blocked_prompt: blockedPromptAnswer,
  recitation: recitationAnswer,
};

export function isContentFault(kind: FaultKind | undefined): kind is ContentFaultKind {
  return kind !== undefined && Object.hasOwn(answerForContentFault, kind);
}

/** A 200 body cut off mid-JSON. */
export const MALFORMED_BODY = '{"candidates": [{"content": {"role": "model", "parts": [{"text": "';
