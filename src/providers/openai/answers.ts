/** A chat completion as the engine reads it: text, stop reason, usage, metadata. */
import type { ChatCompletion } from 'openai/resources/chat/completions';
import type { CallMetadata, Usage } from '../../schemas';
import type { ModelAnswer } from '../types';

/**
 * `restore` undoes what strict mode made of optional properties; it is applied to answers that
 * parse, and only to usable ones.
 */
export function answerOf(
  completion: ChatCompletion,
  restore: (value: unknown) => unknown = (value) => value,
): ModelAnswer {
  const usage = usageOf(completion);
  const choice = completion.choices[0];
  const content = choice?.message.content ?? undefined;
  const stopped = stopOf(choice, content);
  return {
    text: stopped ? content : restored(content, restore),
    ...(stopped ? { stopped } : {}),
    usage,
    metadata: metadataOf(completion, usage),
    raw: () => JSON.parse(JSON.stringify(completion)) as unknown,
  };
}

function restored(text: string | undefined, restore: (value: unknown) => unknown): string | undefined {
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: the judge reports it as it is.
    return text;
  }
  return JSON.stringify(restore(parsed));
}

/** Why the answer cannot be used, before its text is read: a refusal, a filter, truncation, no text. */
function stopOf(choice: ChatCompletion.Choice | undefined, content: string | undefined): ModelAnswer['stopped'] {
  if (choice === undefined) return { category: 'empty_response', message: 'no choices in the answer' };
  const refusal = choice.message.refusal;
  if (refusal) return { category: 'safety_blocked', message: `the model refused: ${refusal}` };
  const finishReason: string = choice.finish_reason ?? '';
  if (finishReason === 'content_filter') {
    return { category: 'safety_blocked', message: 'output blocked: finish_reason content_filter' };
  }
  if (finishReason === 'length') {
    return {
      category: 'truncated',
      message: `output truncated at the max tokens limit (${content?.length ?? 0} characters)`,
    };
  }
  if (content === undefined || content.trim() === '') {
    return { category: 'empty_response', message: `no text in the answer (finish_reason ${finishReason || 'none'})` };
  }
  return undefined;
}

/**
 * OpenAI counts cached tokens inside `prompt_tokens` (as Gemini does) and reasoning tokens inside
 * `completion_tokens` (Gemini reports them apart): output is the completion without its reasoning.
 * DeepSeek reports cached tokens as `prompt_cache_hit_tokens`.
 */
function usageOf(completion: ChatCompletion): Usage {
  const usage = completion.usage;
  const reasoning = usage?.completion_tokens_details?.reasoning_tokens ?? 0;
  const deepSeekCached = (usage as { prompt_cache_hit_tokens?: unknown } | undefined)?.prompt_cache_hit_tokens;
  return {
    inputTokens: usage?.prompt_tokens ?? 0,
    outputTokens: Math.max((usage?.completion_tokens ?? 0) - reasoning, 0),
    cachedTokens:
      usage?.prompt_tokens_details?.cached_tokens ?? (typeof deepSeekCached === 'number' ? deepSeekCached : 0),
    thoughtsTokens: reasoning,
  };
}

/**
 * OpenAI's finish reasons in the words Gemini uses, so that a batch's summary, `status` and the
 * report count them together whatever the provider: stop → STOP, length → MAX_TOKENS,
 * content_filter → SAFETY; any other reason upper-cased (tool_calls → TOOL_CALLS).
 */
export function commonFinishReason(reason: string): string {
  const words: Record<string, string> = { stop: 'STOP', length: 'MAX_TOKENS', content_filter: 'SAFETY' };
  return words[reason] ?? reason.toUpperCase();
}

/** The compact record of one answer. OpenAI rates no safety categories: those stay empty. */
function metadataOf(completion: ChatCompletion, usage: Usage): CallMetadata {
  const reason = completion.choices[0]?.finish_reason;
  const finishReason = reason ? commonFinishReason(reason) : undefined;
  return {
    ...(finishReason ? { finishReason } : {}),
    safetyRatings: {},
    blockedCategories: [],
    ...(completion.model ? { modelVersion: completion.model } : {}),
    ...(completion.id ? { responseId: completion.id } : {}),
    usage,
  };
}
