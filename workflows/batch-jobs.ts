/**
 * Batch Mode in the batch workflow: the items are grouped into provider jobs, each submitted once
 * (its display name `<batchId>/job-<n>` lets a retried submit find the job instead of making a
 * second), polled with durable timers (one activity for all running jobs, the wait growing while
 * nothing changes), and downloaded into the staging store. An item starts once its job has ended:
 * its workflow reads its own answer from the store (item-batch.ts). Job states live in the
 * batch's progress, so `status` shows them and a continue-as-new carries them over.
 */
import { CancellationScope, condition, isCancellation, log, proxyActivities } from '@temporalio/workflow';
import { batchJobDisplayName, JOB_ENDED_STATES } from '../src/batch-mode';
import type { BatchActivities, BatchJobItems, DownloadBatchJobInput } from '../activities';
import type { BatchJobStatus } from '../src/providers/types';
import type {
  BatchApiOptions,
  BatchApiProgress,
  BatchControlState,
  BatchJobProgress,
  GenerationSettings,
  ItemWorkflowInput,
} from '../src/schemas';

/**
 * Submits and downloads retry what the provider's classifier calls transient, without a cap: a
 * job is plumbing, not an outcome. Each call is named in the Web UI (its activity summary).
 */
const longSteps = (summary: string) =>
  proxyActivities<BatchActivities>({
    startToCloseTimeout: '30 minutes',
    // The activities heartbeat every 2 s: a dead worker's submit or download is retried within 10 s.
    heartbeatTimeout: '10 seconds',
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes' },
    summary,
  });
const shortSteps = (summary: string) =>
  proxyActivities<BatchActivities>({
    startToCloseTimeout: '2 minutes',
    retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes' },
    summary,
  });

/** Inline items travel in the submit activity's input: a job's share of them stays under this (Temporal's payload limit is 2 MB). */
const INLINE_ITEMS_BYTES_PER_JOB = 1_000_000;
/** Each unchanged poll waits this much longer, up to the maximum. */
const POLL_GROWTH = 1.5;

export { batchDeadlineWarning } from '../src/batch-mode';

/** A fresh Batch Mode progress: the batch's items cut into jobs of at most `jobSize` (inline items also by size). */
export function planBatchJobs(
  batchId: string,
  count: number,
  options: BatchApiOptions,
  inlineSizeOf?: (index: number) => number,
): BatchApiProgress {
  const jobs: BatchJobProgress[] = [];
  let start = 0;
  while (start < count) {
    let end = Math.min(start + options.jobSize, count);
    if (inlineSizeOf) {
      let bytes = 0;
      for (let index = start; index < end; index += 1) {
        bytes += inlineSizeOf(index);
        if (bytes > INLINE_ITEMS_BYTES_PER_JOB && index > start) {
          end = index;
          break;
        }
      }
    }
    const number = jobs.length + 1;
    jobs.push({ number, displayName: batchJobDisplayName(batchId, number), start, end, state: 'unsubmitted' });
    start = end;
  }
  return {
    jobSize: options.jobSize,
    jobs,
    answeredByBatch: 0,
    neededOnline: 0,
    batchCalls: 0,
    onlineCalls: 0,
    savedUsd: 0,
  };
}

export interface BatchJobSetup {
  batchId: string;
  taskName: string;
  /** Stage 1's model and generation settings (temperature included). */
  model: string;
  generation: GenerationSettings;
  cachedContent?: string | undefined;
  options: BatchApiOptions;
  /** The job's items for the submit activity. */
  itemsOf(job: BatchJobProgress): BatchJobItems;
  /** The job's item ids (or their page) for the download activity. */
  idsOf(job: BatchJobProgress): DownloadBatchJobInput['source'];
}

/**
 * Drives the jobs of one run of the batch workflow. `ready(index)` gates the dispatch of item
 * `index`; `stopped()` (cancel, deadline, budget, fail-fast) interrupts whatever activity is in
 * flight and cancels the provider jobs still running; `drain()` lets the current step finish
 * before a continue-as-new.
 */
export class BatchJobRunner {
  private draining = false;
  private current: CancellationScope | undefined;
  private done: Promise<void> = Promise.resolve();
  private cursor = 0;
  /** Jobs this run tried to submit: on a stop, a submit cut short may still have created its job. */
  private readonly attempted = new Set<number>();

  constructor(
    private readonly api: BatchApiProgress,
    private readonly setup: BatchJobSetup,
    private readonly control: BatchControlState,
  ) {}

