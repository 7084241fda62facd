/**
 * Batch Mode in the item workflow: stage 1's request went through the provider's batch API, so
 * the item's first "call" reads its answer from the staging store (a local activity, judged there
 * exactly like an online answer). An answer is then handled like any stage-1 answer — a valid one
 * ends the item with no online call, an invalid one goes on to stage 2 online. A request error,
 * or a job that failed or expired, is recorded and the item makes stage 1 online.
 */
import { proxyLocalActivities } from '@temporalio/workflow';
import type { z } from 'zod';
import type { BatchActivities, CallModelOutput } from '../activities';
import { batchJobDisplayName } from '../src/batch-mode';
import { batchPriceOf, priceFor, usageCost } from '../src/pricing';
import type { AttemptRecord, ItemWorkflowInputSchema, Stage } from '../src/schemas';
import { emptyUsage } from '../src/usage';
import type { StageCall } from './item-call';
import type { StepState } from './item-step';

type Input = z.output<typeof ItemWorkflowInputSchema>;
type BatchJobRef = NonNullable<Input['batchJob']>;

/** The category recorded for a job that ended without answers (its items then go online). */
const JOB_END_CATEGORY = { failed: 'server_error', expired: 'timeout', cancelled: 'server_error' } as const;

/**
 * The item's stage-1 answer from its batch job, as a StageCall. Without an answer (a request
 * error, a job that did not succeed, nothing staged) the caller makes stage 1 online.
 */
export async function batchStageCall(input: Input, state: StepState, stage: Stage): Promise<StageCall> {
  const job = input.batchJob as BatchJobRef;
  const model = stage.model ?? input.model;
  const jobName = job.name ?? batchJobDisplayName(input.batchId, job.number);
  const cachedContent = state.cache?.model === model ? state.cache.name : undefined;
  const submittedAt = job.submittedAt ?? new Date().toISOString();
  const durationMs = job.endedAt ? Math.max(0, Date.parse(job.endedAt) - Date.parse(submittedAt)) : 0;
  const price = priceFor(model, input.options.prices);
  const attempt = (fields: Pick<AttemptRecord, 'usage' | 'outcome'> & Partial<AttemptRecord>): AttemptRecord => ({
    call: state.modelCalls + 1,
    stage: state.stage,
    mode: 'full',
    model,
    temperature: stage.temperature,
    startedAt: submittedAt,
    durationMs,
    ...(price ? { costUsd: usageCost(fields.usage, batchPriceOf(price)) } : {}),
    ...(cachedContent ? { cachedContent } : {}),
    via: 'batch',
    batchJob: jobName,
    ...fields,
  });
  if (job.state !== 'succeeded') {
    const category = JOB_END_CATEGORY[job.state];
    const message = job.message ?? `batch job ${jobName} ended ${job.state}`;
    return {
      modelCalls: 1,
      attempts: [attempt({ usage: emptyUsage(), outcome: category, message })],
      error: { category, message },
    };
  }
  const { fetchBatchAnswer } = proxyLocalActivities<BatchActivities>({
    startToCloseTimeout: '1 minute',
    retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
    summary: `stage ${state.stage} full via batch job ${jobName}`,
  });
  const fetched = await fetchBatchAnswer({
    batchId: input.batchId,
    taskName: input.taskName,
    number: job.number,
    job: jobName,
    item: input.item,
  });
  if (fetched.kind === 'missing') return { modelCalls: 0, attempts: [] };
  if (fetched.kind === 'error') {
    const { category, message } = fetched;
    return {
      modelCalls: 1,
      attempts: [attempt({ usage: emptyUsage(), outcome: category, message })],
      error: { category, message },
    };
  }
  const answer: CallModelOutput = { ...fetched.answer, startedAt: submittedAt, durationMs };
  const outcome = answer.kind === 'ok' ? 'ok' : answer.category;
  return {
    answer,
    modelCalls: 1,
    attempts: [
      attempt({
        usage: answer.usage,
        metadata: answer.metadata,
        outcome,
        ...(answer.kind === 'unusable' ? { message: answer.message } : {}),
      }),
    ],
  };
}
