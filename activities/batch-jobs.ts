/**
 * Batch Mode's activities: submit a provider job for a group of items (exactly the stage-1 full
 * prompts the online path would send), poll the jobs, download a finished job's answers into the
 * staging store, cancel jobs, and — from each item's own workflow — fetch and judge one staged
 * answer. The batch workflow (workflows/batch-jobs.ts) drives them.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { batchJobDisplayName } from '../src/batch-mode';
import { classifyError } from '../src/errors/classifier';
import type { BatchAnswerStaging, ResultReader, StagedBatchAnswer } from '../src/results';
import { filterHits, judgeAnswer } from '../src/providers/judge';
import { fullPrompt } from '../src/providers/prompts';
import {
  BatchResultsMismatchError,
  type BatchJobState,
  type BatchJobStatus,
  type BatchJobs,
  type BatchRequest,
  type ModelProvider,
} from '../src/providers/types';
import type { GenerationSettings, WorkItem } from '../src/schemas';
import type { AnyTask, TaskRegistry } from '../src/tasks/registry';
import { readInputPage, type ReadInputPageInput } from './batch-input';
import { classifiedFailure } from './failures';
import type { CallModelOutput } from './model-call';

/** A job's items: inline ones (already in the batch's input) or a page of the checked input file. */
export type BatchJobItems = { items: WorkItem[] } | { page: ReadInputPageInput };

export interface SubmitBatchJobInput {
  batchId: string;
  taskName: string;
  /** 1-based; the job's display name is `<batchId>/job-<number>`. */
  number: number;
  /** Stage 1's model and generation settings (the task's own are applied under them, as online). */
  model: string;
  generation: GenerationSettings;
  cachedContent?: string;
  source: BatchJobItems;
  inlineLimitBytes?: number;
}

export interface SubmittedBatchJob {
  name: string;
  state: BatchJobState;
  /** Requests in the job: the items whose prompt could be built (the others go online, where they fail as usual). */
  requests: number;
  file: boolean;
}

export interface DownloadBatchJobInput {
  batchId: string;
  taskName: string;
  number: number;
  name: string;
  /** The job's items, in the order they were submitted. */
  source: { ids: string[] } | { page: ReadInputPageInput };
}

export interface FetchBatchAnswerInput {
  batchId: string;
  taskName: string;
  number: number;
  /** The provider's job name, for messages. */
  job: string;
  item: WorkItem;
}

/** An item's stage-1 answer from its job: judged like an online answer, the request's error, or nothing staged. */
export type FetchedBatchAnswer =
  | { kind: 'answer'; answer: CallModelOutput }
  | { kind: 'error'; category: NonNullable<StagedBatchAnswer['error']>['category']; message: string }
  | { kind: 'missing' };

export interface CancelledBatchJob {
  name?: string;
  displayName?: string;
  cancelled: boolean;
  message?: string;
}

export interface BatchJobDeps {
  tasks: TaskRegistry;
  provider: ModelProvider;
  results: BatchAnswerStaging & ResultReader;
}

const HEARTBEAT_MS = 2_000;

/** Runs `work` heartbeating every few seconds, so a dead worker's activity is retried within the heartbeat timeout. */
async function heartbeating<T>(work: () => Promise<T>): Promise<T> {
  const context = Context.current();
  const timer = setInterval(() => context.heartbeat(), HEARTBEAT_MS);
  try {
    context.heartbeat();
    return await work();
  } finally {
    clearInterval(timer);
  }
}

