import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { BatchActivities, PrepareBatchOutput } from '../activities';
import type { CachePlan } from '../src/caching/spec';
import { cacheStorageCost, priceFor } from '../src/pricing';
import { CATEGORY_TABLE } from '../src/errors/categories';
import type {
  BatchApiProgress,
  BatchJobProgress,
  BatchControlState,
  BatchInput,
  BatchProgress,
  BatchStop,
  BatchSummary,
  ItemOutcome,
  ItemWorkflowInput,
  ParsedBatchInput,
  RerunSelection,
  WorkItem,
} from '../src/schemas';
import { emptyUsage } from '../src/usage';
import { DEFAULT_CONCURRENCY, DEFAULT_MAX_CONCURRENCY } from '../src/constants';
import {
  BatchIdSearchAttribute,
  ItemStatusSearchAttribute,
  StageSearchAttribute,
  TaskNameSearchAttribute,
} from '../src/search-attributes';
import { batchStateOf } from '../src/batch-state';
import { itemWorkflow } from './item';
import { isItemOutcome } from './item-result';
import {
  batchProgressQuery,
  cacheNameSignal,
  cancelBatchUpdate,
  pauseBatchUpdate,
  resumeBatchUpdate,
  setConcurrencyUpdate,
} from '../src/contract/messages';
import { markFinished, markSkipped, markStarted, newProgress } from './progress';
import { BatchJobRunner, batchDeadlineWarning, planBatchJobs } from './batch-jobs';
import { DEFAULT_STAGE_PLAN } from '../src/stages';

/** Item workflow ids are `<batchId>/<itemId>`: navigable in the Web UI and idempotent on restart. */
export function itemWorkflowId(batchId: string, itemId: string): string {
  return `${batchId}/${itemId}`;
}

const {
  checkBatchInput,
  prepareBatch,
  readInputPage,
  acquireCache,
  releaseCache,
  recordSkippedItems,
  clearBatchAnswers,
} = proxyActivities<BatchActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5 },
});

type ItemCache = NonNullable<ItemWorkflowInput['cache']>;

/**
 * The batch's items: inline or small ones in memory; a big input file read page by page as items
 * are dispatched, so no payload (and no history event) carries the whole input.
 */
class ItemSource {
  private page: WorkItem[] = [];
  private pageStart = 0;

  constructor(
    private readonly inMemory: WorkItem[] | undefined,
    private readonly inputFile: string | undefined,
    private readonly inputVersion: string | undefined,
    readonly length: number,
    private readonly pageSize: number,
    private readonly rerunOf: RerunSelection | undefined,
  ) {}

  /** The item when it is at hand (in memory, or on the page read last), without an activity. */
  cached(index: number): WorkItem | undefined {
    if (this.inMemory) return this.inMemory[index];
    return index >= this.pageStart && index < this.pageStart + this.page.length
      ? this.page[index - this.pageStart]
      : undefined;
  }

  async at(index: number): Promise<WorkItem> {
    const cached = this.cached(index);
    if (cached) return cached;
    this.pageStart = index;
    this.page = await readInputPage({
      inputFile: this.inputFile ?? '',
      inputVersion: this.inputVersion ?? '',
      offset: index,
      limit: this.pageSize,
      ...(this.rerunOf ? { rerunOf: this.rerunOf } : {}),
    });
    return this.page[0] as WorkItem;
  }

  /** Every item from `index` on (for recording the ones a stopped batch never started). */
  async from(index: number): Promise<WorkItem[]> {
    const rest: WorkItem[] = [];
    for (let position = index; position < this.length; position += 1) rest.push(await this.at(position));
    return rest;
  }
}

/** What one run of a batch hands to the next when it continues as new. */
export interface BatchCarry {
  /** The input as checked by the first run. */
  input: ParsedBatchInput;
  /** Index of the next item to start. */
  next: number;
  progress: BatchProgress;
  prepared: PrepareBatchOutput;
  cache?: ItemCache;
}

/** See runItemWorkflow: bounds how long a cancellation waits behind a local model call (~4 s). */
const ITEM_WORKFLOW_TASK_TIMEOUT = '5 seconds';

