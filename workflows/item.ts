import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  metricMeter,
  sleep,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  TimeoutFailure,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { z } from 'zod';
import type { BatchActivities, CallModelInput, CallModelOutput, DeferredCall } from '../activities';
import type { CallFailureDetails, FailedCall } from '../activities/model-call';
import { CATEGORY_TABLE, isErrorCategory, NON_RETRYABLE_ERROR_TYPES, type ErrorCategory } from '../src/errors/categories';
import { addUsage, emptyUsage } from '../src/usage';
import type {
  AttemptRecord,
  ItemError,
  ItemOutcome,
  ItemResult,
  ItemStatus,
  ItemWorkflowInput,
  ItemWorkflowInputSchema,
  Stage,
} from '../src/schemas';
import { ErrorCategorySearchAttribute, ItemStatusSearchAttribute, StageSearchAttribute } from '../src/search-attributes';
import { LOST_IN_CRASH, modelCallsTaskQueue } from '../src/constants';
import { priceFor, roundUsd, usageCost } from '../src/pricing';
import { DEFAULT_STAGE_PLAN } from '../src/stages';
import { endingOf, itemOutcomeOf } from './item-result';
import { afterCall, fail, nextCall, type CallResult, type StepState } from './item-step';
import { cacheNameSignal, itemStateQuery } from '../src/contract/messages';
import type { ItemState } from '../src/contract/states';


const { refreshCache } = proxyActivities<BatchActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

/** The task's hook heartbeats while it runs (activities/post-process.ts): a dead worker's hook runs again within seconds. */
const { postProcessItem } = proxyActivities<BatchActivities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

/**
 * One append to the results sink, as a local activity: it runs in the worker that runs this
 * workflow, saving a workflow task and a server round trip per item. The sink is idempotent by
 * item id, so a re-run after a crash never duplicates a line.
 */
const { recordItemResult } = proxyLocalActivities<BatchActivities>({
  startToCloseTimeout: '20 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
  summary: 'record the item result',
});

type Input = z.output<typeof ItemWorkflowInputSchema>;

/** See callModel's heartbeat: cancellations arrive within about 80 % of this. */
const CALL_HEARTBEAT_TIMEOUT_MS = 5_000;
/** How long a model call may wait for its quota scope before it starts. */
const ADMISSION_ALLOWANCE_MS = 10 * 60_000;

/**
 * One work item through its stage plan: validation failures move to the next stage (full or
 * partial prompt, its temperature and model); transient failures repeat the same stage through
 * the activity's retry policy; the model-call cap bounds everything.
 */
export async function itemWorkflow(rawInput: ItemWorkflowInput): Promise<ItemOutcome> {
  // Built by the batch workflow from its checked input (checkBatchInput), defaults applied: not
  // parsed again here, which would put zod in every item workflow (see src/usage.ts).
  const input = rawInput as Input;
  const startedAt = new Date(workflowInfo().startTime).toISOString();
  const state: StepState = {
    status: 'running',
    stage: 1,
    stagePlan: input.options.stagePlan ?? DEFAULT_STAGE_PLAN,
    modelCalls: 0,
    maxModelCalls: input.options.maxModelCalls,
    usage: emptyUsage(),
    attempts: [],
    cache: input.cache,
    cacheRefreshedAtStage: 0,
    safetyRetryTemperature: input.traits?.safetyRetryTemperature,
  };
  setHandler(itemStateQuery, () => state);

  // The stages run in their own scope: the item deadline, or the batch cancelling the item,
  // cancels it (and the model call in flight); the result is still recorded, once.
  const work = new CancellationScope();
  let deadlineHit = false;
  const itemDeadlineMs = input.options.itemDeadlineMs;
  // Only an item with a deadline gets the scope (each scope and promise costs the worker a stack trace).
  const deadlineScope = itemDeadlineMs !== undefined ? new CancellationScope() : undefined;
  if (deadlineScope && itemDeadlineMs !== undefined) {
    deadlineScope
      .run(() => sleep(itemDeadlineMs))
      .then(
        () => {
          deadlineHit = true;
          work.cancel();
        },
        () => undefined, // the item finished first and cancelled its deadline timer
      );
  }
  let outcome: StagesOutcome = {};
  try {
    outcome = await work.run(() => runStages(input, state));
  } catch (error) {
    if (!isCancellation(error)) throw error;
    state.status = deadlineHit ? 'deadline_exceeded' : 'cancelled';
    state.stopReason = deadlineHit ? `item deadline of ${itemDeadlineMs} ms passed at stage ${state.stage}` : 'cancelled by its batch';
  } finally {
    deadlineScope?.cancel();
  }
  return CancellationScope.nonCancellable(() => finishItem(input, state, outcome, startedAt));
}

