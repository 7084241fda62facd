import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { startTestStack, uniqueName, type TestStack } from '../helpers/stack';

describe('bad input is refused before anything starts', () => {
  let stack: TestStack;
  let directory: string;
  before(async () => {
    stack = await startTestStack();
    directory = mkdtempSync(path.join(os.tmpdir(), 'batch-llm-input-'));
  });
  after(async () => {
    await stack?.teardown();
  });

  /** Starts a batch workflow directly and returns the failure it must end with (the activity's, when one raised it). */
  async function failedBatch(
    taskQueue: string,
    args: { batchId: string } & Record<string, unknown>,
  ): Promise<ApplicationFailure> {
    const handle = await stack.client.workflow.start('batchWorkflow', {
      workflowId: args.batchId,
      taskQueue,
      args: [args],
    });
    const error = await handle.result().then(
      () => assert.fail('the batch should fail'),
      (failure: unknown) => failure,
    );
    assert.ok(error instanceof WorkflowFailedError);
    const cause = error.cause instanceof ActivityFailure ? error.cause.cause : error.cause;
    assert.ok(cause instanceof ApplicationFailure, String(cause));
    return cause;
  }

  async function workflowsOfBatch(batchId: string): Promise<string[]> {
    const ids: string[] = [];
    for await (const execution of stack.client.workflow.list({ query: `WorkflowId STARTS_WITH "${batchId}"` }))
      ids.push(execution.workflowId);
    return ids;
  }

  test('a batch started directly with an unknown task fails as unknown_task without starting any item', async () => {
    const taskQueue = uniqueName('tq');
    const worker = await stack.startWorker(taskQueue);
    try {
      const batchId = uniqueName('unknown-task');
      const cause = await failedBatch(taskQueue, {
        batchId,
        taskName: 'no-such-task',
        items: [{ id: 'a', index: 0, data: { id: 'a' } }],
      });
      assert.equal(cause.type, 'unknown_task');
      assert.match(
        cause.message,
        /unknown task "no-such-task"; this worker knows: demo-enrichment, test-buggy, test-cached, test-cached-docs, test-cached-small, test-echo, test-lenient, test-post, test-raw, test-safety, test-safety-retry, test-semantic\. Register it with `batch-llm worker --tasks <module>`/,
      );
      assert.deepEqual(await workflowsOfBatch(batchId), [batchId], 'no item workflow was started');
    } finally {
      await worker.stop();
    }
  });

  test("records that fail the task's item schema fail the batch naming item and field, before any item starts", async () => {
    const taskQueue = uniqueName('tq');
    const worker = await stack.startWorker(taskQueue);
    try {
      const file = path.join(directory, 'missing-description.jsonl');
      writeFileSync(
        file,
        ['{"id":"p1","name":"Kettle","description":"Boils water."}', '', '{"id":"p2","name":"Lamp"}'].join('\n'),
      );
      const batchId = uniqueName('item-schema');
      const cause = await failedBatch(taskQueue, { batchId, taskName: 'demo-enrichment', inputFile: file });
      assert.equal(cause.type, 'invalid_input');
      assert.match(cause.message, /line 3, item "p2", field "description"/);
      assert.deepEqual(await workflowsOfBatch(batchId), [batchId]);
    } finally {
      await worker.stop();
    }
  });

  test('a workflow input that breaks the schema fails at once, naming the field', async () => {
    const taskQueue = uniqueName('tq');
    const worker = await stack.startWorker(taskQueue);
    try {
      const batchId = uniqueName('bad-schema');
      const cause = await failedBatch(taskQueue, {
        batchId,
        taskName: 'test-echo',
        items: [{ id: 'a', index: 0, data: {} }],
        concurrency: 0,
      });
      assert.equal(cause.type, 'invalid_input');
      assert.match(cause.message, /concurrency/);
    } finally {
      await worker.stop();
    }
  });
});
