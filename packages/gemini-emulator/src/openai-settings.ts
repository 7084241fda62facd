import { z } from 'zod';

/**
 * How the OpenAI-compatible chat-completions route (`POST /v1/chat/completions`) behaves beyond
 * what fault rules decide. A leaf module, so the control config can validate it without importing
 * the route.
 */
export interface OpenAISettings {
  /**
   * Answer every `response_format: {type: 'json_schema'}` request 400, as endpoints without
   * structured outputs do (a client can then fall back to `json_object`). Default false.
   */
  rejectJsonSchema?: boolean;
  /**
   * The model's context window: a request whose prompt tokens plus `max_tokens` exceed it is
   * answered 400 `context_length_exceeded`. Default: unlimited.
   */
  contextWindowTokens?: number;
  /** Reasoning tokens every answer reports (`completion_tokens_details.reasoning_tokens`, counted in `completion_tokens`). Default 0. */
  reasoningTokens?: number;
  /**
   * OpenAI's automatic prompt caching: a prompt of 1024 tokens or more whose prefix an earlier
   * request of the same model sent reports that prefix (in 128-token steps) as
   * `prompt_tokens_details.cached_tokens`. Default true.
   */
  promptCaching?: boolean;
}

export const openAISettingsSchema = z
  .object({
    rejectJsonSchema: z.boolean().optional(),
    contextWindowTokens: z.int().min(1).optional(),
    reasoningTokens: z.int().min(0).optional(),
    promptCaching: z.boolean().optional(),
  })
  .strict();