export function createBatchJobActivities({ tasks, provider, results }: BatchJobDeps) {
  const batchJobs = (): BatchJobs => {
    if (!provider.batchJobs)
      throw ApplicationFailure.nonRetryable(
        `the ${provider.name} provider has no batch API: run the batch without --batch-api`,
        'invalid_request',
      );
    return provider.batchJobs;
  };
  const taskOf = (name: string): AnyTask => {
    const task = tasks.get(name);
    if (!task) throw ApplicationFailure.nonRetryable(`unknown task "${name}" on this worker`, 'unknown_task');
    return task;
  };
  const itemsOf = async (source: BatchJobItems): Promise<WorkItem[]> =>
    'page' in source ? readInputPage(source.page, results) : source.items;
  /** A provider failure as Temporal should see it: the category as its type, retried unless the classifier says not. */
  const failureOf = (error: unknown, task: AnyTask | undefined, doing: string): ApplicationFailure => {
    const info = classifyError(error, task?.classifier, provider.classify);
    return classifiedFailure(info, { message: `${doing}: ${info.message}`, cause: error });
  };

  return {
    /**
     * Creates the job — or finds the one an earlier attempt created: the provider looks for the
     * job's deterministic display name before creating, so a retry never makes a second job.
     */
    async submitBatchJob(input: SubmitBatchJobInput): Promise<SubmittedBatchJob> {
      const task = taskOf(input.taskName);
      const jobs = batchJobs();
      return heartbeating(async () => {
        const items = await itemsOf(input.source);
        const requests: Array<{ key: string; request: BatchRequest }> = [];
        for (const item of items) {
          let prompt;
          try {
            prompt = fullPrompt(task, item, input.cachedContent !== undefined);
          } catch (error) {
            // The task's prompt builder refused the item: it goes online, where it fails as usual.
            Context.current().log.warn('item left out of its batch job: its prompt could not be built', {
              itemId: item.id,
              error: String(error),
            });
            continue;
          }
          requests.push({
            key: item.id,
            request: {
              prompt: prompt.prompt,
              systemInstruction: prompt.systemInstruction,
              responseJsonSchema: prompt.responseJsonSchema,
              generation: { ...task.generation, ...input.generation },
              cachedContent: input.cachedContent,
            },
          });
        }
        const displayName = batchJobDisplayName(input.batchId, input.number);
        if (requests.length === 0)
          throw ApplicationFailure.nonRetryable(
            `batch job ${displayName}: no request could be built (the items go online, where they fail as usual)`,
            'invalid_input',
          );
        try {
          const ref = await jobs.submit({
            displayName,
            model: input.model,
            requests,
            inlineLimitBytes: input.inlineLimitBytes,
          });
          Context.current().log.info('batch job submitted', { displayName, name: ref.name, requests: requests.length });
          return { name: ref.name, state: ref.state, requests: requests.length, file: ref.file === true };
        } catch (error) {
          throw failureOf(error, task, `submitting batch job ${displayName}`);
        }
      });
    },

    /** The jobs' states and request counts, one request per job; a job the provider no longer knows is `failed`. */
    async getBatchJobs(input: { names: string[] }): Promise<BatchJobStatus[]> {
      const jobs = batchJobs();
      const statuses: BatchJobStatus[] = [];
      for (const name of input.names) {
        try {
          statuses.push(await jobs.get(name));
        } catch (error) {
          const info = classifyError(error, undefined, provider.classify);
          if (info.category !== 'not_found') throw failureOf(error, undefined, `polling batch job ${name}`);
          statuses.push({
            name,
            displayName: '',
            state: 'failed',
            stats: { requests: 0, succeeded: 0, failed: 0, pending: 0 },
            error: { code: 404, message: `the provider no longer knows batch job ${name}` },
          });
        }
      }
      return statuses;
    },

    /**
     * Stages a succeeded job's answers for its items (replacing any an interrupted attempt wrote).
     * Matched by request key, by position where a response lacks one; any mismatch fails the
     * download (the batch then sends the job's items online) instead of shifting answers.
     */
    async downloadBatchJob(input: DownloadBatchJobInput): Promise<{ answers: number; errors: number }> {
      const task = taskOf(input.taskName);
      const jobs = batchJobs();
      return heartbeating(async () => {
        const keys = 'ids' in input.source ? input.source.ids : (await itemsOf(input.source)).map((item) => item.id);
        const staged: StagedBatchAnswer[] = [];
        let answers = 0;
        let errors = 0;
        try {
          for await (const result of jobs.results(input.name, keys)) {
            if ('answer' in result) {
              answers += 1;
              const { text, stopped, usage, metadata } = result.answer;
              staged.push({
                itemId: result.key,
                answer: {
                  ...(text !== undefined ? { text } : {}),
                  ...(stopped ? { stopped } : {}),
                  usage,
                  metadata,
                  ...(task.includeRawResponse ? { raw: result.answer.raw() } : {}),
                },
              });
            } else {
              errors += 1;
              const { category, message, retryable } = result.error;
              staged.push({ itemId: result.key, error: { category, message, retryable } });
            }
          }
        } catch (error) {
          if (error instanceof BatchResultsMismatchError)
            throw ApplicationFailure.nonRetryable(error.message, 'batch_results_mismatch');
          throw failureOf(error, task, `downloading batch job ${input.name}`);
        }
        await results.stageBatchAnswers(input.batchId, input.number, staged);
        return { answers, errors };
      });
    },

    /**
     * Asks the provider to cancel each job — by name, or by display name for a job whose submit was
     * cut short (it may have been created). One that already ended or is gone is reported, not retried.
     */
    async cancelBatchJobs(input: { names: string[]; displayNames?: string[] }): Promise<CancelledBatchJob[]> {
      const jobs = batchJobs();
      const outcomes: CancelledBatchJob[] = [];
      const targets: Array<{ name: string; displayName?: string }> = input.names.map((name) => ({ name }));
      for (const displayName of input.displayNames ?? []) {
        const found = await jobs.findByDisplayName(displayName);
        if (found) targets.push({ name: found.name, displayName });
        else outcomes.push({ displayName, cancelled: false, message: 'the job was never created' });
      }
      for (const { name, displayName } of targets) {
        try {
          await jobs.cancel(name);
          outcomes.push({ name, ...(displayName ? { displayName } : {}), cancelled: true });
        } catch (error) {
          const info = classifyError(error, undefined, provider.classify);
          if (info.retryable) throw failureOf(error, undefined, `cancelling batch job ${name}`);
          Context.current().log.warn('batch job not cancelled', { name, category: info.category, error: info.message });
          outcomes.push({ name, cancelled: false, message: info.message });
        }
      }
      return outcomes;
    },

    /** The batch has ended: its staged answers are no longer needed. */
    async clearBatchAnswers(input: { batchId: string }): Promise<void> {
      await results.clearStagedAnswers(input.batchId);
    },

    /** One item's staged answer, judged exactly like an online answer (schema, the task's validate, safety thresholds). */
    async fetchBatchAnswer(input: FetchBatchAnswerInput): Promise<FetchedBatchAnswer> {
      const task = taskOf(input.taskName);
      const staged = await results.readStagedAnswer(input.batchId, input.number, input.item.id);
      if (!staged) return { kind: 'missing' };
      if (!staged.answer) {
        const error = staged.error ?? { category: 'unknown' as const, message: 'staged without answer or error' };
        return { kind: 'error', category: error.category, message: error.message };
      }
      const answer = staged.answer;
      const judgement = judgeAnswer(
        task,
        { text: answer.text, ...(answer.stopped ? { stopped: answer.stopped } : {}) },
        undefined,
        input.item.data,
      );
      const hits = judgement.kind === 'ok' ? filterHits(answer.metadata, task.safetyFilter) : [];
      return {
        kind: 'answer',
        answer: {
          usage: answer.usage,
          metadata: answer.metadata,
          ...(hits.length > 0 ? { filteredBy: hits } : {}),
          ...(task.includeRawResponse && answer.raw !== undefined ? { rawResponse: answer.raw } : {}),
          activityAttempt: 1,
          previousFailures: [],
          durationMs: 0,
          ...judgement,
        },
      };
    },
  };
}
