import { Context } from '@temporalio/activity';
import {
  WithStartWorkflowOperation,
  WorkflowIdConflictPolicy,
  WorkflowNotFoundError,
  type Client,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { CacheGrant, CachePlan } from '../src/caching/spec';
import type { ContextCaches, ModelProvider } from '../src/providers/types';
import type { TaskRegistry } from '../src/tasks/registry';
import { classifiedFailure } from './failures';
import type { cacheOwnerWorkflow } from '../workflows/cache-owner';
import { acquireCacheUpdate, refreshCacheUpdate, releaseCacheSignal } from '../src/contract/messages';

export interface CacheActivityDependencies {
  tasks: TaskRegistry;
  /** The provider whose caches these are (the default provider: the only one with caches today). */
  provider: ModelProvider;
  /** The provider a task's calls go to: a task on another provider than `provider` runs uncached. */
  providerOfTask?: (taskName: string, override?: string) => ModelProvider;
  temporal: Client;
  taskQueue: string;
}

/** Found or made: the grant, and whether this call created the cache. */
export type EnsureCacheOutput = CacheGrant & { created: boolean };

/** Cache activities: the provider side (find, create, renew, delete) and the owner-workflow side (acquire, refresh, release). */
export function createCacheActivities(deps: CacheActivityDependencies) {
  const { provider } = deps;
  /** Throws a classified failure: transient ones are retried by the activity retry policy. */
  function rethrow(error: unknown): never {
    throw classifiedFailure(provider.classify(error));
  }
  /** The provider's caches (findOrCreateCache answers `uncached` for a provider without them, so nothing else asks). */
  function caches(): ContextCaches {
    if (!provider.caches)
      throw ApplicationFailure.nonRetryable(`the ${provider.name} provider has no context caches`, 'invalid_request');
    return provider.caches;
  }

  return {
    /**
     * Reuses an unexpired cache whose displayName (tags + fingerprint) and model match, else
     * creates one. Below Gemini's minimum size the answer is `uncached`, with the reason.
     */
    async findOrCreateCache(plan: CachePlan): Promise<EnsureCacheOutput> {
      const minimumLifetimeMs = plan.renewBeforeSeconds * 1000;
      const calls = deps.tasks.get(plan.taskName)
        ? (deps.providerOfTask?.(plan.taskName, plan.provider) ?? provider)
        : provider;
      if (calls !== provider || !provider.caches)
        return { status: 'uncached', reason: `the ${calls.name} provider has no context caches`, created: false };
      try {
        for await (const cache of caches().list()) {
          const expires = Date.parse(cache.expireTime ?? '');
          if (
            cache.displayName === plan.displayName &&
            cache.model === plan.model &&
            expires - Date.now() > minimumLifetimeMs
          ) {
            Context.current().log.info('reusing context cache', { name: cache.name, displayName: plan.displayName });
            return {
              status: 'ready',
              name: cache.name,
              expireTime: new Date(expires).toISOString(),
              tokenCount: cache.tokenCount ?? 0,
              created: false,
            };
          }
        }
      } catch (error) {
        rethrow(error);
      }
      const task = deps.tasks.get(plan.taskName);
      const declaration = task?.cache;
      if (!task || !declaration)
        throw ApplicationFailure.nonRetryable(
          `task "${plan.taskName}" declares no cache on this worker`,
          'unknown_task',
        );
      const systemInstruction = task.systemInstruction;
      try {
        const cache = await caches().create({
          model: plan.model,
          displayName: plan.displayName,
          ttlSeconds: plan.ttlSeconds,
          systemInstruction,
          contents: declaration.contents,
        });
        if ('tooSmall' in cache) return { status: 'uncached', reason: cache.tooSmall, created: false };
        Context.current().log.info('created context cache', { name: cache.name, displayName: plan.displayName });
        return {
          status: 'ready',
          name: cache.name,
          expireTime: new Date(Date.parse(cache.expireTime ?? '') || Date.now() + plan.ttlSeconds * 1000).toISOString(),
          tokenCount: cache.tokenCount ?? 0,
          created: true,
        };
      } catch (error) {
        if (error instanceof ApplicationFailure) throw error;
        rethrow(error);
      }
    },

    /** Extends a cache's TTL; `missing` when it expired or was deleted meanwhile. */
    async renewCache(input: { plan: CachePlan; name: string }): Promise<{ expireTime: string } | { missing: true }> {
      try {
        const cache = await caches().renew(input.name, input.plan.ttlSeconds);
        return {
          expireTime: new Date(
            Date.parse(cache.expireTime ?? '') || Date.now() + input.plan.ttlSeconds * 1000,
          ).toISOString(),
        };
      } catch (error) {
        if (error instanceof ApplicationFailure) throw error;
        const info = provider.classify(error);
        if (info.category === 'not_found' || info.category === 'cache_expired' || info.category === 'permission_denied')
          return { missing: true };
        rethrow(error);
      }
    },

    async deleteCache(input: { name: string }): Promise<{ deleted: boolean }> {
      try {
        await caches().delete(input.name);
        return { deleted: true };
      } catch (error) {
        if (error instanceof ApplicationFailure) throw error;
        const info = provider.classify(error);
        if (info.category === 'not_found' || info.category === 'cache_expired') return { deleted: false };
        rethrow(error);
      }
    },

    /** A batch asks the cache's owner (started if needed: update-with-start) for the cache. */
    async acquireCache(input: { plan: CachePlan; batchId: string }): Promise<CacheGrant> {
      const startOperation = new WithStartWorkflowOperation<typeof cacheOwnerWorkflow>('cacheOwnerWorkflow', {
        workflowId: input.plan.ownerWorkflowId,
        taskQueue: deps.taskQueue,
        args: [{ plan: input.plan }],
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
        staticSummary: `context cache ${input.plan.displayName} for ${input.plan.model}`,
      });
      return deps.temporal.workflow.executeUpdateWithStart(acquireCacheUpdate, {
        args: [{ batchId: input.batchId }],
        startWorkflowOperation: startOperation,
      });
    },

    /** An item whose cache vanished asks the owner for a fresh one. */
    async refreshCache(input: { ownerWorkflowId: string; batchId: string; staleName: string }): Promise<CacheGrant> {
      return deps.temporal.workflow
        .getHandle(input.ownerWorkflowId)
        .executeUpdate(refreshCacheUpdate, { args: [input] });
    },

    async releaseCache(input: { ownerWorkflowId: string; batchId: string }): Promise<{ released: boolean }> {
      try {
        await deps.temporal.workflow
          .getHandle(input.ownerWorkflowId)
          .signal(releaseCacheSignal, { batchId: input.batchId });
        return { released: true };
      } catch (error) {
        // An owner that already ended holds no lease to release.
        if (error instanceof WorkflowNotFoundError) return { released: false };
        throw error;
      }
    },
  };
}
