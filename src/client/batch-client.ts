import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  type Client,
  ServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type WorkflowHandle,
} from '@temporalio/client';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import { connectTemporalClient } from '../temporal/connection';
import { BatchIdSearchAttribute, RerunOfSearchAttribute, TaskNameSearchAttribute } from '../search-attributes';
import { ApplicationFailure, TemporalFailure } from '@temporalio/common';
import { BatchExistsError, BatchFailedError, BatchNotFoundError, BatchRunningError } from './errors';
import type { z } from 'zod';
import { checkItemsAgainstTask, parseJsonlItems, itemsFromRecords, InputError, type InputProblem } from '../input';
import {
  BatchIdSchema,
  BatchInputSchema,
  describeZodError,
  type BatchControlState,
  type BatchInput,
  type ValidationIssue,
  type BatchProgress,
  type BatchSummary,
  type ItemOptions,
  type ItemStatus,
  type RerunSelection,
  type WorkItem,
  RERUN_DEFAULT_STATUSES,
} from '../schemas';
import { describeSelection } from '../rerun';
import type { ErrorCategory } from '../errors/categories';
import { batchStateOf, type BatchState } from '../batch-state';
import { batchItemsUrl, temporalConfigFromEnv, workflowUrl, type TemporalConfig } from '../temporal/config';
import {
  batchProgressQuery,
  cancelBatchUpdate,
  pauseBatchUpdate,
  quotaScopeQuery,
  resumeBatchUpdate,
  setConcurrencyUpdate,
} from '../contract/messages';

/**
 * Inline items up to this size travel in the workflow input; larger input files are read by the
 * workers at their path. Below the claim check's default threshold (128 KiB, src/privacy/), so an
 * input file never lands in the blob directory: the two would ask different things of workers on
 * several machines (the file's path, or the blob directory, shared).
 */
const MAX_INLINE_BYTES = 100 * 1024;

export interface StartBatchOptions {
  taskName: string;
  /** A JSONL file, one object with an `id` per line… */
  inputFile?: string;
  /** …or records given directly (each with an `id`). */
  records?: readonly unknown[];
  batchId?: string;
  /**
   * Items in flight at once, or `'auto'`: up to `maxConcurrency` items (default 200), their calls
   * admitted at a request rate the quota scope learns from the provider's answers.
   */
  concurrency?: number | 'auto';
  /** With `concurrency: 'auto'`: items in flight at most. */
  maxConcurrency?: number;
  options?: Partial<ItemOptions>;
  /** When given, an unknown task name is rejected here, before anything starts. */
  knownTasks?: readonly string[];
  /** The task, when this process has it: its item schema is checked here, record by record, before anything starts. */
  task?: { itemSchema?: z.ZodType<unknown> | undefined } | undefined;
  /** Batch limits (see BatchInputSchema): no item starts after `deadline` (ISO time)… */
  deadline?: string;
  maxTokens?: number;
  maxCostUsd?: number;
  /** Categories whose first occurrence stops the batch (default: authentication, permission_denied, quota_exhausted). */
  failFast?: BatchInput['failFast'];
  /** The batch workflow continues as new past this many events per run (default 7,000). */
  historyEventsPerRun?: number;
  /**
   * Batch Mode: stage 1 of every item through the provider's batch API at half the online price
   * (`{}` for the defaults: jobs of up to 1,000 items, polled from every 30 s up to every 10 min).
   */
  batchApi?: BatchInput['batchApi'];
}

/** A batch whose input passed every local check: what `start` sends to Temporal. */
export interface PreparedBatch {
  batchId: string;
  itemCount: number;
  input: BatchInput;
}

export interface StartedBatch {
  batchId: string;
  itemCount: number;
  url: string;
  itemsUrl: string;
}

export interface RerunOptions {
  /** Statuses of the origin's items to run again (default: failed, blocked, cancelled, deadline_exceeded). */
  statuses?: readonly ItemStatus[];
  /** Only items that ended with one of these error categories. */
  categories?: readonly ErrorCategory[];
  /** The rerun's id (default `<origin>-rerun-<n>`, n one more than its reruns so far). */
  batchId?: string;
  /** Else the origin's (a number replaces an origin's `auto`). */
  concurrency?: number | 'auto';
  /** Item options over the origin's (model, stage plan, call timeout, …). */
  options?: Partial<ItemOptions>;
  /** No item starts after this moment (the origin's deadline is not carried over: it has usually passed). */
  deadline?: string;
  /** Batch Mode: else the origin's; `null` runs the rerun online even when the origin used Batch Mode. */
  batchApi?: BatchInput['batchApi'] | null;
}

