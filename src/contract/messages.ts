/**
 * Every signal, query and update of our workflows (batch, item, cache owner, quota scope), in one
 * leaf module: workflows set their handlers from it, and the client, the CLI and activities send
 * them from it, without importing workflow code.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { CacheGrant } from '../caching/spec';
import type { BatchControlState, BatchProgress } from '../schemas';
import type {
  AdmitCallsInput,
  AdmitCallsOutput,
  CacheOwnerState,
  ItemState,
  QuotaScopeState,
  RateLimitedInput,
} from './states';

/** Live counters of a batch (also answered after it ends). */
export const batchProgressQuery = defineQuery<BatchProgress>('batchProgress');

/** Live retry state of one item. */
export const itemStateQuery = defineQuery<ItemState>('itemState');

/** A batch takes a lease on the cache and gets its name (or why it runs uncached). */
export const acquireCacheUpdate = defineUpdate<CacheGrant, [{ batchId: string }]>('acquireCache');

/** An item whose cache vanished asks for a fresh one; the owner recreates it at most once per stale name. */
export const refreshCacheUpdate = defineUpdate<CacheGrant, [{ batchId: string; staleName: string }]>('refreshCache');

/** A batch that has ended gives its lease back. */
export const releaseCacheSignal = defineSignal<[{ batchId: string }]>('releaseCache');

/** The owner's state: cache name, expiry, leases, creations and renewals. */
export const cacheStateQuery = defineQuery<CacheOwnerState>('cacheState');

/** An item tells its batch the cache's current name, so items started later use it. */
export const cacheNameSignal = defineSignal<[{ name: string }]>('cacheName');

/** Stop starting items; those in flight finish. */
export const pauseBatchUpdate = defineUpdate<BatchControlState>('pauseBatch');

/** Start items again after a pause. */
export const resumeBatchUpdate = defineUpdate<BatchControlState>('resumeBatch');

/** Change how many items run at once (takes effect as items finish or start). */
export const setConcurrencyUpdate = defineUpdate<BatchControlState, [number]>('setConcurrency');

/** Stop dispatching, cancel in-flight items and their model calls, mark the rest `cancelled`. */
export const cancelBatchUpdate = defineUpdate<BatchControlState, [string]>('cancelBatch');

/** A call was answered 429: start (or extend) the scope's cooldown. */
export const rateLimitedSignal = defineSignal<[RateLimitedInput]>('rateLimited');
export const quotaScopeQuery = defineQuery<QuotaScopeState>('quotaScope');
/** Grants start times to calls so the scope stays within its per-minute limits. */
export const admitCallsUpdate = defineUpdate<AdmitCallsOutput, [AdmitCallsInput]>('admitCalls');
