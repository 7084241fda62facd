/**
 * The post-processing hook when its worker process is SIGKILLed mid-hook: the hook runs again, one
 * effect per item, and a hook that had completed never runs again. (The hook itself, transform and
 * reject, is in test/integration/safety.test.ts.)
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeTimeoutType } from '@temporalio/common';
import { FileResultStore } from '../../src/results';
import { startTestStack, uniqueName, type TestStack } from '../helpers/stack';

const HOOK_DIRECTORY = mkdtempSync(path.join(os.tmpdir(), 'batch-llm-hooks-'));

describe('the post-processing hook under a worker crash', () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack();
  });
  after(async () => {
    await stack?.teardown();
  });

  test('killed mid-hook and retried: one effect per item, and a completed hook never runs again', async () => {
    const taskQueue = uniqueName('tq');
    const batchId = uniqueName('post-crash');
    const invocationsOf = (itemId: string) =>
      readFileSync(path.join(HOOK_DIRECTORY, 'invocations.log'), 'utf8')
        .split('\n')
        .filter((line) => line.startsWith(encodeURIComponent(`${batchId}/${itemId}`) + ' ')).length;
    let worker = stack.spawnWorkerProcess(taskQueue, { TEST_POST_PROCESS_HOOK_DIR: HOOK_DIRECTORY });
    const batchClient = stack.batchClient(taskQueue);
    const records = [{ id: 'fast-1' }, { id: 'fast-2' }, { id: 'slow', slow: true }];
    await batchClient.start({
      taskName: 'test-post',
      batchId,
      records,
      concurrency: 3,
      options: { callTimeoutMs: 2000 },
    });
    // Kill while the slow hook runs (3 s) and after both fast items have finished, hooks included.
    const slowHookRunning = () =>
      readFileSafe(path.join(HOOK_DIRECTORY, 'invocations.log')).includes(encodeURIComponent(`${batchId}/slow`));
    while (!slowHookRunning() || (await batchClient.progress(batchId)).succeeded < 2) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    worker.kill('SIGKILL');
    await once(worker, 'exit');
    worker = stack.spawnWorkerProcess(taskQueue, { TEST_POST_PROCESS_HOOK_DIR: HOOK_DIRECTORY });
    const summary = await batchClient.summary(batchId);
    worker.kill('SIGTERM');

    assert.equal(summary.succeeded, 3);
    const effects = readdirSync(path.join(HOOK_DIRECTORY, 'effects')).filter((name) =>
      name.startsWith(encodeURIComponent(`${batchId}/`)),
    );
    assert.equal(effects.length, 3, 'exactly one effect per item');
    assert.equal(invocationsOf('slow'), 2, 'the hook killed mid-run ran again');
    const results = await new FileResultStore(stack.resultsDirectory).readAll(batchId);
    assert.equal(results.length, 3);
    assert.ok(
      results.every((result) => (result.output as { postProcessed?: boolean }).postProcessed),
      'every output went through the hook',
    );
    for (const id of ['fast-1', 'fast-2'])
      assert.equal(invocationsOf(id), 1, `${id}: its hook had completed; replay and retries did not run it again`);
    // The hook heartbeats: the dead worker's attempt ended at its heartbeat timeout, not at the minute-long start-to-close.
    const events = (await stack.client.workflow.getHandle(`${batchId}/slow`).fetchHistory()).events ?? [];
    const retried = events.find((event) => event.activityTaskStartedEventAttributes?.lastFailure);
    assert.equal(
      decodeTimeoutType(retried?.activityTaskStartedEventAttributes?.lastFailure?.timeoutFailureInfo?.timeoutType),
      'HEARTBEAT',
    );
  });
});

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return ''; // not written yet
  }
}
