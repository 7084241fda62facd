import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ServiceError, WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { parseJsonlItems, itemsFromRecords, InputError } from '../input';
import {
  BatchIdSchema,
  BatchInputSchema,
  describeZodError,
  type BatchInput,
  type BatchProgress,
  type BatchSummary,
  type ItemOptions,
  type WorkItem,
} from '../schemas';
import { batchItemsUrl, workflowUrl, type TemporalConfig } from '../temporal/config';
import type { batchWorkflow } from '../../workflows/batch';
import { batchProgressQuery } from '../../workflows/queries';


/** Inline items up to this size travel in the workflow input; larger inputs are read by workers. */
const MAX_INLINE_BYTES = 256 * 1024;

export interface StartBatchOptions {
  taskName: string;
  /** A JSONL file, one object with an `id` per line… */
  inputFile?: string;
  /** …or records given directly (each with an `id`). */
  records?: readonly unknown[];
  batchId?: string;
  concurrency?: number;
  options?: Partial<ItemOptions>;
  /** When given, an unknown task name is rejected here, before anything starts. */
  knownTasks?: readonly string[];
  /** Batch limits (see BatchInputSchema): no item starts after `deadline` (ISO time)… */
  deadline?: string;
  maxTokens?: number;
  maxCostUsd?: number;
  /** Categories whose first occurrence stops the batch (default: authentication, permission_denied, quota_exhausted). */
  failFast?: BatchInput['failFast'];
  /** The batch workflow continues as new past this many events per run (default 7,000). */
  historyEventsPerRun?: number;
}

export interface StartedBatch {
  batchId: string;
  itemCount: number;
  url: string;
  itemsUrl: string;
}

/** Client API: start batches, follow their progress, read their summaries. */
export class BatchClient {
  constructor(
    readonly client: Client,
    readonly config: Pick<TemporalConfig, 'taskQueue' | 'namespace' | 'webUiUrl'>,
  ) {}

  /**
   * Checks the input locally (JSON, ids, duplicates, task name) and starts the batch workflow.
   * Throws InputError naming every problem; nothing is started then.
   */
  async start(options: StartBatchOptions): Promise<StartedBatch> {
    if (options.knownTasks && !options.knownTasks.includes(options.taskName)) {
      throw new InputError('--task', [{ message: `unknown task "${options.taskName}"; known tasks: ${options.knownTasks.join(', ')}` }]);
    }
    let items: WorkItem[];
    let inputFile: string | undefined;
    if (options.inputFile !== undefined) {
      inputFile = path.resolve(options.inputFile);
      let text: string;
      try {
        text = await readFile(inputFile, 'utf8');
      } catch (error) {
        throw new InputError(options.inputFile, [{ message: `cannot read: ${(error as Error).message}` }]);
      }
      items = parseJsonlItems(text, options.inputFile).items;
    } else if (options.records !== undefined) {
      items = itemsFromRecords(options.records);
    } else {
      throw new InputError('batch', [{ message: 'give an input file or records' }]);
    }
    const batchId = options.batchId ?? defaultBatchId(options.taskName);
    const idCheck = BatchIdSchema.safeParse(batchId);
    if (!idCheck.success) throw new InputError('--batch-id', describeZodError(idCheck.error).map((issue) => ({ message: issue.message })));

    const inline = inputFile === undefined || Buffer.byteLength(JSON.stringify(items)) <= MAX_INLINE_BYTES;
    const input: BatchInput = {
      batchId,
      taskName: options.taskName,
      ...(inline ? { items } : { inputFile }),
      ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
      ...(options.options ? { options: options.options } : {}),
      ...(options.deadline !== undefined ? { deadline: options.deadline } : {}),
      ...(options.maxTokens !== undefined ? { maxTokens: options.maxTokens } : {}),
      ...(options.maxCostUsd !== undefined ? { maxCostUsd: options.maxCostUsd } : {}),
      ...(options.failFast !== undefined ? { failFast: options.failFast } : {}),
      ...(options.historyEventsPerRun !== undefined ? { historyEventsPerRun: options.historyEventsPerRun } : {}),
    } as BatchInput;
    const checked = BatchInputSchema.safeParse(input);
    if (!checked.success) {
      throw new InputError('batch options', describeZodError(checked.error).map((issue) => ({ field: issue.path, message: issue.message })));
    }
    try {
      await this.client.workflow.start<typeof batchWorkflow>('batchWorkflow', {
        workflowId: batchId,
        taskQueue: this.config.taskQueue,
        args: [input],
        searchAttributes: { BatchId: [batchId], TaskName: [options.taskName] },
        staticSummary: `batch ${batchId}: ${items.length} items of task ${options.taskName}`,
      });
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) {
        throw new Error(`batch "${batchId}" already exists; follow it with \`batch-llm status ${batchId}\` or choose another --batch-id`, { cause: error });
      }
      throw error;
    }
    return { batchId, itemCount: items.length, url: workflowUrl(this.config, batchId), itemsUrl: batchItemsUrl(this.config, batchId) };
  }

  /** Live counters of a running (or finished) batch. */
  async progress(batchId: string): Promise<BatchProgress> {
    return this.client.workflow.getHandle(batchId).query(batchProgressQuery);
  }

  /** Waits for the batch to end and returns its summary. */
  async summary(batchId: string): Promise<BatchSummary> {
    const handle = this.client.workflow.getHandle<typeof batchWorkflow>(batchId);
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await handle.result();
      } catch (error) {
        // A wait of hours can outlive a gRPC deadline or meet a server restart: wait again.
        if (attempt >= SUMMARY_ATTEMPTS || !isTransientRpcFailure(error)) throw error;
        await sleep(SUMMARY_RETRY_DELAY_MS);
      }
    }
  }

  /** Calls `onProgress` every `intervalMs` until the batch ends; returns the summary. */
  async watch(batchId: string, onProgress: (progress: BatchProgress) => void, intervalMs = 1000): Promise<BatchSummary> {
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
