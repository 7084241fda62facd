/**
 * One stage's model call as the item workflow makes it: `callOnce` sends the stage's request
 * within the item's remaining call budget and returns what the stage machine reads (an answer or
 * an error) plus the attempt records of every request sent. With `callMode: local-first` the
 * item's first call is a local activity, run by this item's worker inside its workflow task (the
 * common case — one good answer — then costs one workflow task and no activity dispatch); a
 * transient failure, or a quota scope that wants calls to wait, hands over to the regular
 * activity after the wait the retry policy would have made (the provider's suggested delay, else 1 s).
 */
import { condition, proxyActivities, proxyLocalActivities, sleep, workflowInfo } from '@temporalio/workflow';
import type { z } from 'zod';
import type { BatchActivities, CallModelInput, CallModelOutput } from '../activities';
import type { FailedCall } from '../activities/call-ledger';
import { LOST_IN_CRASH, modelCallsTaskQueue } from '../src/constants';
import { NON_RETRYABLE_ERROR_TYPES } from '../src/errors/categories';
import { answeredAttempts, failedAttempt, type AttemptContext, type FinishIfValid } from '../src/item-record';
import { priceFor } from '../src/pricing';
import type { AttemptRecord, ItemError, ItemWorkflowInputSchema, Stage } from '../src/schemas';
import { describeFailure, outcomeOf } from './call-failure';
import type { CallResult, StepState } from './item-step';

type Input = z.output<typeof ItemWorkflowInputSchema>;

/** What one stage's call brought: an answer or an error, and the requests it sent. */
export interface StageCall {
  answer?: CallModelOutput;
  error?: ItemError;
  modelCalls: number;
  attempts: AttemptRecord[];
  /** The call wrote the item's record (its valid answer ended the item): what it told the call. */
  finish?: FinishIfValid;
}

/** See callModel's heartbeat: cancellations arrive within about 80 % of this. */
const CALL_HEARTBEAT_TIMEOUT_MS = 5_000;
/** How long a model call may wait for its quota scope before it starts. */
const ADMISSION_ALLOWANCE_MS = 10 * 60_000;
/** The wait before the regular activity takes over from a failed local call (the retry policy's first interval). */
const FIRST_RETRY_DELAY_MS = 1_000;
/** WorkflowExecutionStarted, WorkflowTaskScheduled, WorkflowTaskStarted. */
const FIRST_TASK_HISTORY_LENGTH = 3;

/**
 * The stage's call. Temporal's retry policy repeats transient failures (a 429 included) within
 * the item's remaining call budget, so they never advance the stage.
 */
