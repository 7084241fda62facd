import type { FaultKind, FaultRule } from './faults';
import { DEFAULT_BLOCKING_RATINGS, DEFAULT_FLAGGED_RATINGS, safetyRatingsField } from './safety';
import type { SafetyRatingSpec } from './safety';
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

/** One candidate as the emulator sends it. */
interface Candidate {
  content?: { role: 'model'; parts?: Array<{ text: string }> };
  finishReason: string;
  index: number;
  safetyRatings?: SafetyRatingSpec[];
}

/** The body of an HTTP 200 generateContent answer. */
export interface GenerateAnswer {
  candidates?: Candidate[];
  promptFeedback?: { blockReason: string; safetyRatings?: SafetyRatingSpec[] };
  usageMetadata: Record<string, number>;
  modelVersion: string;
  responseId: string;
}

function usage(context: AnswerContext, candidatesTokenCount: number): Record<string, number> {
  const cached = context.cachedContentTokenCount;
  const base = {
    promptTokenCount: context.promptTokenCount,
    ...(cached === undefined ? {} : { cachedContentTokenCount: cached }),
  };
  // Google omits candidatesTokenCount when nothing was generated.
  return candidatesTokenCount === 0
    ? { ...base, totalTokenCount: context.promptTokenCount }
    : { ...base, candidatesTokenCount, totalTokenCount: context.promptTokenCount + candidatesTokenCount };
}

function envelope(
  context: AnswerContext,
  answer: Pick<GenerateAnswer, 'candidates' | 'promptFeedback'>,
  outputTokens: number,
): GenerateAnswer {
  return {
    ...answer,
    usageMetadata: usage(context, outputTokens),
    modelVersion: context.modelVersion,
    responseId: context.responseId,
  };
}

/** A candidate with text (STOP or MAX_TOKENS) carrying `ratings`; `[]` omits `safetyRatings`. */
export function textAnswer(
  context: AnswerContext,
  text: string,
  finishReason: 'STOP' | 'MAX_TOKENS',
  ratings: readonly SafetyRatingSpec[],
): GenerateAnswer {
  const candidate: Candidate = {
    content: { role: 'model', parts: [{ text }] },
    finishReason,
    index: 0,
    ...safetyRatingsField(ratings),
  };
  return envelope(context, { candidates: [candidate] }, countTextTokens(text));
}

/** A candidate without parts, as Google sends for blocked or stopped output: `response.text` is undefined. */
function partlessAnswer(
  context: AnswerContext,
  finishReason: string,
  ratings: readonly SafetyRatingSpec[],
): GenerateAnswer {
  return envelope(context, { candidates: [{ finishReason, index: 0, ...safetyRatingsField(ratings) }] }, 0);
}

/** A candidate that ends normally with no parts. */
function emptyAnswer(context: AnswerContext, rule: FaultRule): GenerateAnswer {
  const candidate: Candidate = {
    content: { role: 'model' },
    finishReason: 'STOP',
    index: 0,
    ...safetyRatingsField(rule.safetyRatings ?? []),
  };
  return envelope(context, { candidates: [candidate] }, 0);
}

/** The prompt itself was blocked: no candidates at all. */
function blockedPromptAnswer(context: AnswerContext, rule: FaultRule): GenerateAnswer {
  const promptFeedback = {
    blockReason: rule.blockReason ?? 'SAFETY',
    ...safetyRatingsField(rule.safetyRatings ?? DEFAULT_BLOCKING_RATINGS),
  };
  return envelope(context, { promptFeedback }, 0);
}

/** Faults whose HTTP 200 answer carries no model text at all. */
export type ContentFaultKind = Extract<
  FaultKind,
  'empty_response' | 'safety' | 'blocked_prompt' | 'recitation' | 'finish'
>;

/** One table: content fault → its answer, shaped by the rule's safetyRatings, finishReason and blockReason. */
export const answerForContentFault: Record<
  ContentFaultKind,
  (context: AnswerContext, rule: FaultRule) => GenerateAnswer
> = {
  empty_response: emptyAnswer,
  safety: (context, rule) => partlessAnswer(context, 'SAFETY', rule.safetyRatings ?? DEFAULT_BLOCKING_RATINGS),
  blocked_prompt: blockedPromptAnswer,
  recitation: (context, rule) => partlessAnswer(context, 'RECITATION', rule.safetyRatings ?? []),
  finish: (context, rule) => partlessAnswer(context, rule.finishReason ?? 'OTHER', rule.safetyRatings ?? []),
};

export function isContentFault(kind: FaultKind | undefined): kind is ContentFaultKind {
  return kind !== undefined && Object.hasOwn(answerForContentFault, kind);
}

/**
 * The ratings of a text answer: the rule's, else a `ratings` fault's default, else the emulator's
 * configured ones.
 */
export function textAnswerRatings(
  rule: FaultRule | undefined,
  configured: readonly SafetyRatingSpec[],
): readonly SafetyRatingSpec[] {
  return rule?.safetyRatings ?? (rule?.fault === 'ratings' ? DEFAULT_FLAGGED_RATINGS : configured);
}

/** A 200 body cut off mid-JSON. */
export const MALFORMED_BODY = '{"candidates": [{"content": {"role": "model", "parts": [{"text": "';
