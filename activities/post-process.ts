import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { PostProcessLedger } from '../src/results';
import type { CallMetadata, WorkItem } from '../src/schemas';
import type { PostProcessDecision } from '../src/tasks/task';
import type { TaskRegistry } from '../src/tasks/registry';

/** How often a running hook heartbeats; the item workflow's heartbeat timeout is a few of these. */
const POST_PROCESS_HEARTBEAT_MS = 1_000;

export interface PostProcessItemInput {
  batchId: string;
  taskName: string;
  item: WorkItem;
  output: unknown;
  metadata: CallMetadata;
}

/**
 * Runs the task's post-processing hook for one item, once: a completed decision is recorded by
 * item id, and a retry (worker died after the hook, before Temporal heard) returns the record
 * instead of running the hook again.
 */
export async function postProcessItem(
  input: PostProcessItemInput,
  tasks: TaskRegistry,
  store: PostProcessLedger,
): Promise<PostProcessDecision> {
  const recorded = await store.readPostProcessed<PostProcessDecision>(input.batchId, input.item.id);
  if (recorded) return recorded;
  const task = tasks.get(input.taskName);
  if (!task?.postProcess)
    throw ApplicationFailure.nonRetryable(
      `task "${input.taskName}" has no postProcess hook on this worker`,
      'unknown_task',
    );
  const hook = task.postProcess as (hookInput: unknown) => PostProcessDecision | Promise<PostProcessDecision>;
  let decision: PostProcessDecision;
  // Heartbeats while the hook runs: a worker that dies mid-hook is noticed in seconds (the
  // activity's heartbeat timeout), not at the end of its start-to-close timeout.
  const context = Context.current();
  const heartbeats = setInterval(() => context.heartbeat(), POST_PROCESS_HEARTBEAT_MS);
  try {
    decision = await hook({
      item: task.itemSchema ? task.itemSchema.parse(input.item.data) : input.item.data,
      output: input.output,
      metadata: input.metadata,
      batchId: input.batchId,
      itemId: input.item.id,
      idempotencyKey: `${input.batchId}/${input.item.id}`,
    });
  } catch (error) {
    // A hook that throws is retried like any activity; say which item it was.
    throw new Error(
      `postProcess hook of task "${input.taskName}" failed for item "${input.item.id}": ${(error as Error).message}`,
      { cause: error },
    );
  } finally {
    clearInterval(heartbeats);
  }
  await store.writePostProcessed(input.batchId, input.item.id, decision);
  context.log.info('post-processed item', {
    batchId: input.batchId,
    itemId: input.item.id,
    rejected: 'reject' in decision,
  });
  return decision;
}
