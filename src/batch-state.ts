/**
 * What a batch's counters add up to: its state in words, and the verdict a summary (and the CLI's
 * exit code) gives. Pure, and free of zod: the batch workflow uses it for its final search attribute.
 */
import type { BatchProgress, ItemStatus } from './schemas';

/** Every terminal item status, in the order summaries list them. */
export const SUMMARY_STATUSES: readonly ItemStatus[] = [
  'succeeded',
  'filtered',
  'failed',
  'blocked',
  'deadline_exceeded',
  'cancelled',
];

/** Statuses that count as the item's job done: an answer that parsed (filtered ones keep their output). */
const SUCCESSFUL = Object.freeze<ItemStatus[]>(['succeeded', 'filtered']);

export type BatchState =
  'preparing' | 'running' | 'paused' | 'stopping' | 'succeeded' | 'completed_with_failures' | 'stopped';

/** Items that have ended, whatever their status. */
export function finishedCount(progress: Pick<BatchProgress, ItemStatus>): number {
  return SUMMARY_STATUSES.reduce((sum, status) => sum + progress[status], 0);
}

/** Items that ended without a usable answer: failed, blocked, deadline_exceeded, cancelled. */
export function unsuccessfulCount(progress: Pick<BatchProgress, ItemStatus>): number {
  return SUMMARY_STATUSES.filter((status) => !SUCCESSFUL.includes(status)).reduce(
    (sum, status) => sum + progress[status],
    0,
  );
}

export function batchStateOf(progress: BatchProgress): BatchState {
  if (!progress.done) {
    if (progress.total === 0) return 'preparing';
    if (progress.control.stop) return 'stopping';
    return progress.control.paused ? 'paused' : 'running';
  }
  if (progress.control.stop) return 'stopped';
  return unsuccessfulCount(progress) > 0 ? 'completed_with_failures' : 'succeeded';
}

/** `done/total` and every status with a count, e.g. "182 succeeded, 3 failed, 215 cancelled". */
export function describeCounts(progress: Pick<BatchProgress, ItemStatus | 'total' | 'pending' | 'running'>): string {
  const parts = SUMMARY_STATUSES.filter(
    (status) => status === 'succeeded' || status === 'failed' || progress[status] > 0,
  ).map((status) => `${progress[status]} ${status}`);
  if (progress.running > 0) parts.push(`${progress.running} running`);
  if (progress.pending > 0) parts.push(`${progress.pending} pending`);
  return parts.join(', ');
}
