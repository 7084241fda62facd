import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { FileResultStore } from '../../src/results';
import { itemStateQuery } from '../../src/contract';
import type { FaultRule } from '@durable-batch-llm/gemini-emulator';
import { withFaults } from '../helpers/batch';
import { startTestStack, uniqueName, type TestStack } from '../helpers/stack';

describe('a worker killed between stages', () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack();
  });
  after(async () => {
    await stack?.teardown();
  });

  test('SIGKILL while stage 2 (partial) is in flight: the new worker continues at stage 2, not stage 1', async () => {
    const taskQueue = uniqueName('tq');
    const batchId = uniqueName('between');
    const itemKey = `${batchId}/x`;
    const faults: FaultRule[] = [
      { fault: 'schema_invalid', itemKey, attempts: [1] },
      { fault: 'hang', itemKey, attempts: [2] },
    ];
    await withFaults(stack.emulator, faults, async () => {
      let worker = stack.spawnWorkerProcess(taskQueue);
      const batchClient = stack.batchClient(taskQueue);
      await batchClient.start({
        taskName: 'test-echo',
        batchId,
        records: [{ id: 'x' }],
        options: { callTimeoutMs: 3_000 },
      });

      while (!stack.emulator.generateCalls({ itemKeyPrefix: itemKey }).some((call) => call.attempt === 2)) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const state = await stack.client.workflow.getHandle(itemKey).query(itemStateQuery);
      assert.equal(state.stage, 2, 'the item workflow reports stage 2 while its call is in flight');
      assert.deepEqual(state.partial?.failedFields.length, 1, 'the repair material lives in workflow state');
      worker.kill('SIGKILL');
      await once(worker, 'exit');

      worker = stack.spawnWorkerProcess(taskQueue);
      const summary = await batchClient.summary(batchId);
      worker.kill('SIGTERM');
      assert.equal(summary.succeeded, 1);

      const calls = stack.emulator.generateCalls({ itemKeyPrefix: itemKey });
      assert.equal(calls.length, 3);
      assert.equal(
        calls[2]!.promptChars,
        calls[1]!.promptChars,
        'after the crash the partial prompt of stage 2 was sent again',
      );
      assert.notEqual(calls[2]!.promptChars, calls[0]!.promptChars, 'not the full prompt of stage 1');
      const [result] = await new FileResultStore(stack.resultsDirectory).readAll(batchId);
      assert.deepEqual(
        result?.attempts.map((attempt) => [attempt.call, attempt.stage, attempt.mode, attempt.outcome]),
        [
          [1, 1, 'full', 'validation_error'],
          [2, 2, 'partial', 'lost_in_crash'],
          [3, 2, 'partial', 'ok'],
        ],
        'the request lost with the worker is in the attempts, as it was sent',
      );
      assert.equal(result?.modelCalls, 3, 'the call lost with the worker is counted');
    });
  });
});