interface StagesOutcome {
  output?: unknown;
  accepted?: CallModelOutput;
  lastAnswer?: CallModelOutput;
}

/** The stage machine (workflows/item-step.ts) run: a call, its outcome folded in, until the item ends. */
async function runStages(input: Input, state: StepState): Promise<StagesOutcome> {
  let output: unknown;
  let accepted: CallModelOutput | undefined;
  let lastAnswer: CallModelOutput | undefined;
  for (let next = nextCall(state); next.kind === 'call'; next = nextCall(state)) {
    // The batch starts every item with Stage 1; later stages are worth an event each.
    if (state.stage > 1) upsertSearchAttributes([{ key: StageSearchAttribute, value: state.stage }]);
    const call = await callStage(input, next.stage, next.mode, state);
    state.modelCalls += call.modelCalls;
    state.attempts.push(...call.attempts);
    if (call.answer) {
      state.usage = addUsage(state.usage, call.answer.usage);
      lastAnswer = call.answer;
    }
    if (call.answer?.kind === 'ok') {
      output = call.answer.output;
      accepted = call.answer;
    }
    const action = afterCall(state, next, resultOf(call));
    if (action.kind === 'continue' && action.note) log.info(`item ${action.note}`, { itemId: input.item.id });
    if (action.kind === 'refreshCache') await useFreshCache(input, state);
  }

  if (output !== undefined && accepted && input.traits?.postProcess) {
    const decision = await postProcessItem({ batchId: input.batchId, taskName: input.taskName, item: input.item, output, metadata: accepted.metadata });
    if ('reject' in decision) fail(state, { category: 'post_process_rejected', message: decision.reject });
    else if (decision.output !== undefined) output = decision.output;
  }
  return { output, ...(accepted ? { accepted } : {}), ...(lastAnswer ? { lastAnswer } : {}) };
}

/** A stage call as the stage machine reads it. */
function resultOf(call: StageCall): CallResult {
  if (call.answer?.kind === 'ok') return { kind: 'answer', filtered: call.answer.filteredBy !== undefined };
  if (call.answer?.kind === 'unusable') {
    const { category, message, validationIssues, partial } = call.answer;
    return { kind: 'unusable', category, message, ...(validationIssues ? { validationIssues } : {}), ...(partial ? { partial } : {}) };
  }
  return { kind: 'error', error: call.error ?? { category: 'unknown', message: 'model call ended without an answer or an error' } };
}

function finishItem(input: Input, state: ItemState, outcome: StagesOutcome, startedAt: string): Promise<ItemOutcome> {
  return finish(input, state, outcome.output, startedAt, outcome.accepted ?? outcome.lastAnswer);
}

async function useFreshCache(input: Input, state: ItemState): Promise<void> {
  const stale = state.cache;
  if (!stale) return;
  const grant = await refreshCache({ ownerWorkflowId: stale.ownerWorkflowId, batchId: input.batchId, staleName: stale.name });
  state.cache = grant.status === 'ready' ? { ...stale, name: grant.name } : undefined;
  log.info('context cache refreshed', { itemId: input.item.id, stale: stale.name, grant });
  const parent = workflowInfo().parent;
  if (parent && grant.status === 'ready' && grant.name !== stale.name) {
    await getExternalWorkflowHandle(parent.workflowId, parent.runId).signal(cacheNameSignal, { name: grant.name });
  }
}

