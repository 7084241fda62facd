import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { CacheGrant } from '../src/caching/spec';
import type { BatchControlState, BatchProgress } from '../src/schemas';
import type { CacheOwnerState } from './cache-owner';
import type { ItemState } from './item';

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