export interface StartedRerun extends StartedBatch {
  rerunOf: RerunSelection;
}

export interface ListBatchesOptions {
  /** Only running batches. */
  running?: boolean;
  taskName?: string;
  /** Only batches started at or after this time. */
  since?: Date;
  /** At most this many, newest first (default 20). */
  limit?: number;
}

/** One batch as `list` shows it. */
export interface ListedBatch {
  batchId: string;
  taskName: string;
  /** RUNNING, COMPLETED, FAILED, … (the batch workflow's status). */
  status: string;
  /** What its counters say (running, paused, succeeded, completed_with_failures, stopped, …); unknown when its progress could not be read. */
  state: BatchState | 'failed' | 'unknown';
  startedAt: string;
  closedAt?: string;
  progress?: BatchProgress;
  rerunOf?: string;
  url: string;
}

/** Client API: start batches, follow their progress, control them, read their summaries. */
export class BatchClient {
  constructor(
    readonly client: Client,
    readonly config: Pick<TemporalConfig, 'taskQueue' | 'namespace' | 'webUiUrl'>,
  ) {}

  /**
   * Connects to Temporal as configured (TEMPORAL_* variables by default: address, namespace, task
   * queue, TLS or API key); TemporalUnreachableError, naming the address, when nothing answers.
   */
  static async connect(config: TemporalConfig = temporalConfigFromEnv()): Promise<BatchClient> {
    return new BatchClient(await connectTemporalClient(config), config);
  }

  /**
   * Checks the input locally (JSON, ids, duplicates, task name) and starts the batch workflow.
   * Throws InputError naming every problem; nothing is started then. Given a PreparedBatch, it
   * starts that without checking again.
   */
  async start(options: StartBatchOptions | PreparedBatch): Promise<StartedBatch> {
    const { itemCount, input } = 'input' in options ? options : await BatchClient.prepare(options);
    return { ...(await this.startInput(input, `${itemCount} items of task ${input.taskName}`)), itemCount };
  }