export async function callOnce(
  input: Input,
  state: StepState,
  stage: Stage,
  mode: 'full' | 'partial',
  itemStartedAt: string,
): Promise<StageCall> {
  const model = stage.model ?? input.model;
  const remainingCalls = state.maxModelCalls - state.modelCalls;
  // A cache serves only the model it was made for, and only the full prompt.
  const cachedContent = mode === 'full' && state.cache?.model === model ? state.cache.name : undefined;
  const record = attemptRecorder(input, state, { mode, model, temperature: stage.temperature, cachedContent });
  const request: CallModelInput = {
    batchId: input.batchId,
    itemId: input.item.id,
    taskName: input.taskName,
    item: input.item,
    model,
    generation: { ...input.options.generation, ...stage.generation, temperature: stage.temperature },
    callTimeoutMs: input.options.callTimeoutMs,
    stage: state.stage,
    mode,
    ...(mode === 'partial' && state.partial ? { partial: state.partial } : {}),
    ...(cachedContent ? { cachedContent } : {}),
    maxCalls: remainingCalls,
    ...(input.adaptiveRate ? { adaptiveRate: true } : {}),
    ...(input.options.provider ? { provider: input.options.provider } : {}),
  };
  const summary = `stage ${state.stage} ${mode} t=${stage.temperature} ${model}`;

  let priorFailures: FailedCall[] = [];
  // Only the item's first call: a local activity's result is recorded when the workflow task
  // ends, so a crash may repeat the one call in flight, never a finished stage.
  if (input.options.callMode === 'local-first' && state.modelCalls === 0) {
    // Requests lost with a crashed worker go in the local call's input only (which replay does
    // not check); what happens next follows from its recorded result alone.
    const lost = lostLocalCalls();
    const { callModel, endsAtDeadline } = localCallModel(input, summary);
    // A valid answer ends the item unless a post-processing hook has a say: the call records it.
    const finish: FinishIfValid | undefined = input.traits?.postProcess
      ? undefined
      : { index: input.item.index, itemModel: input.model, itemStartedAt, attempt: record.context };
    const local = await outcomeOf(
      callModel({
        ...request,
        ...(lost.length > 0 ? { priorFailures: lost } : {}),
        ...(finish ? { finishIfValid: finish } : {}),
      }),
    );
    if (local.answer?.kind === 'deferred') priorFailures = local.answer.failures ?? [];
    else if (local.answer)
      return { ...record.answered(local.answer), ...(finish && local.answer.recorded ? { finish } : {}) };
    else {
      const failure = describeFailure(local.failure);
      // The item's deadline cut the call: its timer, delivered with the next workflow task,
      // cancels this scope and the item ends deadline_exceeded (not retried, not out of budget).
      if (endsAtDeadline && failure.timedOut) await condition(() => false);
      // A local activity that timed out at Temporal's level had sent its request; one that failed
      // before sending (the task's prompt builder threw, say) sent none.
      const sent =
        failure.failures.length > 0 || !failure.timedOut ? failure.failures : [record.timedOutRequest(failure)];
      const outOfBudget = sent.length >= remainingCalls;
      if (!failure.retryable || failure.budgetSpent || outOfBudget) return record.failed(failure, sent, outOfBudget);
      priorFailures = sent;
      await sleep(failure.retryDelayMs ?? FIRST_RETRY_DELAY_MS);
    }
  }
  const handedOver = priorFailures.length > 0;
  const remote = await outcomeOf(
    activityCallModel(input, summary, handedOver)({ ...request, ...(handedOver ? { priorFailures } : {}) }),
  );
  if (remote.answer === undefined) return record.failed(describeFailure(remote.failure), priorFailures);
  if (remote.answer.kind === 'deferred') {
    // Only a local activity defers; a regular one waits for its quota scope.
    return record.error(priorFailures, {
      category: 'unknown',
      message: `a regular model-call activity deferred (${remote.answer.reason})`,
    });
  }
  return record.answered(remote.answer);
}

/** A stage call as the stage machine reads it. */
export function resultOf(call: StageCall): CallResult {
  if (call.answer?.kind === 'ok') return { kind: 'answer', filtered: call.answer.filteredBy !== undefined };
  if (call.answer?.kind === 'unusable') {
    const { category, message, validationIssues, partial } = call.answer;
    return {
      kind: 'unusable',
      category,
      message,
      ...(validationIssues ? { validationIssues } : {}),
      ...(partial ? { partial } : {}),
    };
  }
  return {
    kind: 'error',
    error: call.error ?? { category: 'unknown', message: 'model call ended without an answer or an error' },
  };
}

/** Builds the stage's StageCall and its attempt records (one per request sent, priced when the model has a price). */
function attemptRecorder(
  input: Input,
  state: StepState,
  call: { mode: 'full' | 'partial'; model: string; temperature: number; cachedContent: string | undefined },
) {
  const startedAt = new Date().toISOString();
  const context: AttemptContext = {
    callsBefore: state.modelCalls,
    stage: state.stage,
    mode: call.mode,
    model: call.model,
    temperature: call.temperature,
    cachedContent: call.cachedContent,
    startedAt,
    price: priceFor(call.model, input.options.prices),
  };
  const error = (sent: FailedCall[], itemError: ItemError): StageCall => ({
    modelCalls: sent.length,
    attempts: sent.map((failure) => failedAttempt(context, failure)),
    error: itemError,
  });
  return {
    context,
    answered(answer: CallModelOutput): StageCall {
      return { answer, modelCalls: answer.activityAttempt, attempts: answeredAttempts(context, answer) };
    },
    error,
    /** The stage's requests ended in a failure: non-retryable, or the call budget spent. Every request listed was sent. */
    failed(failure: ReturnType<typeof describeFailure>, priorFailures: FailedCall[], outOfBudget = false): StageCall {
      const budgetSpent = failure.budgetSpent || (outOfBudget && failure.retryable);
      const sent = failure.failures.length > 0 ? failure.failures : priorFailures;
      const { category, message } = failure;
      return error(
        sent,
        budgetSpent
          ? {
              category: 'prompt_budget_exhausted',
              message: `model-call cap of ${state.maxModelCalls} reached at stage ${state.stage}; last error ${category}: ${message}`,
            }
          : { category, message },
      );
    },
    /** A request Temporal timed out: sent, its answer never recorded. */
    timedOutRequest(failure: ReturnType<typeof describeFailure>): FailedCall {
      return {
        attempt: 1,
        category: failure.category,
        message: failure.message,
        durationMs: Date.now() - Date.parse(startedAt),
      };
    },
  };
}

