/**
 * Batch Mode's pure rules that both the batch workflow and the CLI need. Free of zod and I/O: the
 * workflow bundle imports it.
 */
import { BATCH_TURNAROUND_MS } from './constants';

/** Said at start when the batch deadline leaves a job less than the provider's batch turnaround (Gemini: 24 h). */
export function batchDeadlineWarning(deadline: string | undefined, nowMs: number): string | undefined {
  if (deadline === undefined) return undefined;
  const leftMs = Date.parse(deadline) - nowMs;
  if (leftMs >= BATCH_TURNAROUND_MS) return undefined;
  const hours = Math.max(0, leftMs / 3_600_000).toFixed(1);
  return `the batch deadline is ${hours} h away, less than the 24 h a batch job may take: items whose job has not ended by then end deadline_exceeded (the jobs are cancelled)`;
}
