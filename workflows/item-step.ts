/**
 * An item's stage machine as two pure functions (no @temporalio import): `nextCall` says what the
 * item does next — call the model at some stage, or end — and `afterCall` folds a call's outcome
 * into the state and names the action that follows. The item workflow is the loop that runs them.
 * Every decision comes from the category table (src/errors/categories.ts).
 */
import type { ItemState } from '../src/contract/states';
import { CATEGORY_TABLE, type ErrorCategory } from '../src/errors/categories';
import type { ItemError, Stage, ValidationIssue } from '../src/schemas';
import type { PartialState } from '../src/stages';

/** The machine's state: the item's (its `itemState` query answers it) and two private counters. */
export interface StepState extends ItemState {
  /** The stage at which the context cache was last replaced (once per stage). */
  cacheRefreshedAtStage: number;
  /** The task's one retry after a safety block, while it is unused. */
  safetyRetryTemperature: number | undefined;
}

/** What a model call came to, as the stage logic sees it. */
export type CallResult =
  | { kind: 'answer'; filtered: boolean }
  | {
      kind: 'unusable';
      category: ErrorCategory;
      message: string;
      validationIssues?: ValidationIssue[];
      partial?: PartialState;
    }
  | { kind: 'error'; error: ItemError };

export type NextCall = { kind: 'call'; stage: Stage; mode: 'full' | 'partial'; safetyRetry: boolean } | { kind: 'end' };

/** What follows a call: another turn of the loop, a fresh context cache first, or the end. */
export type Action = { kind: 'continue'; note?: string } | { kind: 'refreshCache' } | { kind: 'end' };

/** The call the item makes now, or its end when the plan or the call budget is spent (recorded as its error). */
export function nextCall(state: StepState): NextCall {
  if (state.status !== 'running') return { kind: 'end' };
  const planned = state.stagePlan[state.stage - 1];
  if (!planned) {
    const last = state.lastError ?? { category: 'validation_error' as const, message: 'no answer was judged' };
    fail(state, {
      ...last,
      message: `stage plan exhausted after ${state.stagePlan.length} stages (${state.modelCalls} model calls); the last answer: ${last.message}`,
    });
    return { kind: 'end' };
  }
  if (state.modelCalls >= state.maxModelCalls) {
    fail(state, {
      category: 'prompt_budget_exhausted',
      message: `model-call cap of ${state.maxModelCalls} reached at stage ${state.stage}${state.lastError ? `; last error ${state.lastError.category}: ${state.lastError.message}` : ''}`,
      ...(state.lastError?.validationIssues ? { validationIssues: state.lastError.validationIssues } : {}),
    });
    return { kind: 'end' };
  }
  // After a safety block the task may have opted into one more try at another temperature.
  const safetyRetry = state.retryAfterBlock === true && state.safetyRetryTemperature !== undefined;
  const stage = safetyRetry
    ? { ...planned, temperature: state.safetyRetryTemperature ?? planned.temperature }
    : planned;
  // A partial stage needs something to repair; after an unparseable answer it sends the full prompt.
  const mode = stage.mode === 'partial' && state.partial ? 'partial' : 'full';
  return { kind: 'call', stage, mode, safetyRetry };
}

/** Folds the outcome of the call `nextCall` asked for into the state; says what follows. */
export function afterCall(state: StepState, call: Extract<NextCall, { kind: 'call' }>, result: CallResult): Action {
  if (call.safetyRetry) {
    // That was the one retry a blocked answer gets.
    state.retryAfterBlock = false;
    state.safetyRetryTemperature = undefined;
  }
  if (result.kind === 'answer') {
    state.status = result.filtered ? 'filtered' : 'succeeded';
    return { kind: 'end' };
  }
  const error: ItemError =
    result.kind === 'error'
      ? result.error
      : {
          category: result.category,
          message: result.message,
          ...(result.validationIssues ? { validationIssues: result.validationIssues } : {}),
        };
  const behaviour = CATEGORY_TABLE[error.category];
  if (result.kind === 'unusable' && behaviour.decision === 'stage') {
    state.lastError = error;
    // An answer that parsed replaces the repair material; an unparseable one leaves the last.
    if (result.partial) state.partial = result.partial;
    state.stage += 1;
    return { kind: 'continue', note: `moves to stage ${state.stage} after ${error.category}` };
  }
  if (behaviour.decision === 'recover' && behaviour.recovery === 'retry_after_block') {
    state.lastError = error;
    if (state.safetyRetryTemperature !== undefined) {
      state.retryAfterBlock = true;
      return {
        kind: 'continue',
        note: `blocked by safety filters; the task allows one more try at temperature ${state.safetyRetryTemperature}`,
      };
    }
    state.status = 'blocked';
    return { kind: 'end' };
  }
  if (
    behaviour.decision === 'recover' &&
    behaviour.recovery === 'refresh_cache' &&
    state.cache &&
    state.cacheRefreshedAtStage !== state.stage
  ) {
    // The cache expired or was deleted behind our back: a fresh one from its owner, same stage, once.
    state.cacheRefreshedAtStage = state.stage;
    return { kind: 'refreshCache' };
  }
  fail(state, error);
  return { kind: 'end' };
}

export function fail(state: ItemState, error: ItemError): void {
  state.status = 'failed';
  state.lastError = error;
}
