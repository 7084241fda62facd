/**
 * The bench's floor (a script's workflows, not the product's): what Temporal itself costs per item
 * for the project's shape — a parent keeping at most `concurrency` child workflows running, one
 * child per item — with nothing else: no activity, no model call, no search attribute, no result
 * record. The project's rate divided by this one is how close it runs to Temporal's own minimum.
 *
 * With `withCall`, each child makes one model call as a local activity (the bench's `floorModelCall`:
 * the loop's request through the same client) and nothing else: the least any item answered at once
 * can cost on Temporal, so the project's distance from it is what its own logic costs.
 */
import { condition, proxyLocalActivities, startChild } from '@temporalio/workflow';

/** The bench's one activity for the floor: the model call, as the loop makes it. */
export interface FloorActivities {
  floorModelCall(itemId: string): Promise<string>;
}

const { floorModelCall } = proxyLocalActivities<FloorActivities>({ startToCloseTimeout: '1 minute' });

/**
 * An item that does nothing (one workflow task, then done), or, given an item id, makes one model
 * call as a local activity and ends (two workflow tasks).
 */
export async function floorItemWorkflow(itemId?: string): Promise<void> {
  if (itemId !== undefined) await floorModelCall(itemId);
}

/** The batch's sliding window over empty children; the same child options as the project's items. */
export async function floorBatchWorkflow(input: {
  batchId: string;
  items: number;
  concurrency: number;
  withCall?: boolean;
}): Promise<{ finished: number }> {
  let running = 0;
  let finished = 0;
  for (let index = 0; index < input.items; index += 1) {
    await condition(() => running < input.concurrency);
    running += 1;
    const workflowId = `${input.batchId}/${index}`;
    const options = { workflowId, workflowTaskTimeout: '5 seconds' };
    void startChild(floorItemWorkflow, { ...options, args: input.withCall ? [`r-${index}`] : [] })
      .then((handle) => handle.result())
      .then(() => {
        running -= 1;
        finished += 1;
      });
  }
  await condition(() => running === 0);
  return { finished };
}
