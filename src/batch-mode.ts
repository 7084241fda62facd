/**
 * Batch Mode's pure rules that both the batch workflow and the CLI need. Free of zod and I/O: the
 * workflow bundle imports it.
 */
import { BATCH_TURNAROUND_MS } from './constants';
import type { BatchJobProgress } from './schemas';

/** A provider job's display name: deterministic, so a retried submit finds the job instead of creating a second. */
export function batchJobDisplayName(batchId: string, number: number): string {
  return `${batchId}/job-${number}`;
}

/** Job states after which the job's items may start: answers staged, or none coming (the items go online). */
export const JOB_ENDED_STATES: readonly BatchJobProgress['state'][] = ['downloaded', 'failed', 'expired', 'cancelled'];

/**
 * How an item of a Batch Mode batch was answered, from its batch and total requests: by its job
 * alone, with online calls, or neither (an item that sent no request).
 */
export function batchRouteOf(batchCalls: number, modelCalls: number): 'batch' | 'online' | undefined {
  if (batchCalls > 0 && modelCalls === batchCalls) return 'batch';
  return modelCalls > batchCalls ? 'online' : undefined;
}

/** Said at start when the batch deadline leaves a job less than the provider's batch turnaround (Gemini: 24 h). */
export function batchDeadlineWarning(deadline: string | undefined, nowMs: number): string | undefined {
  if (deadline === undefined) return undefined;
  const leftMs = Date.parse(deadline) - nowMs;
  if (leftMs >= BATCH_TURNAROUND_MS) return undefined;
  const hours = Math.max(0, leftMs / 3_600_000).toFixed(1);
  return `the batch deadline is ${hours} h away, less than the 24 h a batch job may take: items whose job has not ended by then end deadline_exceeded (the jobs are cancelled)`;
}
