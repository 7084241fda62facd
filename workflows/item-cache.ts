/** An item whose context cache vanished asks the cache's owner for a fresh one, and tells its batch the new name. */
import { getExternalWorkflowHandle, log, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { BatchActivities } from '../activities';
import { cacheNameSignal } from '../src/contract/messages';
import type { ItemState } from '../src/contract/states';

const { refreshCache } = proxyActivities<BatchActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

export async function useFreshCache(batchId: string, itemId: string, state: ItemState): Promise<void> {
  const stale = state.cache;
  if (!stale) return;
  const grant = await refreshCache({ ownerWorkflowId: stale.ownerWorkflowId, batchId, staleName: stale.name });
  state.cache = grant.status === 'ready' ? { ...stale, name: grant.name } : undefined;
  log.info('context cache refreshed', { itemId, stale: stale.name, grant });
  const parent = workflowInfo().parent;
  if (parent && grant.status === 'ready' && grant.name !== stale.name) {
    await getExternalWorkflowHandle(parent.workflowId, parent.runId).signal(cacheNameSignal, { name: grant.name });
  }
}
