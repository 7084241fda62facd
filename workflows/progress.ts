import { addUsage, emptyUsage, type BatchProgress, type ItemOutcome } from '../src/schemas';

/** Pure bookkeeping of a batch's counters; the batch workflow owns one and the query returns it. */
export function newProgress(batchId: string, taskName: string, total: number, startedAt: string): BatchProgress {
  return {
    batchId,
    taskName,
    total,
    pending: total,
    running: 0,
    succeeded: 0,
    failed: 0,
    byCategory: {},
    usage: emptyUsage(),
    modelCalls: 0,
    startedAt,
    done: false,
  };
}

export function markStarted(progress: BatchProgress): void {
  progress.pending -= 1;
  progress.running += 1;
}

export function markFinished(progress: BatchProgress, outcome: ItemOutcome): void {
  progress.running -= 1;
  progress[outcome.status] += 1;
  if (outcome.category) progress.byCategory[outcome.category] = (progress.byCategory[outcome.category] ?? 0) + 1;
  progress.usage = addUsage(progress.usage, outcome.usage);
  progress.modelCalls += outcome.modelCalls;
}