/** Keeps each activity payload small when many items end unstarted. */
const SKIPPED_PER_ACTIVITY = 1000;

/**
 * A batch: check the input (nothing starts if anything is wrong), then keep at most
 * `concurrency` item workflows running until every item has finished. Returns a summary;
 * item outputs go to the results store, not into this history. Past `historyEventsPerRun`
 * events a run stops dispatching, lets its items in flight finish, and continues as new with
 * its cursor and counters (`carried`), so a batch of any size keeps every history bounded.
 */
export async function batchWorkflow(rawInput: BatchInput, carried?: BatchCarry): Promise<BatchSummary> {
  const startedAt = carried?.progress.startedAt ?? new Date(workflowInfo().startTime).toISOString();
  // Queries and controls are answered from the first moment, while the input is still being checked.
  let progress: BatchProgress =
    carried?.progress ??
    newProgress(String(rawInput?.batchId ?? ''), String(rawInput?.taskName ?? ''), 0, startedAt, DEFAULT_CONCURRENCY);
  const control: BatchControlState = progress.control;
  /**
   * Every item workflow in flight runs in this one scope, which a stop that cancels them cancels
   * (no item starts after that). One scope for all: each scope costs the worker promises and stack traces.
   */
  const itemsScope = new CancellationScope();
  let running = 0;
  /** Batch Mode's provider jobs (`--batch-api`), once the input is prepared. */
  let jobs: BatchJobRunner | undefined;
  /** Stops dispatching (once); cancelling in-flight items too when asked. */
  const stop = (kind: BatchStop['kind'], reason: string, cancelInFlight: boolean): void => {
    if (control.stop) return;
    control.stop = { kind, reason };
    log.warn('batch stops dispatching', { batchId: progress.batchId, kind, reason, inFlight: running });
    if (cancelInFlight) itemsScope.cancel();
    jobs?.stopped();
  };
  setHandler(batchProgressQuery, () => progress);
  setHandler(pauseBatchUpdate, () => ((control.paused = true), control));
  setHandler(resumeBatchUpdate, () => ((control.paused = false), control));
  let concurrencySet = false;
  setHandler(
    setConcurrencyUpdate,
    (concurrency) => ((concurrencySet = true), (control.concurrency = concurrency), control),
    {
      validator: (concurrency) => {
        if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 10_000)
          throw new Error(`concurrency must be an integer from 1 to 10000, got ${concurrency}`);
      },
    },
  );
  setHandler(cancelBatchUpdate, (reason) => (stop('cancelled', reason || 'cancelled on request', true), control));
  const input = carried?.input ?? (await checkedInput(rawInput));
  // The checked input's concurrency, unless a control update already changed it.
  if (!carried && !concurrencySet) control.concurrency = windowOf(input);
  if (input.concurrency === 'auto') control.auto = true;
  upsertSearchAttributes([
    { key: BatchIdSearchAttribute, value: input.batchId },
    { key: TaskNameSearchAttribute, value: input.taskName },
    { key: ItemStatusSearchAttribute, value: 'running' },
  ]);

  const prepared =
    carried?.prepared ??
    (await prepareBatch({
      batchId: input.batchId,
      taskName: input.taskName,
      inputFile: input.inputFile,
      items: input.items,
      modelOverride: input.options.model,
      cacheOverride: input.options.cache,
      pageSize: input.inputPageSize,
      rerunOf: input.rerunOf,
      ...(input.batchApi ? { batchApi: true } : {}),
      ...(input.options.provider ? { providerOverride: input.options.provider } : {}),
    }));
  const inMemory = prepared.items ?? input.items;
  const items = new ItemSource(
    inMemory,
    input.inputFile,
    prepared.inputVersion,
    prepared.itemCount,
    input.inputPageSize,
    input.rerunOf,
  );
  if (!carried)
    progress = {
      ...newProgress(input.batchId, input.taskName, items.length, startedAt, windowOf(input)),
      control,
      ...(input.rerunOf ? { rerunOf: input.rerunOf } : {}),
    };
  const price = priceFor(prepared.model, input.options.prices);

  // The batch's stage plan wins over the task's; items get it resolved. Calls that must wait for
  // admission run as regular activities.
  const stagePlan = input.options.stagePlan ?? prepared.stagePlan;
  const itemOptions = {
    ...input.options,
    ...(stagePlan ? { stagePlan } : {}),
    ...(prepared.admission || control.auto ? { callMode: 'activity' as const } : {}),
  };
  // The lease is the batch's, not a run's: taken by the first run, released by the last.
  const cache = carried
    ? carried.cache
    : prepared.cachePlan
      ? await takeCacheLease(prepared.cachePlan, input.batchId, progress)
      : undefined;
  setHandler(cacheNameSignal, ({ name }) => {
    // An item found the cache recreated: items started from now on use the new one.
    if (cache && progress.cache) {
      cache.name = name;
      progress.cache.name = name;
    }
  });

  if (input.batchApi) {
    if (!carried) {
      progress.batchApi = planBatchJobs(
        input.batchId,
        items.length,
        input.batchApi,
        inMemory ? (index) => JSON.stringify(inMemory[index]).length : undefined,
      );
      const warning = batchDeadlineWarning(input.deadline, Date.now());
      if (warning) {
        progress.batchApi.warning = warning;
        log.warn(warning, { batchId: input.batchId });
      }
    }
    const first = stagePlan?.[0] ?? DEFAULT_STAGE_PLAN[0]!;
    const model = first.model ?? prepared.model;
    const pageOf = (job: BatchJobProgress) => ({
      inputFile: input.inputFile ?? '',
      inputVersion: prepared.inputVersion ?? '',
      offset: job.start,
      limit: job.end - job.start,
      ...(input.rerunOf ? { rerunOf: input.rerunOf } : {}),
    });
    jobs = new BatchJobRunner(
      progress.batchApi as BatchApiProgress,
      {
        batchId: input.batchId,
        taskName: input.taskName,
        model,
        generation: { ...input.options.generation, ...first.generation, temperature: first.temperature },
        cachedContent: cache && cache.model === model ? cache.name : undefined,
        options: input.batchApi,
        itemsOf: (job) => (inMemory ? { items: inMemory.slice(job.start, job.end) } : { page: pageOf(job) }),
        idsOf: (job) =>
          inMemory ? { ids: inMemory.slice(job.start, job.end).map((item) => item.id) } : { page: pageOf(job) },
      },
      control,
    );
    jobs.start();
  }

  const runItem = async (item: WorkItem, batchJob: ItemWorkflowInput['batchJob']): Promise<void> => {
    const outcome = await itemsScope.run(() =>
      runItemWorkflow({
        batchId: input.batchId,
        taskName: input.taskName,
        item,
        model: prepared.model,
        options: itemOptions,
        ...(control.auto ? { adaptiveRate: true } : {}),
        traits: prepared.traits,
        ...(cache ? { cache: { ...cache } } : {}),
        ...(batchJob ? { batchJob } : {}),
      }),
    );
    markFinished(progress, outcome, price);
    running -= 1;
    checkLimits(outcome);
  };
  /** Fail-fast categories stop everything; budgets stop dispatch (in-flight items bound the overshoot). */
  const checkLimits = (outcome: ItemOutcome): void => {
    if (outcome.category && input.failFast.includes(outcome.category)) {
      stop(
        'fail_fast',
        `item "${outcome.itemId}" ended ${outcome.category}: ${CATEGORY_TABLE[outcome.category].hint}`,
        true,
      );
    }
    const tokens = progress.usage.inputTokens + progress.usage.outputTokens + progress.usage.thoughtsTokens;
    if (input.maxTokens !== undefined && tokens >= input.maxTokens)
      stop('budget', `token budget of ${input.maxTokens} reached (${tokens} used)`, false);
    if (input.maxCostUsd !== undefined && progress.costUsd >= input.maxCostUsd) {
      stop('budget', `cost budget of $${input.maxCostUsd} reached ($${progress.costUsd.toFixed(4)} spent)`, false);
    }
  };

  const deadlineMs = input.deadline !== undefined ? Date.parse(input.deadline) : undefined;
  let next = carried?.next ?? 0;
  const historyFull = () => workflowInfo().historyLength >= input.historyEventsPerRun;
  let continuing = false;
  try {
    while (next < items.length && !control.stop) {
      if (historyFull()) {
        continuing = true;
        log.info('batch run history is full: draining the items in flight, then continuing as new', {
          batchId: input.batchId,
          next,
          inFlight: running,
        });
        break;
      }
      const position = next;
      // Batch Mode: an item starts once its job has ended (and its answers are staged). A long
      // wait for jobs wakes up when the run's history is full, to continue as new.
      const ready = () =>
        control.stop !== undefined ||
        (!control.paused && running < control.concurrency && (!jobs || jobs.ready(position))) ||
        (jobs !== undefined && historyFull());
      // A free slot is taken at once; only a full window waits (a condition costs the worker promises).
      if (deadlineMs !== undefined) {
        const left = deadlineMs - Date.now();
        if (left <= 0 || (!ready() && !(await condition(ready, left)))) {
          stop('deadline', `batch deadline ${input.deadline} reached`, false);
          break;
        }
      } else if (!ready()) {
        await condition(ready);
      }
      if (control.stop) break;
      if (jobs && !jobs.ready(position)) continue; // the history is full: continue as new
      const item = items.cached(next) ?? (await items.at(next));
      next += 1;
      running += 1;
      markStarted(progress);
      // Awaited collectively below through `running`; runItem never rejects.
      void runItem(item, jobs?.refFor(position));
    }
    /** Items that never started still get exactly one terminal status. */
    const recordNeverStarted = async (): Promise<void> => {
      if (next >= items.length) return;
      const status = control.stop?.kind === 'deadline' ? 'deadline_exceeded' : 'cancelled';
      const skipped = (await items.from(next)).map(({ id, index }) => ({ id, index }));
      for (let start = 0; start < skipped.length; start += SKIPPED_PER_ACTIVITY) {
        await recordSkippedItems({
          batchId: input.batchId,
          items: skipped.slice(start, start + SKIPPED_PER_ACTIVITY),
          status,
          reason: control.stop?.reason ?? 'not started',
        });
      }
      markSkipped(progress, skipped.length, status);
      next = items.length;
    };
    if (!continuing) await recordNeverStarted();
    await condition(() => running === 0);
    // Batch Mode: a stop cancels the provider jobs still running; a continue-as-new lets the step in flight finish.
    if (continuing && !control.stop) await jobs?.drain();
    else await jobs?.finished();
    if (continuing && control.stop) {
      // Stopped while draining: the batch ends in this run.
      continuing = false;
      await recordNeverStarted();
    }
  } finally {
    // Batch Mode: the staged answers have served their items.
    if (input.batchApi && !continuing)
      await CancellationScope.nonCancellable(() => clearBatchAnswers({ batchId: input.batchId }));
    if (prepared.cachePlan && !continuing) {
      const ownerWorkflowId = prepared.cachePlan.ownerWorkflowId;
      await CancellationScope.nonCancellable(() => releaseCache({ ownerWorkflowId, batchId: input.batchId }));
    }
  }

  if (continuing) {
    progress.runs += 1;
    progress.largestRunEvents = Math.max(progress.largestRunEvents, workflowInfo().historyLength);
    await condition(allHandlersFinished);
    // Inline items travel once, in the checked input; the raw one keeps the rest for the Web UI.
    const { items: _carriedInInput, ...rawWithoutItems } = rawInput;
    return await continueAsNew<typeof batchWorkflow>(rawWithoutItems as BatchInput, {
      input,
      next,
      progress,
      prepared,
      ...(cache ? { cache } : {}),
    });
  }
  progress.largestRunEvents = Math.max(progress.largestRunEvents, workflowInfo().historyLength);
  progress.done = true;
  const state = batchStateOf(progress);
  upsertSearchAttributes([
    {
      key: ItemStatusSearchAttribute,
      value: state === 'stopped' && control.stop ? `stopped_${control.stop.kind}` : state,
    },
  ]);
  const finishedAt = new Date().toISOString();
  const durationMs = Date.parse(finishedAt) - Date.parse(startedAt);
  const storage =
    progress.cache?.status === 'ready' && price
      ? cacheStorageCost(progress.cache.tokenCount ?? 0, durationMs / 3_600_000, price)
      : undefined;
  return {
    ...progress,
    ...(storage !== undefined ? { cacheStorageCostUsd: storage, costUsd: progress.costUsd + storage } : {}),
    finishedAt,
    durationMs,
    itemsPerSecond: durationMs > 0 ? (progress.total * 1000) / durationMs : progress.total,
  };
}