/**
 * Requests an earlier workflow task of this item may have sent with its local call and never
 * recorded: that task's worker died (or its task timed out) mid-call. The item's first workflow
 * task makes the first call, so it runs at history length 3; each lost task adds 3 events, and a
 * call that outlived a task heartbeat before its worker died is seen while replaying (at most one
 * such loss is counted). In a plain replay the call has its recorded result and this is unused.
 */
function lostLocalCalls(): FailedCall[] {
  const info = workflowInfo();
  const lost = info.unsafe.isReplaying
    ? 1
    : Math.max(0, Math.floor((info.historyLength - FIRST_TASK_HISTORY_LENGTH) / 3));
  return Array.from({ length: lost }, (_, index) => ({
    attempt: index + 1,
    category: LOST_IN_CRASH,
    message: 'an earlier workflow task sent this request, but its worker stopped before the answer was recorded',
    durationMs: 0,
  }));
}

/**
 * The stage's first call as a local activity: no retries of its own (the regular activity does
 * them), and cut at the item deadline, which this workflow task could otherwise only see once the
 * call ends (a local activity holds the task).
 */
function localCallModel(
  input: Input,
  summary: string,
): { callModel: BatchActivities['callModel']; endsAtDeadline: boolean } {
  const itemDeadlineMs = input.options.itemDeadlineMs;
  const untilDeadlineMs =
    itemDeadlineMs === undefined ? Infinity : itemDeadlineMs - (Date.now() - workflowInfo().startTime.getTime());
  const ownTimeoutMs = input.options.callTimeoutMs + 5_000;
  const { callModel } = proxyLocalActivities<BatchActivities>({
    startToCloseTimeout: Math.max(1, Math.min(ownTimeoutMs, untilDeadlineMs)),
    retry: { maximumAttempts: 1 },
    summary,
  });
  return { callModel, endsAtDeadline: untilDeadlineMs < ownTimeoutMs };
}

/**
 * The model call as a regular activity on the model-call queue. Temporal retries it without a
 * cap on attempts: the activity counts the requests it sends against `maxCalls` and stops there,
 * so an attempt that never reached the model (a dead worker, a quota scope that did not answer)
 * costs the item nothing.
 */
function activityCallModel(input: Input, summary: string, afterLocalFailure: boolean): BatchActivities['callModel'] {
  return proxyActivities<BatchActivities>({
    // Model calls have a task queue of their own, so workers can size their slots apart.
    taskQueue: modelCallsTaskQueue(workflowInfo().taskQueue),
    // The SDK aborts a hung request at callTimeoutMs; Temporal's timeout is the backstop. The
    // call may first wait for its quota scope (admission, 429 cooldown), heartbeating.
    startToCloseTimeout: input.options.callTimeoutMs + ADMISSION_ALLOWANCE_MS + 5_000,
    // callModel heartbeats while it waits: a dead worker is noticed in seconds, and a
    // cancellation (deadline, batch cancel) reaches the request promptly.
    heartbeatTimeout: CALL_HEARTBEAT_TIMEOUT_MS,
    summary,
    retry: {
      // After a failed local call the workflow already waited the first interval.
      initialInterval: afterLocalFailure ? FIRST_RETRY_DELAY_MS * 2 : FIRST_RETRY_DELAY_MS,
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES],
    },
  }).callModel;
}
