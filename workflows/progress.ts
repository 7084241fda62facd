import { batchRouteOf } from '../src/batch-mode';
import { cacheHitRate, effectiveInputTokens, roundUsd, type Price } from '../src/pricing';
import type { BatchProgress, ItemOutcome } from '../src/schemas';
import { addUsage, emptyUsage } from '../src/usage';

/** Pure bookkeeping of a batch's counters; the batch workflow owns one and the query returns it. */
export function newProgress(
  batchId: string,
  taskName: string,
  total: number,
  startedAt: string,
  concurrency: number,
): BatchProgress {
  return {
    batchId,
    taskName,
    total,
    pending: total,
    running: 0,
    succeeded: 0,
    failed: 0,
    blocked: 0,
    filtered: 0,
    cancelled: 0,
    deadline_exceeded: 0,
    byFinishReason: {},
    bySafety: {},
    byCategory: {},
    usage: emptyUsage(),
    cacheHitRate: 0,
    effectiveInputTokens: 0,
    costUsd: 0,
    unpricedModels: [],
    modelCalls: 0,
    startedAt,
    done: false,
    control: { paused: false, concurrency },
    runs: 1,
    largestRunEvents: 0,
  };
}

/** Items that never started, ended by the batch's stop (cancel, deadline, fail-fast, budget). */
export function markSkipped(progress: BatchProgress, count: number, status: 'cancelled' | 'deadline_exceeded'): void {
  progress.pending -= count;
  progress[status] += count;
}

export function markStarted(progress: BatchProgress): void {
  progress.pending -= 1;
  progress.running += 1;
}

/** Counts a finished item; `price` is the batch model's, for the effective-input figure. */
export function markFinished(progress: BatchProgress, outcome: ItemOutcome, price: Price | undefined): void {
  progress.running -= 1;
  progress[outcome.status] += 1;
  if (outcome.category) progress.byCategory[outcome.category] = (progress.byCategory[outcome.category] ?? 0) + 1;
  progress.usage = addUsage(progress.usage, outcome.usage);
  progress.cacheHitRate = cacheHitRate(progress.usage);
  progress.effectiveInputTokens = effectiveInputTokens(progress.usage, price);
  progress.costUsd = roundUsd(progress.costUsd + outcome.costUsd);
  for (const model of outcome.unpricedModels ?? [])
    if (!progress.unpricedModels.includes(model)) progress.unpricedModels.push(model);
  progress.modelCalls += outcome.modelCalls;
  if (outcome.finishReason)
    progress.byFinishReason[outcome.finishReason] = (progress.byFinishReason[outcome.finishReason] ?? 0) + 1;
  for (const [category, probability] of Object.entries(outcome.safety ?? {})) {
    const counts = (progress.bySafety[category] ??= {});
    counts[probability] = (counts[probability] ?? 0) + 1;
  }
  const api = progress.batchApi;
  if (api) {
    const batchCalls = outcome.batchCalls ?? 0;
    api.batchCalls += batchCalls;
    api.onlineCalls += outcome.modelCalls - batchCalls;
    const route = batchRouteOf(batchCalls, outcome.modelCalls);
    if (route === 'batch') api.answeredByBatch += 1;
    else if (route === 'online') api.neededOnline += 1;
    api.savedUsd = roundUsd(api.savedUsd + (outcome.savedUsd ?? 0));
  }
}
