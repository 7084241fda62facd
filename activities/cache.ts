import type { GoogleGenAI } from '@google/genai';
import { Context } from '@temporalio/activity';
import { WithStartWorkflowOperation, WorkflowIdConflictPolicy, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { classifyError } from '../src/errors/classifier';
import { CATEGORY_TABLE } from '../src/errors/categories';
import type { CacheGrant, CachePlan } from '../src/caching/spec';
import type { TaskRegistry } from '../src/tasks/registry';
import type { cacheOwnerWorkflow } from '../workflows/cache-owner';
import { acquireCacheUpdate, refreshCacheUpdate, releaseCacheSignal } from '../src/contract/messages';

export interface CacheActivityDependencies {
  tasks: TaskRegistry;
  gemini: GoogleGenAI;
  temporal: Client;
  taskQueue: string;
}

/** Found or made: the grant, and whether this call created the cache. */
export type EnsureCacheOutput = CacheGrant & { created: boolean };

const TOO_SMALL = /Cached content is too small/i;

/** Cache activities: the Gemini side (find, create, renew, delete) and the owner-workflow side (acquire, refresh, release). */
export function createCacheActivities(deps: CacheActivityDependencies) {
  /** Throws a classified failure: transient ones are retried by the activity retry policy. */
  function rethrow(error: unknown): never {
    const info = classifyError(error);
    throw ApplicationFailure.create({
      type: info.category,
      message: info.message,
      nonRetryable: CATEGORY_TABLE[info.category].decision !== 'retry',
      ...(info.suggestedWaitMs !== undefined ? { nextRetryDelay: info.suggestedWaitMs } : {}),
    });
  }

  return {
    /**
     * Reuses an unexpired cache whose displayName (tags + fingerprint) and model match, else
     * creates one. Below Gemini's minimum size the answer is `uncached`, with the reason.
     */
    async findOrCreateCache(plan: CachePlan): Promise<EnsureCacheOutput> {
      const minimumLifetimeMs = plan.renewBeforeSeconds * 1000;
      try {
        const pager = await deps.gemini.caches.list({ config: { pageSize: 100 } });
        for await (const cache of pager) {
          const expires = Date.parse(cache.expireTime ?? '');
          if (cache.displayName === plan.displayName && cache.model?.replace(/^models\//, '') === plan.model && expires - Date.now() > minimumLifetimeMs && cache.name) {
            Context.current().log.info('reusing context cache', { name: cache.name, displayName: plan.displayName });
            return { status: 'ready', name: cache.name, expireTime: new Date(expires).toISOString(), tokenCount: cache.usageMetadata?.totalTokenCount ?? 0, created: false };
          }
        }
      } catch (error) {
        rethrow(error);
      }
      const task = deps.tasks.get(plan.taskName);
      const declaration = task?.cache;
      if (!task || !declaration) throw ApplicationFailure.nonRetryable(`task "${plan.taskName}" declares no cache on this worker`, 'unknown_task');
      const systemInstruction = task.systemInstruction;
      try {
        const cache = await deps.gemini.caches.create({
          model: plan.model,
          config: {
            displayName: plan.displayName,
            ttl: `${plan.ttlSeconds}s`,
            ...(systemInstruction ? { systemInstruction } : {}),
            ...(declaration.contents ? { contents: [{ role: 'user', parts: [{ text: declaration.contents }] }] } : {}),
          },
        });
        if (!cache.name) throw ApplicationFailure.nonRetryable('Gemini created a cache without a name', 'server_error');
        Context.current().log.info('created context cache', { name: cache.name, displayName: plan.displayName });
        return {
          status: 'ready',
          name: cache.name,
          expireTime: new Date(Date.parse(cache.expireTime ?? '') || Date.now() + plan.ttlSeconds * 1000).toISOString(),
          tokenCount: cache.usageMetadata?.totalTokenCount ?? 0,
          created: true,
        };
      } catch (error) {
        if (error instanceof ApplicationFailure) throw error;
        const info = classifyError(error);
        if (info.category === 'invalid_request' && TOO_SMALL.test(info.message)) {
          return { status: 'uncached', reason: `below Gemini's minimum cacheable size: ${info.message}`, created: false };
        }
        rethrow(error);
      }
    },

    /** Extends a cache's TTL; `missing` when it expired or was deleted meanwhile. */
    async renewCache(input: { plan: CachePlan; name: string }): Promise<{ expireTime: string } | { missing: true }> {
      try {
        const cache = await deps.gemini.caches.update({ name: input.name, config: { ttl: `${input.plan.ttlSeconds}s` } });
        return { expireTime: new Date(Date.parse(cache.expireTime ?? '') || Date.now() + input.plan.ttlSeconds * 1000).toISOString() };
      } catch (error) {
        const info = classifyError(error);
        if (info.category === 'not_found' || info.category === 'cache_expired' || info.category === 'permission_denied') return { missing: true };
        rethrow(error);
      }
    },

    async deleteCache(input: { name: string }): Promise<{ deleted: boolean }> {
      try {
        await deps.gemini.caches.delete({ name: input.name });
        return { deleted: true };
      } catch (error) {
        const info = classifyError(error);
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
      return deps.temporal.workflow.executeUpdateWithStart(acquireCacheUpdate, { args: [{ batchId: input.batchId }], startWorkflowOperation: startOperation });
    },

    /** An item whose cache vanished asks the owner for a fresh one. */
    async refreshCache(input: { ownerWorkflowId: string; batchId: string; staleName: string }): Promise<CacheGrant> {
      return deps.temporal.workflow.getHandle(input.ownerWorkflowId).executeUpdate(refreshCacheUpdate, { args: [input] });
    },

    async releaseCache(input: { ownerWorkflowId: string; batchId: string }): Promise<{ released: boolean }> {
      try {
        await deps.temporal.workflow.getHandle(input.ownerWorkflowId).signal(releaseCacheSignal, { batchId: input.batchId });
        return { released: true };
      } catch (error) {
        // An owner that already ended holds no lease to release.
        if (error instanceof WorkflowNotFoundError) return { released: false };
        throw error;
      }
    },
  };
}