  start(): void {
    this.done = this.run();
  }

  /** Item `index` may start: its job ended and its answers are staged, or the job failed (its items go online). */
  ready(index: number): boolean {
    const job = this.jobOf(index);
    return job === undefined || JOB_ENDED_STATES.includes(job.state);
  }

  /** What item `index`'s workflow needs to know of its job. */
  refFor(index: number): ItemWorkflowInput['batchJob'] {
    const job = this.jobOf(index);
    if (!job || !JOB_ENDED_STATES.includes(job.state)) return undefined;
    return {
      number: job.number,
      ...(job.name ? { name: job.name } : {}),
      state: job.state === 'downloaded' ? 'succeeded' : (job.state as 'failed' | 'expired' | 'cancelled'),
      ...(job.message ? { message: job.message } : {}),
      ...(job.submittedAt ? { submittedAt: job.submittedAt } : {}),
      ...(job.endedAt ? { endedAt: job.endedAt } : {}),
    };
  }

  /** The batch stopped: cut the step in flight; the loop then cancels the running jobs. */
  stopped(): void {
    this.current?.cancel();
  }

  /** Before a continue-as-new: the step in flight finishes, nothing new starts; the states carry over. */
  async drain(): Promise<void> {
    this.draining = true;
    await this.done;
  }

  /** Resolves once every job has ended (or the batch stopped and the running jobs were cancelled). */
  finished(): Promise<void> {
    return this.done;
  }

  private jobOf(index: number): BatchJobProgress | undefined {
    const jobs = this.api.jobs;
    if (this.cursor >= jobs.length || index < (jobs[this.cursor]?.start ?? 0)) this.cursor = 0;
    while (this.cursor < jobs.length && index >= (jobs[this.cursor]?.end ?? 0)) this.cursor += 1;
    return jobs[this.cursor];
  }

  private async run(): Promise<void> {
    const { pollIntervalMs } = this.setup.options;
    // The waits grow, never shrink: a first wait above the ceiling raises it.
    const maxPollIntervalMs = Math.max(this.setup.options.maxPollIntervalMs, pollIntervalMs);
    let delay = pollIntervalMs;
    for (;;) {
      if (this.control.stop) return this.cancelRunning();
      if (this.draining) return;
      const unsubmitted = this.api.jobs.find((job) => job.state === 'unsubmitted');
      if (unsubmitted && !this.control.paused) {
        await this.interruptible(() => this.submit(unsubmitted));
        delay = pollIntervalMs;
        continue;
      }
      const succeeded = this.api.jobs.find((job) => job.state === 'succeeded');
      if (succeeded) {
        await this.interruptible(() => this.download(succeeded));
        continue;
      }
      const running = this.api.jobs.filter((job) => job.state === 'pending' || job.state === 'running');
      if (!unsubmitted && running.length === 0) return;
      // Sleep until the next poll — or a stop, a drain, or a resume with jobs left to submit.
      const woken = () => this.control.stop !== undefined || this.draining || (!!unsubmitted && !this.control.paused);
      if (running.length === 0) {
        await condition(woken);
        continue;
      }
      if (await condition(woken, delay)) continue;
      const changed = await this.interruptible(() => this.poll(running));
      delay = changed ? pollIntervalMs : Math.min(Math.round(delay * POLL_GROWTH), maxPollIntervalMs);
    }
  }

  /** Runs one step so that a stop cuts it short (the loop then sees the stop). */
  private async interruptible<T>(step: () => Promise<T>): Promise<T | undefined> {
    const scope = new CancellationScope();
    this.current = scope;
    try {
      return await scope.run(step);
    } catch (error) {
      if (isCancellation(error) && this.control.stop) return undefined;
      throw error;
    } finally {
      this.current = undefined;
    }
  }

  private async submit(job: BatchJobProgress): Promise<void> {
    this.attempted.add(job.number);
    const { batchId, taskName, model, generation, cachedContent, options } = this.setup;
    try {
      const items = `items ${job.start + 1}–${job.end}`;
      const { submitBatchJob } = longSteps(`submit batch job ${job.number} (${items})`);
      const submitted = await submitBatchJob({
        batchId,
        taskName,
        number: job.number,
        model,
        generation,
        ...(cachedContent ? { cachedContent } : {}),
        source: this.setup.itemsOf(job),
        ...(options.inlineLimitBytes !== undefined ? { inlineLimitBytes: options.inlineLimitBytes } : {}),
      });
      job.name = submitted.name;
      job.submittedAt = new Date().toISOString();
      if (submitted.file) job.file = true;
      log.info('batch job submitted', { displayName: job.displayName, name: job.name, requests: submitted.requests });
      // A job found again (an earlier attempt created it) may have ended already.
      this.apply(job, { name: submitted.name, state: submitted.state });
    } catch (error) {
      if (isCancellation(error)) throw error;
      // The provider refused the job for good (the classifier says so): its items go online.
      this.end(job, 'failed', `the job could not be submitted: ${messageOf(error)}`);
    }
  }