async function finish(input: Input, state: ItemState, output: unknown, startedAt: string, answer: CallModelOutput | undefined): Promise<ItemOutcome> {
  const finishedAt = new Date().toISOString();
  const status: ItemStatus = state.status === 'running' ? 'failed' : state.status;
  const error = status === 'failed' || status === 'blocked' ? state.lastError : undefined;
  const metadata = answer?.metadata;
  const offered: ItemResult = {
    batchId: input.batchId,
    itemId: input.item.id,
    index: input.item.index,
    status,
    ...(output !== undefined ? { output } : {}),
    ...(error ? { error } : {}),
    ...(metadata ? { metadata } : {}),
    ...(status === 'filtered' && answer?.filteredBy ? { filteredBy: answer.filteredBy } : {}),
    ...(answer?.rawResponse !== undefined ? { rawResponse: answer.rawResponse } : {}),
    ...(state.stopReason ? { stopReason: state.stopReason } : {}),
    model: input.model,
    usage: state.usage,
    costUsd: roundUsd(state.attempts.reduce((sum, attempt) => sum + (attempt.costUsd ?? 0), 0)),
    modelCalls: state.modelCalls,
    attempts: state.attempts,
    startedAt,
    finishedAt,
    durationMs: Date.parse(finishedAt) - Date.parse(startedAt),
  };
  // The results store is where an item's end is committed: the first record written is final. A
  // workflow task that wrote a record and then failed (a cancel racing the answer, say) is retried
  // and may reach another end; it then reports the committed one, so the results, this workflow's
  // result and search attributes, and the batch's counts all tell one story.
  const { kept } = await recordItemResult(offered);
  const outcome = itemOutcomeOf(kept ?? offered);
  if (kept) log.info('the results store already held another record of this item; reporting that one', { itemId: outcome.itemId, committed: kept.status, offered: status });
  // Emitted once, not on replay (the SDK's workflow meter skips replays).
  metricMeter.createCounter('batch_llm_items', 'items', 'Items by terminal status').add(1, { task: input.taskName, status: outcome.status, ...(outcome.category ? { category: outcome.category } : {}) });
  upsertSearchAttributes([
    { key: ItemStatusSearchAttribute, value: outcome.status },
    ...(outcome.category ? [{ key: ErrorCategorySearchAttribute, value: outcome.category }] : []),
  ]);
  const ending = endingOf(outcome);
  // An item that did not succeed fails its workflow (red in the Web UI's list, with the reason);
  // the batch reads the outcome from the failure's details and counts it like any other.
  if (!ending.completes) throw ApplicationFailure.create({ type: ending.type, message: ending.message, nonRetryable: true, details: [outcome] });
  return outcome;
}

interface StageCall {
  answer?: CallModelOutput;
  error?: ItemError;
  modelCalls: number;
  attempts: AttemptRecord[];
}

/** Why a model-call activity failed: the activity's own error. */
interface CallFailure {
  cause: Error | undefined;
}

/** A call's outcome as the stage logic sees it: an answer (or a deferral), or the activity's failure. */
type CallOutcome = { answer: CallModelOutput | DeferredCall; failure?: never } | { failure: CallFailure; answer?: never };

/** Waits for a call; cancellation (item deadline, batch cancel) is not a failure of the call and goes through. */
async function outcomeOf(call: Promise<CallModelOutput | DeferredCall>): Promise<CallOutcome> {
  try {
    return { answer: await call };
  } catch (error) {
    if (isCancellation(error)) throw error;
    if (error instanceof ActivityFailure) return { failure: { cause: error.cause } };
    // A local activity's failure arrives as the activity's own error, not wrapped in an ActivityFailure.
    if (error instanceof ApplicationFailure || error instanceof TimeoutFailure) return { failure: { cause: error } };
    throw error;
  }
}

