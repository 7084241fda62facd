import {
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowFailure,
  condition,
  proxyActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { BatchActivities } from '../activities';
import type { CachePlan } from '../src/caching/spec';
import { cacheStorageCost, priceFor } from '../src/pricing';
import { BatchInputSchema, emptyUsage, type BatchInput, type BatchProgress, type BatchSummary, type ItemOutcome, type ItemWorkflowInput, type WorkItem } from '../src/schemas';
import { BatchIdSearchAttribute, ItemStatusSearchAttribute, TaskNameSearchAttribute } from '../src/search-attributes';
import { itemWorkflow } from './item';
import { parseWorkflowInput } from './parse-input';
import { batchProgressQuery, cacheNameSignal } from './queries';
import { markFinished, markStarted, newProgress } from './progress';

/** Item workflow ids are `<batchId>/<itemId>`: navigable in the Web UI and idempotent on restart. */
export function itemWorkflowId(batchId: string, itemId: string): string {
  return `${batchId}/${itemId}`;
}

const { prepareBatch, acquireCache, releaseCache } = proxyActivities<BatchActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5 },
});

type ItemCache = NonNullable<ItemWorkflowInput['cache']>;

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
    cacheOverride: input.options.cache,
  });
  const items: WorkItem[] = prepared.items ?? input.items ?? [];
  progress = newProgress(input.batchId, input.taskName, items.length, startedAt);
  const price = priceFor(prepared.model, input.options.prices);

  // The batch's stage plan wins over the task's; items get it resolved.
  const stagePlan = input.options.stagePlan ?? prepared.stagePlan;
  const itemOptions = { ...input.options, ...(stagePlan ? { stagePlan } : {}) };
  const cache = prepared.cachePlan ? await takeCacheLease(prepared.cachePlan, input.batchId, progress) : undefined;
  setHandler(cacheNameSignal, ({ name }) => {
    // An item found the cache recreated: items started from now on use the new one.
    if (cache && progress.cache) {
      cache.name = name;
      progress.cache.name = name;
    }
  });

  let running = 0;
  const runItem = async (item: WorkItem): Promise<void> => {
    const outcome = await runItemWorkflow({
      batchId: input.batchId,
      taskName: input.taskName,
      item,
      model: prepared.model,
      options: itemOptions,
      traits: prepared.traits,
      ...(cache ? { cache: { ...cache } } : {}),
    });
    markFinished(progress, outcome, price);
    running -= 1;
  };
  try {
    for (const item of items) {
      await condition(() => running < input.concurrency);
      running += 1;
      markStarted(progress);
      // Awaited collectively below through `running`; runItem never rejects.
      void runItem(item);
    }
    await condition(() => running === 0);
  } finally {
    if (prepared.cachePlan) {
      const ownerWorkflowId = prepared.cachePlan.ownerWorkflowId;
      await CancellationScope.nonCancellable(() => releaseCache({ ownerWorkflowId, batchId: input.batchId }));
    }
  }

  progress.done = true;
  upsertSearchAttributes([{ key: ItemStatusSearchAttribute, value: progress.failed > 0 ? 'completed_with_failures' : 'succeeded' }]);
  const finishedAt = new Date().toISOString();
  const durationMs = Date.parse(finishedAt) - Date.parse(startedAt);
  const storage = progress.cache?.status === 'ready' && price ? cacheStorageCost(progress.cache.tokenCount ?? 0, durationMs / 3_600_000, price) : undefined;
  return {
    ...progress,
    ...(storage !== undefined ? { cacheStorageCostUsd: storage, costUsd: progress.costUsd + storage } : {}),
    finishedAt,
    durationMs,
    itemsPerSecond: durationMs > 0 ? (progress.total * 1000) / durationMs : progress.total,
  };
}

/** Leases the task's context cache from its owner; the summary says when the batch runs uncached, and why. */
async function takeCacheLease(plan: CachePlan, batchId: string, progress: BatchProgress): Promise<ItemCache | undefined> {
  const grant = await acquireCache({ plan, batchId });
  if (grant.status === 'ready') {
    progress.cache = { displayName: plan.displayName, status: 'ready', name: grant.name, tokenCount: grant.tokenCount };
    return { name: grant.name, ownerWorkflowId: plan.ownerWorkflowId, model: plan.model };
  }
  progress.cache = { displayName: plan.displayName, status: 'uncached', reason: grant.reason };
  return undefined;
}

async function runItemWorkflow(args: ItemWorkflowInput): Promise<ItemOutcome> {
  const { batchId, taskName, item } = args;
  try {
    const handle = await startChild(itemWorkflow, {
      workflowId: itemWorkflowId(batchId, item.id),
      args: [args],
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
      costUsd: 0,
      modelCalls: 0,
      durationMs: 0,
    };
  }
}
