import {
  ActivityFailure,
  ApplicationFailure,
  proxyActivities,
  setHandler,
  TimeoutFailure,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { RetryState } from '@temporalio/common';
import type { BatchActivities, CallModelOutput } from '../activities';
import type { CallFailureDetails } from '../activities/model-call';
import { CATEGORY_TABLE, isErrorCategory, NON_RETRYABLE_ERROR_TYPES, type ErrorCategory } from '../src/errors/categories';
import {
  addUsage,
  emptyUsage,
  ItemWorkflowInputSchema,
  type AttemptRecord,
  type ItemError,
  type ItemOutcome,
  type ItemResult,
  type ItemStatus,
  type ItemWorkflowInput,
  type Usage,
} from '../src/schemas';
import { ErrorCategorySearchAttribute, ItemStatusSearchAttribute, StageSearchAttribute } from '../src/search-attributes';
import { parseWorkflowInput } from './parse-input';
import { itemStateQuery } from './queries';

/** Live state of one item; the workflow's local variables are the whole retry state. */
export interface ItemState {
  status: 'running' | ItemStatus;
  stage: number;
  modelCalls: number;
  usage: Usage;
  attempts: AttemptRecord[];
  lastError?: ItemError;
}

const { recordItemResult } = proxyActivities<BatchActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

/** One work item: call the model (Temporal retries transient failures), validate, record the result. */
export async function itemWorkflow(rawInput: ItemWorkflowInput): Promise<ItemOutcome> {
  const input = parseWorkflowInput(ItemWorkflowInputSchema, rawInput, 'item workflow input');
  const startedAt = new Date(workflowInfo().startTime).toISOString();
  const model = input.model;
  const state: ItemState = { status: 'running', stage: 1, modelCalls: 0, usage: emptyUsage(), attempts: [] };
  setHandler(itemStateQuery, () => state);

  let output: unknown;
  const temperature = input.options.generation?.temperature;
  const remainingCalls = input.options.maxModelCalls - state.modelCalls;
  const call = await callModelOnce(input, model, remainingCalls, state.stage);
  state.modelCalls += call.modelCalls;
  state.attempts.push(...call.attempts.map((attempt) => ({ ...attempt, stage: state.stage, model, temperature })));
  if (call.answer) state.usage = addUsage(state.usage, call.answer.usage);
  if (call.answer?.kind === 'ok') {
    output = call.answer.output;
    state.status = 'succeeded';
  } else {
    state.status = 'failed';
    state.lastError = call.error ?? { category: 'unknown', message: 'model call ended without an answer or an error' };
  }

  const finishedAt = new Date().toISOString();
  const result: ItemResult = {
    batchId: input.batchId,
    itemId: input.item.id,
    index: input.item.index,
    status: state.status,
    ...(output !== undefined ? { output } : {}),
    ...(state.lastError ? { error: state.lastError } : {}),
    model,
    usage: state.usage,
    modelCalls: state.modelCalls,
    attempts: state.attempts,
    startedAt,
    finishedAt,
    durationMs: Date.parse(finishedAt) - Date.parse(startedAt),
  };
  await recordItemResult(result);
  upsertSearchAttributes([
    { key: ItemStatusSearchAttribute, value: state.status },
    { key: StageSearchAttribute, value: state.stage },
    ...(state.lastError ? [{ key: ErrorCategorySearchAttribute, value: state.lastError.category }] : []),
  ]);
  return {
    itemId: result.itemId,
    index: result.index,
    status: result.status,
    ...(state.lastError ? { category: state.lastError.category } : {}),
    usage: result.usage,
    modelCalls: result.modelCalls,
    durationMs: result.durationMs,
  };
}

type AttemptDraft = Omit<AttemptRecord, 'stage' | 'model' | 'temperature'>;

interface CallOutcome {
  answer?: CallModelOutput;
  error?: ItemError;
  modelCalls: number;
  attempts: AttemptDraft[];
}

/**
 * One logical call: Temporal's retry policy retries transient failures up to the item's
 * remaining call budget; each physical call is accounted in the attempt log.
 */
async function callModelOnce(input: ReturnType<typeof ItemWorkflowInputSchema.parse>, model: string, remainingCalls: number, stage: number): Promise<CallOutcome> {
  const activities = proxyActivities<BatchActivities>({
    // The SDK aborts a hung request at callTimeoutMs; Temporal's timeout is the backstop.
    startToCloseTimeout: input.options.callTimeoutMs + 5_000,
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      maximumAttempts: remainingCalls,
      nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES],
    },
  });
  const startedAt = new Date().toISOString();
  try {
    const answer = await activities.callModel.executeWithOptions(
      {
        startToCloseTimeout: input.options.callTimeoutMs + 5_000,
        summary: `stage ${stage}: ${model} t=${input.options.generation?.temperature ?? 'default'}`,
      },
      [
        {
          batchId: input.batchId,
          itemId: input.item.id,
          taskName: input.taskName,
          item: input.item,
          model,
          generation: input.options.generation ?? {},
          callTimeoutMs: input.options.callTimeoutMs,
        },
      ],
    );
    const attempts: AttemptDraft[] = answer.previousFailures.map((failure) => ({
      call: failure.attempt,
      mode: 'full',
      startedAt,
      durationMs: failure.durationMs,
      usage: emptyUsage(),
      outcome: failure.category,
      message: failure.message,
    }));
    attempts.push({
      call: answer.activityAttempt,
      mode: 'full',
      startedAt,
      durationMs: answer.durationMs,
      usage: answer.usage,
      outcome: answer.kind === 'ok' ? 'ok' : answer.category,
      ...(answer.kind === 'unusable' ? { message: answer.message } : {}),
    });
    if (answer.kind === 'ok') return { answer, modelCalls: answer.activityAttempt, attempts };
    return {
      answer,
      modelCalls: answer.activityAttempt,
      attempts,
      error: {
        category: answer.category,
        message: answer.message,
        ...(answer.validationIssues ? { validationIssues: answer.validationIssues } : {}),
      },
    };
  } catch (error) {
    return describeCallFailure(error, remainingCalls, startedAt);
  }
}

function describeCallFailure(error: unknown, remainingCalls: number, startedAt: string): CallOutcome {
  if (!(error instanceof ActivityFailure)) throw error;
  const cause = error.cause;
  let category: ErrorCategory = 'unknown';
  let message = cause?.message ?? error.message;
  let failures: CallFailureDetails['failures'] = [];
  if (cause instanceof ApplicationFailure) {
    if (isErrorCategory(cause.type)) category = cause.type;
    const details = cause.details?.[0] as CallFailureDetails | undefined;
    failures = details?.failures ?? [];
  } else if (cause instanceof TimeoutFailure) {
    category = 'timeout';
    message = `model call exceeded its timeout (${cause.timeoutType})`;
  }
  const budgetSpent = error.retryState === RetryState.MAXIMUM_ATTEMPTS_REACHED && CATEGORY_TABLE[category].decision === 'retry';
  const modelCalls = budgetSpent ? remainingCalls : Math.max(failures.length, 1);
  const attempts: AttemptDraft[] = failures.map((failure) => ({
    call: failure.attempt,
    mode: 'full',
    startedAt,
    durationMs: failure.durationMs,
    usage: emptyUsage(),
    outcome: failure.category,
    message: failure.message,
  }));
  const finalCategory: ErrorCategory = budgetSpent ? 'prompt_budget_exhausted' : category;
  const finalMessage = budgetSpent ? `model-call budget of ${remainingCalls} spent; last error ${category}: ${message}` : message;
  return { modelCalls, attempts, error: { category: finalCategory, message: finalMessage } };
}