/**
 * One stage's call. Temporal's retry policy repeats transient failures (a 429 included) within
 * the item's remaining call budget, so they never advance the stage. With `callMode: local-first`
 * the item's first call is a local activity, run by this item's worker inside its workflow task
 * (the common case — one good answer — then costs one workflow task and no activity dispatch); a
 * transient failure, or a quota scope that wants calls to wait, hands over to the regular
 * activity after the wait the retry policy would have made (Gemini's RetryInfo delay, else 1 s).
 */
async function callStage(input: Input, stage: Stage, mode: 'full' | 'partial', state: ItemState): Promise<StageCall> {
  const model = stage.model ?? input.model;
  const remainingCalls = state.maxModelCalls - state.modelCalls;
  const startedAt = new Date().toISOString();
  // A cache serves only the model it was made for, and only the full prompt.
  const cachedContent = mode === 'full' && state.cache?.model === model ? state.cache.name : undefined;
  const price = priceFor(model, input.options.prices);
  const attemptOf = (call: number, fields: Pick<AttemptRecord, 'durationMs' | 'usage' | 'outcome'> & Pick<Partial<AttemptRecord>, 'metadata'> & { message?: string }): AttemptRecord => ({
    call: state.modelCalls + call,
    stage: state.stage,
    mode,
    model,
    temperature: stage.temperature,
    startedAt,
    ...(price ? { costUsd: usageCost(fields.usage, price) } : {}),
    ...(cachedContent ? { cachedContent } : {}),
    ...fields,
  });
  const failedCall = (failure: FailedCall) =>
    attemptOf(failure.attempt, { durationMs: failure.durationMs, usage: emptyUsage(), outcome: failure.category, message: failure.message });
  const answered = (answer: CallModelOutput): StageCall => {
    const attempts = answer.previousFailures.map(failedCall);
    attempts.push(
      attemptOf(answer.activityAttempt, {
        durationMs: answer.durationMs,
        usage: answer.usage,
        metadata: answer.metadata,
        outcome: answer.kind === 'ok' ? 'ok' : answer.category,
        ...(answer.kind === 'unusable' ? { message: answer.message } : {}),
      }),
    );
    return { answer, modelCalls: answer.activityAttempt, attempts };
  };
  /** The stage's requests ended in a failure: non-retryable, or the call budget spent. Every request listed was sent. */
  const failed = (failure: CallFailure, priorFailures: FailedCall[], outOfBudget = false): StageCall => {
    const { category, message, failures, budgetSpent: spent, retryable } = describeActivityFailure(failure);
    const budgetSpent = spent || (outOfBudget && retryable);
    const sent = failures.length > 0 ? failures : priorFailures;
    return {
      modelCalls: sent.length,
      attempts: sent.map(failedCall),
      error: budgetSpent
        ? { category: 'prompt_budget_exhausted', message: `model-call cap of ${state.maxModelCalls} reached at stage ${state.stage}; last error ${category}: ${message}` }
        : { category, message },
    };
  };

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
    const local = await outcomeOf(callModel({ ...request, ...(lost.length > 0 ? { priorFailures: lost } : {}) }));
    if (local.answer?.kind === 'deferred') priorFailures = local.answer.failures ?? [];
    else if (local.answer) return answered(local.answer);
    if (local.failure && endsAtDeadline && local.failure.cause instanceof TimeoutFailure) {
      // The item's deadline cut the call: its timer, delivered with the next workflow task,
      // cancels this scope and the item ends deadline_exceeded (not retried, not out of budget).
      await condition(() => false);
    }
    if (local.failure) {
      const { category, message, failures, retryable, budgetSpent, retryDelayMs } = describeActivityFailure(local.failure);
      // A local activity that timed out at Temporal's level had sent its request; one that failed
      // before sending (the task's prompt builder threw, say) sent none.
      const timedOut = local.failure.cause instanceof TimeoutFailure;
      const sent = failures.length > 0 || !timedOut ? failures : [{ attempt: 1, category, message, durationMs: Date.now() - Date.parse(startedAt) }];
      if (!retryable || budgetSpent || sent.length >= remainingCalls) return failed(local.failure, sent, sent.length >= remainingCalls);
      priorFailures = sent;
      await sleep(retryDelayMs ?? FIRST_RETRY_DELAY_MS);
    }
  }
  const handedOver = priorFailures.length > 0;
  const remote = await outcomeOf(activityCallModel(input, summary, handedOver)({ ...request, ...(handedOver ? { priorFailures } : {}) }));
  if (remote.failure) return failed(remote.failure, priorFailures);
  if (remote.answer.kind === 'deferred') {
    // Only a local activity defers; a regular one waits for its quota scope.
    return { modelCalls: priorFailures.length, attempts: priorFailures.map(failedCall), error: { category: 'unknown', message: `a regular model-call activity deferred (${remote.answer.reason})` } };
  }
  return answered(remote.answer);
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
  const lost = info.unsafe.isReplaying ? 1 : Math.max(0, Math.floor((info.historyLength - FIRST_TASK_HISTORY_LENGTH) / 3));
  return Array.from({ length: lost }, (_, index) => ({
    attempt: index + 1,
    category: LOST_IN_CRASH,
    message: 'an earlier workflow task sent this request, but its worker stopped before the answer was recorded',
    durationMs: 0,
  }));
}

