/**
 * One work item through its stage plan. The stage machine (item-step.ts, pure) decides; this
 * workflow runs its decisions: a call (item-call.ts), a fresh context cache (item-cache.ts), the
 * task's post-processing hook, and the item's end (item-finish.ts). Validation failures move to
 * the next stage (full or partial prompt, its temperature and model); transient failures repeat
 * the same stage through the activity's retry policy; the model-call cap bounds everything.
 */
import {
  CancellationScope,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { z } from 'zod';
import type { BatchActivities, CallModelOutput } from '../activities';
import { itemStateQuery } from '../src/contract/messages';
import type { ItemOutcome, ItemWorkflowInput, ItemWorkflowInputSchema } from '../src/schemas';
import { StageSearchAttribute } from '../src/search-attributes';
import { DEFAULT_STAGE_PLAN } from '../src/stages';
import { addUsage, emptyUsage } from '../src/usage';
import { batchStageCall } from './item-batch';
import { callOnce, resultOf } from './item-call';
import { useFreshCache } from './item-cache';
import { finishItem, type ItemEnd } from './item-finish';
import type { FinishIfValid } from '../src/item-record';
import { afterCall, fail, nextCall, type StepState } from './item-step';

/** The task's hook heartbeats while it runs (activities/post-process.ts): a dead worker's hook runs again within seconds. */
const { postProcessItem } = proxyActivities<BatchActivities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

type Input = z.output<typeof ItemWorkflowInputSchema>;

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

  // The item deadline, or the batch cancelling the item, cancels the stages (and the model call in
  // flight); the result is still recorded, once. Only an item with a deadline gets scopes of its
  // own (each scope and promise costs the worker a stack trace): the batch cancels the root scope.
  const itemDeadlineMs = input.options.itemDeadlineMs;
  const work = itemDeadlineMs !== undefined ? new CancellationScope() : undefined;
  const deadlineScope = work ? new CancellationScope() : undefined;
  let deadlineHit = false;
  deadlineScope
    ?.run(() => sleep(itemDeadlineMs ?? 0))
    .then(
      () => {
        deadlineHit = true;
        work?.cancel();
      },
      () => undefined, // the item finished first and cancelled its deadline timer
    );
  let end: ItemEnd = { startedAt };
  try {
    end = await (work ? work.run(() => runStages(input, state, startedAt)) : runStages(input, state, startedAt));
  } catch (error) {
    if (!isCancellation(error)) throw error;
    state.status = deadlineHit ? 'deadline_exceeded' : 'cancelled';
    state.stopReason = deadlineHit
      ? `item deadline of ${itemDeadlineMs} ms passed at stage ${state.stage}`
      : 'cancelled by its batch';
  } finally {
    deadlineScope?.cancel();
  }
  return finishItem(input, state, end);
}

/** The stage machine run: a call, its outcome folded in, until the item ends; then the task's hook. */
async function runStages(input: Input, state: StepState, startedAt: string): Promise<ItemEnd> {
  let accepted: CallModelOutput | undefined;
  let lastAnswer: CallModelOutput | undefined;
  /** The call that wrote the item's record, when its valid answer ended the item. */
  let recordedBy: FinishIfValid | undefined;
  // Batch Mode: stage 1 was sent through the provider's batch API; its answer comes first.
  let fromBatchJob = input.batchJob !== undefined;
  // Its online calls (repairs) run as regular activities: a local first call counts the requests
  // lost with a crashed worker from the history's length, which the batch answer's fetch changed.
  const online: Input = fromBatchJob ? { ...input, options: { ...input.options, callMode: 'activity' } } : input;
  for (let next = nextCall(state); next.kind === 'call'; next = nextCall(state)) {
    // The batch starts every item with Stage 1; later stages are worth an event each.
    if (state.stage > 1) upsertSearchAttributes([{ key: StageSearchAttribute, value: state.stage }]);
    const viaBatch = fromBatchJob && state.stage === 1 && next.mode === 'full';
    fromBatchJob = false;
    const call = viaBatch
      ? await batchStageCall(input, state, next.stage)
      : await callOnce(online, state, next.stage, next.mode, startedAt);
    state.modelCalls += call.modelCalls;
    state.attempts.push(...call.attempts);
    if (viaBatch && !call.answer) {
      // A request error or a job without answers: stage 1 again, online, classified as usual.
      if (call.error)
        log.info('item goes online: its batch request brought no answer', { itemId: input.item.id, ...call.error });
      else log.warn('item goes online: its batch job staged no answer for it', { itemId: input.item.id });
      continue;
    }
    if (call.answer) {
      state.usage = addUsage(state.usage, call.answer.usage);
      lastAnswer = call.answer;
      if (call.answer.kind === 'ok') accepted = call.answer;
    }
    recordedBy = call.finish;
    const action = afterCall(state, next, resultOf(call));
    if (action.kind === 'continue' && action.note) log.info(`item ${action.note}`, { itemId: input.item.id });
    if (action.kind === 'refreshCache') await useFreshCache(input.batchId, input.item.id, state);
  }

  let output = accepted?.kind === 'ok' ? accepted.output : undefined;
  if (output !== undefined && accepted && input.traits?.postProcess) {
    const decision = await postProcessItem({
      batchId: input.batchId,
      taskName: input.taskName,
      item: input.item,
      output,
      metadata: accepted.metadata,
    });
    if ('reject' in decision) fail(state, { category: 'post_process_rejected', message: decision.reject });
    else if (decision.output !== undefined) output = decision.output;
  }
  const answer = accepted ?? lastAnswer;
  return {
    startedAt,
    ...(output !== undefined ? { output } : {}),
    ...(answer ? { answer } : {}),
    ...(recordedBy ? { recordedBy } : {}),
  };
}
