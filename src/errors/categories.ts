/**
 * The one table that says how every failure is handled (pure: imported by workflows too).
 *
 * - `retry`: the activity throws a retryable ApplicationFailure and Temporal's activity retry
 *   policy calls the model again (same stage), honouring the suggested wait via `nextRetryDelay`.
 * - `fail`: the activity throws a non-retryable ApplicationFailure whose `type` is the category;
 *   the item ends failed.
 * - `stage`: the model answered but the answer is unusable; the activity returns it as data and
 *   the item workflow's stage logic decides (next stage, or fail when the plan is exhausted).
 * - `recover`: not retried by Temporal; the item recovers in the way `recovery` names, once
 *   (`retry_after_block`: one more try at the task's safety-retry temperature if it opted in, else
 *   the item ends `blocked`; `refresh_cache`: a fresh context cache, then the same stage again).
 */
export type RetryDecision = 'retry' | 'fail' | 'stage' | 'recover';

export type Recovery = 'retry_after_block' | 'refresh_cache';

export const ERROR_CATEGORIES = [
  'rate_limit',
  'quota_exhausted',
  'authentication',
  'permission_denied',
  'invalid_request',
  'context_too_long',
  'not_found',
  'server_error',
  'server_overload',
  'server_timeout',
  'network_error',
  'timeout',
  'validation_error',
  'empty_response',
  'safety_blocked',
  'recitation',
  'truncated',
  'cache_expired',
  'prompt_budget_exhausted',
  'post_process_rejected',
  'invalid_input',
  'unknown_task',
  'unknown',
] as const;

export type ErrorCategory = (typeof ERROR_CATEGORIES)[number];

export interface CategoryBehaviour {
  decision: RetryDecision;
  /** For `recover`: how. */
  recovery?: Recovery;
  /** What an operator should do about it. */
  hint: string;
}

export const CATEGORY_TABLE: Readonly<Record<ErrorCategory, CategoryBehaviour>> = {
  rate_limit: {
    decision: 'retry',
    hint: 'Per-minute quota hit; retried after the suggested delay. Lower concurrency or raise the quota.',
  },
  quota_exhausted: {
    decision: 'fail',
    hint: 'Daily quota exhausted; retrying today will not help. Raise the quota or resume tomorrow.',
  },
  authentication: {
    decision: 'fail',
    hint: "API key missing or invalid: check the provider's key on the workers (GEMINI_API_KEY; OPENAI_API_KEY or a named endpoint's <NAME>_API_KEY).",
  },
  permission_denied: { decision: 'fail', hint: 'The key has no access to this model or resource.' },
  invalid_request: {
    decision: 'fail',
    hint: 'The request was rejected as invalid; check the task settings (model, schema, generation config).',
  },
  context_too_long: {
    decision: 'fail',
    hint: "The prompt (with the answer's token allowance) is longer than the model's context window: shorten the item or its shared prefix, lower maxOutputTokens, or pick a model with a larger window.",
  },
  not_found: { decision: 'fail', hint: 'Model or resource not found; check the model name.' },
  server_error: { decision: 'retry', hint: 'Provider-side error (500 or a malformed response); retried.' },
  server_overload: { decision: 'retry', hint: 'Model overloaded (503); retried with backoff.' },
  server_timeout: { decision: 'retry', hint: 'Provider deadline exceeded (504); retried.' },
  network_error: { decision: 'retry', hint: 'Connection failed or was reset; retried.' },
  timeout: { decision: 'retry', hint: 'No answer within the call timeout; retried.' },
  validation_error: {
    decision: 'stage',
    hint: 'Output did not match the schema; the stage plan decides the next prompt.',
  },
  empty_response: { decision: 'stage', hint: 'The model returned no text.' },
  safety_blocked: {
    decision: 'recover',
    recovery: 'retry_after_block',
    hint: 'Blocked by safety filters (prompt or output); the item ends `blocked` with its ratings.',
  },
  recitation: { decision: 'stage', hint: 'Output stopped for recitation; a later stage may rephrase.' },
  truncated: { decision: 'stage', hint: 'Output hit maxOutputTokens; raise it or shorten the output schema.' },
  cache_expired: {
    decision: 'recover',
    recovery: 'refresh_cache',
    hint: 'The context cache expired or was deleted; a fresh cache is fetched.',
  },
  prompt_budget_exhausted: { decision: 'fail', hint: 'The item used its whole model-call budget.' },
  post_process_rejected: { decision: 'fail', hint: "The task's postProcess hook rejected the output; see its reason." },
  invalid_input: { decision: 'fail', hint: 'The batch or item input is invalid; fix it and start again.' },
  unknown_task: { decision: 'fail', hint: 'No worker knows this task; register it with the worker (--tasks).' },
  unknown: { decision: 'fail', hint: 'Unclassified error (often a bug); see the message and stack.' },
};

/** Failure types the activity retry policy must never retry: every category not marked `retry`. */
export const NON_RETRYABLE_ERROR_TYPES: readonly string[] = ERROR_CATEGORIES.filter(
  (category) => CATEGORY_TABLE[category].decision !== 'retry',
);

export function isErrorCategory(value: unknown): value is ErrorCategory {
  return typeof value === 'string' && (ERROR_CATEGORIES as readonly string[]).includes(value);
}