/** WorkflowExecutionStarted, WorkflowTaskScheduled, WorkflowTaskStarted. */
const FIRST_TASK_HISTORY_LENGTH = 3;

/** The wait before the regular activity takes over from a failed local call (the retry policy's first interval). */
const FIRST_RETRY_DELAY_MS = 1_000;

/**
 * The stage's first call as a local activity: no retries of its own (the regular activity does
 * them), and cut at the item deadline, which this workflow task could otherwise only see once the
 * call ends (a local activity holds the task).
 */
function localCallModel(input: Input, summary: string): { callModel: BatchActivities['callModel']; endsAtDeadline: boolean } {
  const itemDeadlineMs = input.options.itemDeadlineMs;
  const untilDeadlineMs = itemDeadlineMs === undefined ? Infinity : itemDeadlineMs - (Date.now() - workflowInfo().startTime.getTime());
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

interface DescribedFailure {
  category: ErrorCategory;
  message: string;
  /** Requests sent without an answer, as the activity recorded them. */
  failures: FailedCall[];
  /** The activity stopped because the stage's call budget is spent. */
  budgetSpent: boolean;
  /** The retry policy would call again (a category that retries, not marked non-retryable). */
  retryable: boolean;
  /** Gemini's suggested wait (RetryInfo), when it gave one. */
  retryDelayMs?: number;
}

function describeActivityFailure({ cause }: CallFailure): DescribedFailure {
  if (cause instanceof ApplicationFailure) {
    const details = cause.details?.[0] as CallFailureDetails | undefined;
    const category = isErrorCategory(cause.type) ? cause.type : 'unknown';
    const retryDelayMs = details?.error.suggestedWaitMs;
    return {
      category,
      message: cause.message,
      failures: details?.failures ?? [],
      budgetSpent: details?.budgetSpent === true,
      retryable: !cause.nonRetryable && CATEGORY_TABLE[category].decision === 'retry',
      ...(retryDelayMs !== undefined ? { retryDelayMs } : {}),
    };
  }
  if (cause instanceof TimeoutFailure) {
    return { category: 'timeout', message: `model call exceeded Temporal's ${cause.timeoutType} timeout`, failures: [], budgetSpent: false, retryable: true };
  }
  return { category: 'unknown', message: cause?.message ?? 'the model call failed without a cause', failures: [], budgetSpent: false, retryable: false };
}
