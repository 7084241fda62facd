import {
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { BatchActivities } from '../activities';
import type { CacheGrant } from '../src/caching/spec';
import { acquireCacheUpdate, cacheStateQuery, refreshCacheUpdate, releaseCacheSignal } from '../src/contract/messages';
import type { CacheOwnerInput, CacheOwnerOutput, CacheOwnerState } from '../src/contract/states';

const { findOrCreateCache, renewCache, deleteCache } = proxyActivities<BatchActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', maximumAttempts: 10 },
});

/** Continue-as-new well before history grows large: renewals go on for as long as batches run. */
const MAX_EVENTS_PER_RUN = 2000;

/**
 * The single owner of one context cache, keyed by model + tags + content fingerprint: Temporal's
 * workflow-id uniqueness means exactly one creation however many workers and batches ask.
 * Batches take leases (update), items whose cache vanished ask for a fresh one (update), a
 * durable timer renews the TTL before expiry while any lease is held; then keep or delete.
 */
export async function cacheOwnerWorkflow(input: CacheOwnerInput): Promise<CacheOwnerOutput> {
  const state: CacheOwnerState = {
    plan: input.plan,
    leases: [],
    creations: 0,
    renewals: 0,
    ...input.carried,
  };
  const plan = input.plan;
  let ensuring: Promise<void> | undefined;

  const renewAt = (grant: Extract<CacheGrant, { status: 'ready' }>) =>
    Date.parse(grant.expireTime) - plan.renewBeforeSeconds * 1000;
  const fresh = () =>
    state.grant !== undefined && (state.grant.status === 'uncached' || Date.now() < renewAt(state.grant));

  /** One find-or-create at a time, however many callers wait for it. */
  async function ensureCache(): Promise<CacheGrant> {
    if (!fresh()) {
      ensuring ??= (async () => {
        try {
          const { created, ...grant } = await findOrCreateCache(plan);
          if (created) state.creations += 1;
          state.grant = grant;
          state.heldSince ??= new Date().toISOString();
          log.info('context cache ready', { displayName: plan.displayName, grant, created });
        } finally {
          ensuring = undefined;
        }
      })();
      await ensuring;
    }
    return state.grant as CacheGrant;
  }

  setHandler(acquireCacheUpdate, async ({ batchId }) => {
    if (!state.leases.includes(batchId)) state.leases.push(batchId);
    return ensureCache();
  });
  setHandler(refreshCacheUpdate, async ({ staleName }) => {
    // Only the first report of a stale name recreates; later reports get the new cache.
    if (state.grant?.status === 'ready' && state.grant.name === staleName) state.grant = undefined;
    return ensureCache();
  });
  setHandler(releaseCacheSignal, ({ batchId }) => {
    state.leases = state.leases.filter((lease) => lease !== batchId);
  });
  setHandler(cacheStateQuery, () => state);

  // Started by a batch's update-with-start, so the first lease is already here.
  for (;;) {
    while (state.leases.length > 0) {
      if (workflowInfo().historyLength > MAX_EVENTS_PER_RUN) {
        await condition(allHandlersFinished);
        const { plan: _plan, ...carried } = state;
        await continueAsNew<typeof cacheOwnerWorkflow>({ plan, carried });
      }
      const grant = state.grant;
      if (grant?.status !== 'ready') {
        await condition(() => state.leases.length === 0 || state.grant !== grant);
        continue;
      }
      const untilRenewal = Math.max(renewAt(grant) - Date.now(), 0);
      const changed = await condition(() => state.leases.length === 0 || state.grant !== grant, untilRenewal);
      if (changed) continue;
      const renewed = await renewCache({ plan, name: grant.name });
      if ('missing' in renewed) {
        log.warn('context cache vanished before renewal; recreating', { name: grant.name });
        state.grant = undefined;
        await ensureCache();
      } else {
        state.renewals += 1;
        state.grant = { ...grant, expireTime: renewed.expireTime };
      }
    }
    // No lease left: finish pending handlers; a batch that arrived meanwhile keeps us going.
    await condition(allHandlersFinished);
    if (state.leases.length === 0) break;
  }

  let deleted = false;
  if (plan.onEnd === 'delete' && state.grant?.status === 'ready') {
    deleted = (await deleteCache({ name: state.grant.name })).deleted;
  }
  return {
    displayName: plan.displayName,
    ...(state.grant?.status === 'ready' ? { lastName: state.grant.name } : {}),
    creations: state.creations,
    renewals: state.renewals,
    deleted,
  };
}
