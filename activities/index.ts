import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import type { RecordedResult, WorkerStore } from '../src/results';
import { BatchInputSchema, type ItemResult, type ParsedBatchInput } from '../src/schemas';
import { parseWorkflowInput } from '../src/validation';
import { missingProviderMessage, providerNamed } from '../src/providers/registry';
import type { ModelProvider } from '../src/providers/types';
import type { TaskRegistry } from '../src/tasks/registry';
import { prepareBatchInput, readInputPage, type PrepareBatchInput, type ReadInputPageInput } from './batch-input';
import { createBatchJobActivities } from './batch-jobs';
import { createCacheActivities } from './cache';
import { callModel, type CallModelInput } from './model-call';
import { postProcessItem, type PostProcessItemInput } from './post-process';
import { QuotaGate } from './quota-gate';
import type { AdmissionLimits } from '../workflows/admission';

export type { CallModelInput, CallModelOutput, DeferredCall } from './model-call';
export type { PrepareBatchInput, PrepareBatchOutput } from './batch-input';
export type { BatchJobItems, DownloadBatchJobInput, FetchedBatchAnswer, SubmittedBatchJob } from './batch-jobs';

export interface ActivityDependencies {
  tasks: TaskRegistry;
  /** The model provider (Gemini first): generate, count tokens, classify errors, context caches. */
  provider: ModelProvider;
  /** Further providers, by name: a task's `provider` picks one (default: `provider`). */
  providers?: readonly ModelProvider[];
  /** Where item results go (a JSONL file per batch by default), and the post-processing ledger. */
  results: WorkerStore;
  /** Model used when neither the batch nor the task names one. */
  defaultModel: string;
  /** For activities that talk to other workflows (the cache owner). */
  temporal: Client;
  taskQueue: string;
  /** A short hash of the default provider's API key: part of its quota scope, never the key itself (others: their quotaKey). */
  keyFingerprint?: string;
  /** RPM/TPM of each quota scope; without them only the 429 cooldown is coordinated. */
  limits?: AdmissionLimits;
  /** A provider's own RPM/TPM (e.g. a named endpoint's), by provider name, instead of `limits` for its scopes. */
  providerLimits?: Readonly<Record<string, AdmissionLimits>>;
}

/**
 * The provider a task's calls go to (its `provider` by name, else the default) and the account
 * they are charged to (the default provider's is the worker's keyFingerprint). The worker refuses
 * to start with a task whose provider it has not configured (src/worker.ts), so every worker that
 * can run a task's call has its provider.
 */
export function routeOfTask(
  deps: Pick<ActivityDependencies, 'tasks' | 'provider' | 'providers' | 'keyFingerprint' | 'providerLimits'>,
  taskName: string,
  /** The batch's provider override (options.provider). */
  override?: string,
): { provider: ModelProvider; account: string; limits?: AdmissionLimits } {
  const providers = [deps.provider, ...(deps.providers ?? [])];
  const wanted = override ?? deps.tasks.get(taskName)?.provider;
  const provider = providerNamed(providers, wanted);
  // Only a batch's override can get here (a worker lacking a task's own provider does not start),
  // and the batch checked it on a worker when it started: this worker is configured apart from the
  // rest. Our plumbing, not the item's outcome: retried, so a worker that has the provider takes it.
  if (!provider)
    throw ApplicationFailure.retryable(
      `${missingProviderMessage(taskName, wanted ?? '', providers)}; retried until a worker that has it takes the call`,
      'provider_not_configured',
    );
  const account =
    provider === deps.provider ? (deps.keyFingerprint ?? 'default') : (provider.quotaKey ?? provider.name);
  const limits = deps.providerLimits?.[provider.name];
  return { provider, account, ...(limits ? { limits } : {}) };
}

/** All activities, closed over their clients so tests can inject their own. */
export function createActivities(deps: ActivityDependencies) {
  const results = deps.results;
  const quota = new QuotaGate(deps.temporal, deps.taskQueue, deps.keyFingerprint ?? 'default', deps.limits);
  return {
    ...createCacheActivities({
      ...deps,
      providerOfTask: (taskName, override) => routeOfTask(deps, taskName, override).provider,
    }),
    ...createBatchJobActivities(deps),
    async postProcessItem(input: PostProcessItemInput) {
      return postProcessItem(input, deps.tasks, results);
    },
    /** The batch input checked (zod) and with its defaults: workflows stay free of zod, see src/usage.ts. */
    async checkBatchInput(raw: unknown): Promise<ParsedBatchInput> {
      return parseWorkflowInput(BatchInputSchema, raw, 'batch input');
    },
    async prepareBatch(input: PrepareBatchInput) {
      // The workflow id is refused while Temporal remembers it; past its retention, the results remain.
      if (await results.hasResults(input.batchId)) {
        throw ApplicationFailure.nonRetryable(
          `the results store already holds results of an earlier batch "${input.batchId}"; nothing was started. Start this input under a new batch id`,
          'invalid_input',
        );
      }
      // Calls wait for admission when their provider's scopes have limits (its own, else the worker's).
      const known = deps.tasks.get(input.taskName) !== undefined;
      const providers = [deps.provider, ...(deps.providers ?? [])];
      if (known && input.providerOverride !== undefined && !providerNamed(providers, input.providerOverride))
        throw ApplicationFailure.nonRetryable(
          `the batch asks for provider "${input.providerOverride}", which the workers have not configured (they have ${providers.map((each) => each.name).join(', ')}); nothing was started`,
          'invalid_input',
        );
      const route = known ? routeOfTask(deps, input.taskName, input.providerOverride) : undefined;
      if (route && input.batchApi && !route.provider.batchJobs)
        throw ApplicationFailure.nonRetryable(
          `task "${input.taskName}" calls the ${route.provider.name} provider, which has no batch API: start the batch without --batch-api`,
          'invalid_input',
        );
      return prepareBatchInput(input, deps.tasks, deps.defaultModel, quota.admits(route?.limits), results);
    },
    async readInputPage(input: ReadInputPageInput) {
      return readInputPage(input, results);
    },
    async callModel(input: CallModelInput) {
      const { provider, ...route } = routeOfTask(deps, input.taskName, input.provider);
      return callModel(input, deps.tasks, provider, quota, deps.results, route);
    },
    /** Records items the batch never started (cancelled, deadline) so each has one terminal status. */
    async recordSkippedItems(input: {
      batchId: string;
      items: Array<{ id: string; index: number }>;
      status: 'cancelled' | 'deadline_exceeded';
      reason: string;
    }): Promise<{ recorded: number }> {
      const now = new Date().toISOString();
      await results.writeMany(
        input.batchId,
        input.items.map((item) => ({
          batchId: input.batchId,
          itemId: item.id,
          index: item.index,
          status: input.status,
          stopReason: input.reason,
          model: '',
          usage: { inputTokens: 0, outputTokens: 0, cachedTokens: 0, thoughtsTokens: 0 },
          costUsd: 0,
          modelCalls: 0,
          attempts: [],
          startedAt: now,
          finishedAt: now,
          durationMs: 0,
        })),
      );
      return { recorded: input.items.length };
    },
    /** Writes the item's full record to the results store; idempotent by item id. */
    async recordItemResult(result: ItemResult): Promise<RecordedResult> {
      const recorded = await deps.results.write(result);
      Context.current().log.info('item result recorded', {
        batchId: result.batchId,
        itemId: result.itemId,
        status: (recorded.kept ?? result).status,
      });
      return recorded;
    },
  };
}

export type BatchActivities = ReturnType<typeof createActivities>;