/**
 * The input checked against its zod schema, by an activity: zod stays out of the workflow bundle,
 * whose modules are evaluated again for every workflow. A bad input fails the batch at once with
 * the activity's `invalid_input` failure, naming each field.
 */
/** Items in flight at most: the fixed concurrency, or auto mode's cap. */
function windowOf(input: ParsedBatchInput): number {
  return input.concurrency === 'auto' ? (input.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY) : input.concurrency;
}

async function checkedInput(rawInput: BatchInput): Promise<ParsedBatchInput> {
  try {
    return await checkBatchInput(rawInput);
  } catch (error) {
    if (
      error instanceof ActivityFailure &&
      error.cause instanceof ApplicationFailure &&
      error.cause.type === 'invalid_input'
    )
      throw error.cause;
    throw error;
  }
}

/** Leases the task's context cache from its owner; the summary says when the batch runs uncached, and why. */
async function takeCacheLease(
  plan: CachePlan,
  batchId: string,
  progress: BatchProgress,
): Promise<ItemCache | undefined> {
  const grant = await acquireCache({ plan, batchId });
  if (grant.status === 'ready') {
    progress.cache = { displayName: plan.displayName, status: 'ready', name: grant.name, tokenCount: grant.tokenCount };
    return { name: grant.name, ownerWorkflowId: plan.ownerWorkflowId, model: plan.model };
  }
  progress.cache = { displayName: plan.displayName, status: 'uncached', reason: grant.reason };
  return undefined;
}

