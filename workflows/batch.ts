import {
  ApplicationFailure,
  ChildWorkflowFailure,
  condition,
  proxyActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { BatchActivities } from '../activities';
import { BatchInputSchema, emptyUsage, type BatchInput, type BatchProgress, type BatchSummary, type ItemOutcome, type WorkItem } from '../src/schemas';
import { BatchIdSearchAttribute, ItemStatusSearchAttribute, TaskNameSearchAttribute } from '../src/search-attributes';
import { itemWorkflow } from './item';
import { parseWorkflowInput } from './parse-input';
import { batchProgressQuery } from './queries';
import { markFinished, markStarted, newProgress } from './progress';

/** Item workflow ids are `<batchId>/<itemId>`: navigable in the Web UI and idempotent on restart. */
export function itemWorkflowId(batchId: string, itemId: string): string {
  return `${batchId}/${itemId}`;
}

const { prepareBatch } = proxyActivities<BatchActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5 },
});

/**
 * A batch: check the input (nothing starts if anything is wrong), then keep at most
 * `concurrency` item workflows running until every item has finished. Returns a summary;
 * item outputs go to the results store, not into this history.
 */
export async function batchWorkflow(rawInput: BatchInput): Promise<BatchSummary> {
  const input = parseWorkflowInput(BatchInputSchema, rawInput, 'batch input');
  const startedAt = new Date(workflowInfo().startTime).toISOString();
  let progress = newProgress(input.batchId, input.taskName, 0, startedAt);
  setHandler(batchProgressQuery, () => progress);
  upsertSearchAttributes([
    { key: BatchIdSearchAttribute, value: input.batchId },
    { key: TaskNameSearchAttribute, value: input.taskName },
    { key: ItemStatusSearchAttribute, value: 'running' },
  ]);

  const prepared = await prepareBatch({
    batchId: input.batchId,
    taskName: input.taskName,
    inputFile: input.inputFile,
    items: input.items,
    modelOverride: input.options.model,
  });
  const items: WorkItem[] = prepared.items ?? input.items ?? [];
  progress = newProgress(input.batchId, input.taskName, items.length, startedAt);

  // The batch's stage plan wins over the task's; items get it resolved.
  const stagePlan = input.options.stagePlan ?? prepared.stagePlan;
  const itemOptions = { ...input.options, ...(stagePlan ? { stagePlan } : {}) };
  let running = 0;
  const runItem = async (item: WorkItem): Promise<void> => {
    const outcome = await runItemWorkflow(input.batchId, input.taskName, item, prepared.model, itemOptions);
    markFinished(progress, outcome);
    running -= 1;
  };
  for (const item of items) {
    await condition(() => running < input.concurrency);
    running += 1;
    markStarted(progress);
    // Awaited collectively below through `running`; runItem never rejects.
    void runItem(item);
  }
  await condition(() => running === 0);

  progress.done = true;
  upsertSearchAttributes([{ key: ItemStatusSearchAttribute, value: progress.failed > 0 ? 'completed_with_failures' : 'succeeded' }]);
  const finishedAt = new Date().toISOString();
  const durationMs = Date.parse(finishedAt) - Date.parse(startedAt);
  return { ...progress, finishedAt, durationMs, itemsPerSecond: durationMs > 0 ? (progress.total * 1000) / durationMs : progress.total };
}

async function runItemWorkflow(
  batchId: string,
  taskName: string,
  item: WorkItem,
  model: string,
  options: ReturnType<typeof BatchInputSchema.parse>['options'],
): Promise<ItemOutcome> {
  try {
    const handle = await startChild(itemWorkflow, {
      workflowId: itemWorkflowId(batchId, item.id),
      args: [{ batchId, taskName, item, model, options }],
      searchAttributes: { BatchId: [batchId], TaskName: [taskName], ItemStatus: ['running'] },
      staticSummary: `item ${item.id} of batch ${batchId}`,
    });
    return await handle.result();
  } catch (error) {
    // An item workflow that failed as a workflow (terminated, bug) still counts, once, as failed.
    if (!(error instanceof ChildWorkflowFailure) && !(error instanceof ApplicationFailure)) throw error;
    return {
      itemId: item.id,
      index: item.index,
      status: 'failed',
      category: 'unknown',
      usage: emptyUsage(),
      modelCalls: 0,
      durationMs: 0,
    };
  }
}