  private async download(job: BatchJobProgress): Promise<void> {
    const { batchId, taskName } = this.setup;
    try {
      const { downloadBatchJob } = longSteps(`download batch job ${job.number} (${job.name})`);
      const staged = await downloadBatchJob({
        batchId,
        taskName,
        number: job.number,
        name: job.name ?? '',
        source: this.setup.idsOf(job),
      });
      job.state = 'downloaded';
      log.info('batch job downloaded', { displayName: job.displayName, ...staged });
    } catch (error) {
      if (isCancellation(error)) throw error;
      // E.g. the responses do not match the requests: never a silent shift; the items go online.
      this.end(job, 'failed', `its answers could not be read: ${messageOf(error)}`);
    }
  }

  /** Polls the running jobs at once; true when one of them changed state. */
  private async poll(running: BatchJobProgress[]): Promise<boolean> {
    const numbers = running.map((job) => job.number).join(', ');
    const { getBatchJobs } = shortSteps(`poll batch job${running.length > 1 ? 's' : ''} ${numbers}`);
    const statuses = await getBatchJobs({ names: running.map((job) => job.name ?? '') });
    let changed = false;
    for (const status of statuses) {
      const job = running.find((candidate) => candidate.name === status.name);
      if (!job) continue;
      job.stats = status.stats;
      if (status.state === job.state) continue;
      changed = true;
      this.apply(job, status);
    }
    return changed;
  }

  private apply(job: BatchJobProgress, status: Pick<BatchJobStatus, 'name' | 'state' | 'error'>): void {
    if (status.state === 'pending' || status.state === 'running') {
      job.state = status.state;
      return;
    }
    if (status.state === 'succeeded') {
      job.state = 'succeeded';
      job.endedAt = new Date().toISOString();
      return;
    }
    const why = status.error?.message ? `: ${status.error.message}` : '';
    this.end(job, status.state, `batch job ${job.name} ended ${status.state.toUpperCase()}${why}`);
  }

  private end(job: BatchJobProgress, state: 'failed' | 'expired' | 'cancelled', message: string): void {
    job.state = state;
    job.message = message;
    job.endedAt = new Date().toISOString();
    log.warn('batch job ended without answers: its items go online at stage 1', {
      displayName: job.displayName,
      state,
      message,
    });
  }

  /** The batch stopped: the provider jobs still running (or being created) are cancelled; their items are never started. */
  private async cancelRunning(): Promise<void> {
    const running = this.api.jobs.filter(
      (job) =>
        job.state === 'pending' ||
        job.state === 'running' ||
        (job.state === 'unsubmitted' && this.attempted.has(job.number)),
    );
    if (running.length === 0) return;
    const { cancelBatchJobs } = shortSteps(`cancel batch jobs ${running.map((job) => job.number).join(', ')}`);
    const outcomes = await CancellationScope.nonCancellable(() =>
      cancelBatchJobs({
        names: running.flatMap((job) => (job.name ? [job.name] : [])),
        displayNames: running.flatMap((job) => (job.name ? [] : [job.displayName])),
      }),
    );
    const reason = this.control.stop?.reason ?? 'batch stopped';
    for (const outcome of outcomes) {
      const job = this.api.jobs.find(
        (candidate) =>
          (outcome.displayName !== undefined && candidate.displayName === outcome.displayName) ||
          (outcome.name !== undefined && candidate.name === outcome.name),
      );
      if (!job) continue;
      if (outcome.name) job.name = outcome.name;
      if (outcome.cancelled) {
        job.state = 'cancelled';
        job.message = `cancelled: ${reason}`;
        job.endedAt = new Date().toISOString();
      } else if (outcome.message) job.message = outcome.message;
    }
  }
}

function messageOf(error: unknown): string {
  const cause = (error as { cause?: { message?: string } }).cause;
  return cause?.message ?? (error instanceof Error ? error.message : String(error));
}
