/**
 * The bench's floor (a script's workflows, not the product's): what Temporal itself costs per item
 * for the project's shape — a parent keeping at most `concurrency` child workflows running, one
 * child per item — with nothing else: no activity, no model call, no search attribute, no result
 * record. The project's rate divided by this one is how close it runs to Temporal's own minimum.
 */
import { condition, startChild } from '@temporalio/workflow';

/** An item that does nothing: one workflow task, then done. */
export async function floorItemWorkflow(): Promise<void> {}

/** The batch's sliding window over empty children; the same child options as the project's items. */
export async function floorBatchWorkflow(input: {
  batchId: string;
  items: number;
  concurrency: number;
}): Promise<{ finished: number }> {
  let running = 0;
  let finished = 0;
  for (let index = 0; index < input.items; index += 1) {
    await condition(() => running < input.concurrency);
    running += 1;
    void startChild(floorItemWorkflow, { workflowId: `${input.batchId}/${index}`, workflowTaskTimeout: '5 seconds' })
      .then((handle) => handle.result())
      .then(() => {
        running -= 1;
        finished += 1;
      });
  }
  await condition(() => running === 0);
  return { finished };
}