  private async startInput(input: BatchInput, description: string): Promise<Omit<StartedBatch, 'itemCount'>> {
    const batchId = input.batchId;
    try {
      await this.client.workflow.start<BatchWorkflow>('batchWorkflow', {
        workflowId: batchId,
        taskQueue: this.config.taskQueue,
        args: [input],
        typedSearchAttributes: [
          { key: BatchIdSearchAttribute, value: batchId },
          { key: TaskNameSearchAttribute, value: input.taskName },
          ...(input.rerunOf ? [{ key: RerunOfSearchAttribute, value: input.rerunOf.batchId }] : []),
        ],
        staticSummary: `batch ${batchId}: ${description}`,
        // A batch id names one run, running or ended: starting it again would re-run (and re-pay)
        // every item while results, status and the Web UI described different runs.
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        workflowIdConflictPolicy: 'FAIL',
      });
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError)
        throw new BatchExistsError(batchId, await this.statusOf(batchId), { cause: error });
      throw error;
    }
    return { batchId, url: workflowUrl(this.config, batchId), itemsUrl: batchItemsUrl(this.config, batchId) };
  }

  /**
   * The local half of `start`: reads and checks the input (JSON, ids, duplicates, task name, item
   * schema, batch options) without Temporal, so a bad file is reported even when no server answers.
   */
  static async prepare(options: StartBatchOptions): Promise<PreparedBatch> {
    if (options.knownTasks && !options.knownTasks.includes(options.taskName)) {
      throw new InputError('--task', [
        { message: `unknown task "${options.taskName}"; known tasks: ${options.knownTasks.join(', ')}` },
      ]);
    }
    let items: WorkItem[];
    let lines: number[] | undefined;
    let inputFile: string | undefined;
    if (options.inputFile !== undefined) {
      inputFile = path.resolve(options.inputFile);
      let text: string;
      try {
        text = await readFile(inputFile, 'utf8');
      } catch (error) {
        throw new InputError(options.inputFile, [{ message: `cannot read: ${(error as Error).message}` }]);
      }
      const parsed = parseJsonlItems(text, options.inputFile);
      items = parsed.items;
      lines = parsed.lines;
    } else if (options.records !== undefined) {
      items = itemsFromRecords(options.records);
    } else {
      throw new InputError('batch', [{ message: 'give an input file or records' }]);
    }
    if (options.task) {
      const problems = checkItemsAgainstTask(options.task, items, lines);
      if (problems.length > 0) throw new InputError(options.inputFile ?? 'records', problems);
    }
    const batchId = options.batchId ?? defaultBatchId(options.taskName);
    const idCheck = BatchIdSchema.safeParse(batchId);
    if (!idCheck.success)
      throw new InputError(
        '--batch-id',
        describeZodError(idCheck.error).map((issue) => ({ message: issue.message })),
      );

    const inline = inputFile === undefined || Buffer.byteLength(JSON.stringify(items)) <= MAX_INLINE_BYTES;
    const input: BatchInput = {
      batchId,
      taskName: options.taskName,
      ...(inline ? { items } : { inputFile }),
      ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
      ...(options.maxConcurrency !== undefined ? { maxConcurrency: options.maxConcurrency } : {}),
      ...(options.options ? { options: options.options } : {}),
      ...(options.deadline !== undefined ? { deadline: options.deadline } : {}),
      ...(options.maxTokens !== undefined ? { maxTokens: options.maxTokens } : {}),
      ...(options.maxCostUsd !== undefined ? { maxCostUsd: options.maxCostUsd } : {}),
      ...(options.failFast !== undefined ? { failFast: options.failFast } : {}),
      ...(options.historyEventsPerRun !== undefined ? { historyEventsPerRun: options.historyEventsPerRun } : {}),
      ...(options.batchApi !== undefined ? { batchApi: options.batchApi } : {}),
    } as BatchInput;
    const checked = BatchInputSchema.safeParse(input);
    if (!checked.success) {
      throw new InputError(
        'batch options',
        describeZodError(checked.error).map((issue) => ({ field: issue.path, message: issue.message })),
      );
    }
    return { batchId, itemCount: items.length, input };
  }

  /** The batch workflow's status name (RUNNING, COMPLETED, FAILED, …); BatchNotFoundError when there is none. */
  async statusOf(batchId: string): Promise<string> {
    try {
      return (await this.client.workflow.getHandle(batchId).describe()).status.name;
    } catch (error) {
      if (error instanceof WorkflowNotFoundError)
        throw new BatchNotFoundError(`no batch "${batchId}" in namespace ${this.client.options.namespace}`, {
          cause: error,
        });
      throw error;
    }
  }

  /**
   * The batch's input as it was started. Its first run's: a batch that continued as new carries
   * counters in later runs' inputs, not its items.
   */
  async originalInput(batchId: string): Promise<BatchInput> {
    const handle = this.client.workflow.getHandle(batchId);
    let firstRunId: string;
    try {
      const description = await handle.describe();
      firstRunId = description.raw.workflowExecutionInfo?.firstRunId || description.runId;
    } catch (error) {
      if (error instanceof WorkflowNotFoundError)
        throw new BatchNotFoundError(`no batch "${batchId}" in namespace ${this.client.options.namespace}`, {
          cause: error,
        });
      throw error;
    }
    const history = await this.client.workflow.getHandle(batchId, firstRunId).fetchHistory();
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    if (!started) throw new BatchFailedError(`batch "${batchId}": its first run's history has no start event`);
    return decodeFromPayloadsAtIndex<BatchInput>(this.client.options.loadedDataConverter, 0, started.input?.payloads);
  }

  /**
   * Starts a batch with the items of an ended batch whose final records match (by default those
   * without a usable answer): the same task, input and options unless overridden. The workers
   * select the items from the results store, so the rerun works wherever the input is readable by
   * workers. Waits until the rerun's workers have counted its items; InputError when none match.
   */
  async rerun(originId: string, options: RerunOptions = {}): Promise<StartedRerun> {
    const origin = await this.originalInput(originId);
    if ((await this.statusOf(originId)) === 'RUNNING') throw new BatchRunningError(originId);
    const rerunOf: RerunSelection = {
      batchId: originId,
      statuses: [...(options.statuses ?? RERUN_DEFAULT_STATUSES)],
      ...(options.categories && options.categories.length > 0 ? { categories: [...options.categories] } : {}),
    };
    const { deadline: _originDeadline, rerunOf: _originsOrigin, batchApi: originBatchApi, ...originInput } = origin;
    // A fixed concurrency replaces an origin's `auto`, and its cap with it.
    const { maxConcurrency: _originCap, ...withoutCap } = originInput;
    const carried = typeof options.concurrency === 'number' ? withoutCap : originInput;
    const batchApi = options.batchApi === null ? undefined : (options.batchApi ?? originBatchApi);
    const input = {
      ...carried,
      ...(batchApi !== undefined ? { batchApi } : {}),
      batchId: options.batchId ?? (await this.nextRerunId(originId)),
      ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
      options: { ...origin.options, ...options.options },
      ...(options.deadline !== undefined ? { deadline: options.deadline } : {}),
      rerunOf,
    } as BatchInput;
    const checked = BatchInputSchema.safeParse(input);
    if (!checked.success) {
      throw new InputError(
        'rerun options',
        describeZodError(checked.error).map((issue) => ({ field: issue.path, message: issue.message })),
      );
    }
    const started = await this.startInput(input, `rerun of ${describeSelection(rerunOf)}`);
    const itemCount = await this.countedItems(input.batchId);
    return { ...started, itemCount, rerunOf };
  }

  /**
   * `concurrency: 'auto'`: the request rate each running quota scope of this task queue has
   * learned (requests per minute), and where the quota last bit. Empty when none has one yet.
   */
  async learnedRates(): Promise<Array<{ scope: string; rpm: number; ceilingRpm?: number }>> {
    const rates: Array<{ scope: string; rpm: number; ceilingRpm?: number }> = [];
    const query = `WorkflowType = "quotaScopeWorkflow" AND ExecutionStatus = "Running"`;
    for await (const execution of this.client.workflow.list({ query })) {
      if (!execution.workflowId.startsWith(`quota/${this.config.taskQueue}/`)) continue;
      const state = await this.client.workflow
        .getHandle(execution.workflowId)
        .query(quotaScopeQuery)
        .catch(() => undefined);
      const rate = state?.adaptive;
      if (!rate) continue;
      rates.push({
        scope: execution.workflowId,
        rpm: Math.round(rate.rpm),
        ...(rate.ceilingRpm !== undefined ? { ceilingRpm: Math.round(rate.ceilingRpm) } : {}),
      });
    }
    return rates;
  }

  /**
   * The reruns of a batch, and theirs in turn, oldest first (by start time): the order in which
   * their records supersede the origin's (`results --latest`).
   */
  async rerunsOf(batchId: string): Promise<string[]> {
    const found: Array<{ batchId: string; startedAt: number }> = [];
    const seen = new Set([batchId]);
    for (let queue = [batchId]; queue.length > 0;) {
      const origin = queue.shift() as string;
      const query = `WorkflowType = "batchWorkflow" AND ${RerunOfSearchAttribute.name} = "${origin}" AND ExecutionStatus != "ContinuedAsNew"`;
      for await (const execution of this.client.workflow.list({ query })) {
        if (seen.has(execution.workflowId)) continue;
        seen.add(execution.workflowId);
        found.push({ batchId: execution.workflowId, startedAt: execution.startTime.getTime() });
        queue.push(execution.workflowId);
      }
    }
    return found.sort((a, b) => a.startedAt - b.startedAt).map((rerun) => rerun.batchId);
  }

  /** `<origin>-rerun-<n>`: one more than the origin's reruns Temporal knows of. */
  private async nextRerunId(originId: string): Promise<string> {
    const { count } = await this.client.workflow.count(
      `WorkflowType = "batchWorkflow" AND ${RerunOfSearchAttribute.name} = "${originId}" AND ExecutionStatus != "ContinuedAsNew"`,
    );
    return `${originId}-rerun-${count + 1}`;
  }

  /** The item count a batch's workers found (after preparing it); the batch's failure when they refused it. */
  private async countedItems(batchId: string): Promise<number> {
    for (;;) {
      const progress = await this.progress(batchId).catch(() => undefined);
      if (progress && progress.total > 0) return progress.total;
      if ((await this.statusOf(batchId)) !== 'RUNNING') return (await this.summary(batchId)).total;
      await sleep(200);
    }
  }

  /**
   * Batches in the namespace, newest first, from Temporal's visibility: each with its state and
   * counters (the live query of a running batch, the summary of an ended one).
   */
  async list(options: ListBatchesOptions = {}): Promise<ListedBatch[]> {
    const clauses = ['WorkflowType = "batchWorkflow"', 'ExecutionStatus != "ContinuedAsNew"'];
    if (options.running) clauses.push('ExecutionStatus = "Running"');
    if (options.taskName) clauses.push(`${TaskNameSearchAttribute.name} = "${options.taskName.replace(/"/g, '')}"`);
    if (options.since) clauses.push(`StartTime >= "${options.since.toISOString()}"`);
    const limit = options.limit ?? 20;
    const found: ListedBatch[] = [];
    for await (const execution of this.client.workflow.list({ query: clauses.join(' AND '), pageSize: limit })) {
      const attributes = execution.searchAttributes as Record<string, unknown[] | undefined>;
      const rerunOf = attributes[RerunOfSearchAttribute.name]?.[0];
      found.push({
        batchId: execution.workflowId,
        taskName: String(attributes[TaskNameSearchAttribute.name]?.[0] ?? ''),
        status: execution.status.name,
        state: 'unknown',
        startedAt: execution.startTime.toISOString(),
        ...(execution.closeTime ? { closedAt: execution.closeTime.toISOString() } : {}),
        ...(typeof rerunOf === 'string' ? { rerunOf } : {}),
        url: workflowUrl(this.config, execution.workflowId),
      });
      if (found.length >= limit) break;
    }
    await Promise.all(found.map((batch) => this.fillProgress(batch)));
    return found;
  }

  private async fillProgress(batch: ListedBatch): Promise<void> {
    try {
      batch.progress =
        batch.status === 'RUNNING'
          ? await this.progress(batch.batchId)
          : await this.client.workflow.getHandle<BatchWorkflow>(batch.batchId).result();
      batch.state = batchStateOf(batch.progress);
    } catch (error) {
      // A batch that failed (its input refused, say) has no summary: its status says it.
      if (error instanceof WorkflowFailedError) batch.state = 'failed';
      else throw error;
    }
  }

  /** Stops starting items (those in flight finish). BatchNotFoundError when there is no running batch of that id. */
  pause(batchId: string): Promise<BatchControlState> {
    return this.control(batchId, 'pause', (handle) => handle.executeUpdate(pauseBatchUpdate));
  }

  /** Starts items of a paused batch again. */
  resume(batchId: string): Promise<BatchControlState> {
    return this.control(batchId, 'resume', (handle) => handle.executeUpdate(resumeBatchUpdate));
  }

  /** How many items run at once (1 to 10,000), from now on. */
  setConcurrency(batchId: string, concurrency: number): Promise<BatchControlState> {
    return this.control(batchId, 'set-concurrency', (handle) =>
      handle.executeUpdate(setConcurrencyUpdate, { args: [concurrency] }),
    );
  }

  /** Stops dispatch, cancels the items in flight and their model calls, marks the rest `cancelled`. */
  cancel(batchId: string, reason = 'cancelled on request'): Promise<BatchControlState> {
    return this.control(batchId, 'cancel', (handle) => handle.executeUpdate(cancelBatchUpdate, { args: [reason] }));
  }

  /** One control update; a batch that is not running (none, or already ended) is BatchNotFoundError saying which. */
  private async control(
    batchId: string,
    what: string,
    send: (handle: WorkflowHandle) => Promise<BatchControlState>,
  ): Promise<BatchControlState> {
    try {
      return await send(this.client.workflow.getHandle(batchId));
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
      // The server says "not found" both when there is no such batch and when it has ended.
      const status = await this.statusOf(batchId);
      throw new BatchNotFoundError(
        `batch "${batchId}" has already ended (${status}); there is nothing to ${what}. Its summary: batch-llm status ${batchId}`,
        { cause: error },
      );
    }
  }

  /** Live counters of a running (or finished) batch. */
  async progress(batchId: string): Promise<BatchProgress> {
    return this.client.workflow.getHandle(batchId).query(batchProgressQuery);
  }

  /**
   * Waits for the batch to end and returns its summary. A batch whose input a worker refused throws
   * InputError naming the problems (as `start` does for problems it finds itself); one that failed
   * otherwise throws BatchFailedError with the root cause's message.
   */
  async summary(batchId: string): Promise<BatchSummary> {
    const handle = this.client.workflow.getHandle<BatchWorkflow>(batchId);
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await handle.result();
      } catch (error) {
        if (error instanceof WorkflowFailedError) throw batchFailure(batchId, error);
        if (error instanceof WorkflowNotFoundError)
          throw new BatchNotFoundError(`no batch "${batchId}" in namespace ${this.client.options.namespace}`, {
            cause: error,
          });
        // A wait of hours can outlive a gRPC deadline or meet a server restart: wait again.
        if (attempt >= SUMMARY_ATTEMPTS || !isTransientRpcFailure(error)) throw error;
        await sleep(SUMMARY_RETRY_DELAY_MS);
      }
    }
  }

  /** Calls `onProgress` every `intervalMs` until the batch ends; returns the summary. */
  async watch(
    batchId: string,
    onProgress: (progress: BatchProgress) => void,
    intervalMs = 1000,
  ): Promise<BatchSummary> {
    let finished = false;
    const result = this.summary(batchId).finally(() => {
      finished = true;
    });
    while (!finished) {
      const progress = await this.progress(batchId).catch(() => undefined); // query races with completion; the next tick or the result settles it
      if (progress && !finished) onProgress(progress);
      await Promise.race([result.catch(() => undefined), sleep(intervalMs)]);
    }
    return result;
  }
}

