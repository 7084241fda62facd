/**
 * The item's end: its record offered to the results store (the first record written is final),
 * the committed one reported in search attributes and metrics, and an item that did not succeed
 * failing its workflow with the outcome in the failure's details.
 */
import {
  ApplicationFailure,
  CancellationScope,
  log,
  metricMeter,
  proxyLocalActivities,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { BatchActivities, CallModelOutput } from '../activities';
import { itemRecord, validFirstAnswerRecord, type FinishIfValid } from '../src/item-record';
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
  /** The item's first call wrote its record (its valid answer ended the item): what that call was told. */
  recordedBy?: FinishIfValid;
}

export async function finishItem(
  input: Pick<ItemWorkflowInput, 'batchId' | 'item' | 'model' | 'taskName'>,
  state: ItemState,
  { output, answer, startedAt, recordedBy }: ItemEnd,
): Promise<ItemOutcome> {
  const status: ItemStatus = state.status === 'running' ? 'failed' : state.status;
  // The call that wrote the record told what it wrote: the same record, rebuilt by the same code.
  const recorded =
    recordedBy && answer?.kind === 'ok' && answer.recorded
      ? {
          record: validFirstAnswerRecord(
            { batchId: input.batchId, itemId: input.item.id },
            recordedBy,
            answer,
            answer.recorded.finishedAt,
          ),
          kept: answer.recorded.kept,
        }
      : undefined;
  const error = status === 'failed' || status === 'blocked' ? state.lastError : undefined;
  // The call's record stands for this end when the item ended as the call saw it; an item that
  // ended otherwise after it (cancelled while the answer came) offers its own.
  const written = recorded && recorded.record.status === status ? recorded : undefined;
  const offered: ItemResult =
    written?.record ??
    itemRecord({
      batchId: input.batchId,
      itemId: input.item.id,
      index: input.item.index,
      model: input.model,
      status,
      output,
      error,
      answer,
      stopReason: state.stopReason,
      usage: state.usage,
      modelCalls: state.modelCalls,
      attempts: state.attempts,
      startedAt,
      finishedAt: new Date().toISOString(),
    });
  // The results store is where an item's end is committed: the first record written is final. A
  // workflow task that wrote a record and then failed (a cancel racing the answer, say) is retried
  // and may reach another end; it then reports the committed one, so the results, this workflow's
  // result and search attributes, and the batch's counts all tell one story.
  // A record the call wrote is committed already. Any other is written even after a cancel (the
  // batch cancelling the item, its deadline): the write alone is shielded, in one place.
  const { kept } = written ?? (await CancellationScope.nonCancellable(() => recordItemResult(offered)));
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
