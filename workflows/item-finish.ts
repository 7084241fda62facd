/**
 * The item's end: its record offered to the results store (the first record written is final),
 * the committed one reported in search attributes and metrics, and an item that did not succeed
 * failing its workflow with the outcome in the failure's details.
 */
import {
  ApplicationFailure,
  log,
  metricMeter,
  proxyLocalActivities,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { BatchActivities, CallModelOutput } from '../activities';
import { roundUsd } from '../src/pricing';
import type { ItemOutcome, ItemResult, ItemStatus, ItemWorkflowInput } from '../src/schemas';
import { ErrorCategorySearchAttribute, ItemStatusSearchAttribute } from '../src/search-attributes';
import type { ItemState } from '../src/contract/states';
import { endingOf, itemOutcomeOf } from './item-result';

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

export interface ItemEnd {
  output?: unknown;
  /** The answer whose metadata the record carries: the accepted one, else the last. */
  answer?: CallModelOutput;
  startedAt: string;
}

export async function finishItem(
  input: Pick<ItemWorkflowInput, 'batchId' | 'item' | 'model' | 'taskName'>,
  state: ItemState,
  { output, answer, startedAt }: ItemEnd,
): Promise<ItemOutcome> {
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
  if (kept)
    log.info('the results store already held another record of this item; reporting that one', {
      itemId: outcome.itemId,
      committed: kept.status,
      offered: status,
    });
  // Emitted once, not on replay (the SDK's workflow meter skips replays).
  metricMeter.createCounter('batch_llm_items', 'items', 'Items by terminal status').add(1, {
    task: input.taskName,
    status: outcome.status,
    ...(outcome.category ? { category: outcome.category } : {}),
  });
  upsertSearchAttributes([
    { key: ItemStatusSearchAttribute, value: outcome.status },
    ...(outcome.category ? [{ key: ErrorCategorySearchAttribute, value: outcome.category }] : []),
  ]);
  const ending = endingOf(outcome);
  // An item that did not succeed fails its workflow (red in the Web UI's list, with the reason);
  // the batch reads the outcome from the failure's details and counts it like any other.
  if (!ending.completes)
    throw ApplicationFailure.create({
      type: ending.type,
      message: ending.message,
      nonRetryable: true,
      details: [outcome],
    });
  return outcome;
}