/** Why a batch workflow failed, as the error a user acts on. */
/** The batch workflow as clients see it (its second argument is for its own continue-as-new). */
type BatchWorkflow = (input: BatchInput) => Promise<BatchSummary>;

function batchFailure(batchId: string, error: WorkflowFailedError): Error {
  let cause: unknown = error.cause;
  while (cause instanceof TemporalFailure && !(cause instanceof ApplicationFailure) && cause.cause) cause = cause.cause;
  if (cause instanceof ApplicationFailure && (cause.type === 'invalid_input' || cause.type === 'unknown_task')) {
    const details = Array.isArray(cause.details?.[0])
      ? (cause.details[0] as Array<Partial<InputProblem & ValidationIssue>>)
      : [];
    const problems: InputProblem[] =
      details.length > 0
        ? details.map(({ line, itemId, field, path: issuePath, message }) => ({
            ...(line !== undefined ? { line } : {}),
            ...(itemId !== undefined ? { itemId } : {}),
            ...((field ?? issuePath) !== undefined ? { field: field ?? issuePath } : {}),
            message: message ?? cause.message,
          }))
        : [{ message: cause.message }];
    return new InputError(`batch "${batchId}" (checked by a worker)`, problems, { cause: error });
  }
  const message = cause instanceof Error ? cause.message : error.message;
  return new BatchFailedError(`batch "${batchId}" failed: ${message}`, { cause: error });
}

function defaultBatchId(taskName: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  const suffix = Math.random().toString(36).slice(2, 6);
  return `${taskName.replace(/[^A-Za-z0-9._:-]/g, '-')}-${stamp}-${suffix}`;
}

const SUMMARY_ATTEMPTS = 10;
const SUMMARY_RETRY_DELAY_MS = 1_000;
/** gRPC DEADLINE_EXCEEDED and UNAVAILABLE: the batch is fine, the wait for it was cut. */
const TRANSIENT_GRPC_CODES = new Set([4, 14]);

export function isTransientRpcFailure(error: unknown): boolean {
  if (!(error instanceof ServiceError)) return false;
  const code = (error.cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' && TRANSIENT_GRPC_CODES.has(code);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