async function runItemWorkflow(args: ItemWorkflowInput): Promise<ItemOutcome> {
  const { batchId, taskName, item } = args;
  const failedOutcome = (status: ItemOutcome['status'], category?: ItemOutcome['category']): ItemOutcome => ({
    itemId: item.id,
    index: item.index,
    status,
    ...(category ? { category } : {}),
    usage: emptyUsage(),
    costUsd: 0,
    modelCalls: 0,
    durationMs: 0,
  });
  try {
    const handle = await startChild(itemWorkflow, {
      workflowId: itemWorkflowId(batchId, item.id),
      args: [args],
      typedSearchAttributes: [
        { key: BatchIdSearchAttribute, value: batchId },
        { key: TaskNameSearchAttribute, value: taskName },
        { key: ItemStatusSearchAttribute, value: 'running' },
        { key: StageSearchAttribute, value: 1 },
      ],
      staticSummary: `item ${item.id} of batch ${batchId}`,
      // A local model call holds the item's workflow task; the SDK renews the task at 80 % of this
      // timeout, which is when a cancellation (batch cancel) reaches the call.
      workflowTaskTimeout: ITEM_WORKFLOW_TASK_TIMEOUT,
    });
    return await handle.result();
  } catch (error) {
    if (isCancellation(error)) {
      // Cancelled before its workflow could record anything: record it here, once.
      await CancellationScope.nonCancellable(() =>
        recordSkippedItems({
          batchId,
          items: [{ id: item.id, index: item.index }],
          status: 'cancelled',
          reason: 'batch stopped before the item started',
        }),
      );
      return failedOutcome('cancelled');
    }
    // An item that did not succeed fails its workflow with its outcome as the failure's details.
    if (
      error instanceof ChildWorkflowFailure &&
      error.cause instanceof ApplicationFailure &&
      isItemOutcome(error.cause.details?.[0])
    )
      return error.cause.details[0];
    // One that failed otherwise (terminated, a bug) still counts, once, as failed.
    if (!(error instanceof ChildWorkflowFailure) && !(error instanceof ApplicationFailure)) throw error;
    return failedOutcome('failed', 'unknown');
  }
}
