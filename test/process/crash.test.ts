import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FileResultStore } from '../../src/results';
import { withEmulatorSettings } from '../helpers/batch';
import { startTestStack, uniqueName, type TestStack } from '../helpers/stack';

describe('a worker process killed mid-batch', () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack({ latency: { baseMs: 250, jitterMs: 100 } });
  });
  after(async () => {
    await stack?.teardown();
  });

  test('SIGKILL, then a new worker: the batch completes and every item has exactly one result and one workflow', async () => {
    const taskQueue = uniqueName('tq');
    const batchId = uniqueName('crash');
    const total = 60;
    const batchClient = stack.batchClient(taskQueue);
    let worker = stack.spawnWorkerProcess(taskQueue);
    await batchClient.start({
      taskName: 'test-echo',
      records: Array.from({ length: total }, (_, index) => ({ id: `r${index}` })),
      batchId,
      concurrency: 6,
      // A killed worker's in-flight calls are retried once their heartbeats stop (5 s).
      options: { callTimeoutMs: 2_000 },
    });

    // Kill it once some items are done and model calls are in flight (the moment both hold).
    let doneAtKill = 0;
    while (doneAtKill < 12 || stack.emulator.inFlight === 0) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (doneAtKill < 12) doneAtKill = (await batchClient.progress(batchId)).succeeded;
    }
    const inFlightAtKill = stack.emulator.inFlight;
    worker.kill('SIGKILL');
    await once(worker, 'exit');
    assert.ok(doneAtKill < total - 12, 'the batch was far from done when the worker died');
    assert.ok(inFlightAtKill > 0, 'model calls were in flight when the worker died');

    worker = stack.spawnWorkerProcess(taskQueue);
    const summary = await batchClient.summary(batchId);
    worker.kill('SIGTERM');

    assert.equal(summary.total, total);
    assert.equal(summary.succeeded, total);
    assert.equal(summary.failed, 0);

    const results = await new FileResultStore(stack.resultsDirectory).readAll(batchId);
    assert.equal(results.length, total, 'exactly one result per item');
    assert.deepEqual(new Set(results.map((result) => result.itemId)).size, total);

    const executions = new Map<string, number>();
    for await (const execution of stack.client.workflow.list({
      query: `BatchId = "${batchId}" AND WorkflowType = "itemWorkflow"`,
    })) {
      executions.set(execution.workflowId, (executions.get(execution.workflowId) ?? 0) + 1);
    }
    assert.equal(executions.size, total, 'one item workflow per item');
    assert.ok(
      [...executions.values()].every((count) => count === 1),
      'no item workflow ran twice',
    );
    console.log(
      `crash test: ${doneAtKill}/${total} done and ${inFlightAtKill} calls in flight at SIGKILL; ${stack.emulator.generateCalls({ itemKeyPrefix: `${batchId}/` }).length} model calls in all`,
    );
  });

  test('1,200 items, the worker SIGKILLed three times (across continue-as-new runs): the results file has exactly one line per item', async () => {
    await withEmulatorSettings(stack.emulator, { latency: { baseMs: 20, jitterMs: 10 } }, async () => {
      const taskQueue = uniqueName('tq');
      const batchId = uniqueName('kill3');
      // Short runs (~300 items each) so that the three kills land in different runs at this size.
      const total = 1_200;
      const inputFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'kill3-')), 'items.jsonl');
      writeFileSync(
        inputFile,
        Array.from({ length: total }, (_, index) => JSON.stringify({ id: `r${index}` })).join('\n') + '\n',
      );
      const batchClient = stack.batchClient(taskQueue);
      let worker = stack.spawnWorkerProcess(taskQueue);
      try {
        await batchClient.start({
          taskName: 'test-echo',
          inputFile,
          batchId,
          concurrency: 40,
          historyEventsPerRun: 1_200,
          options: { callTimeoutMs: 2_000, maxModelCalls: 10 },
        });
        const finishedAtKill: number[] = [];
        for (const threshold of [200, 500, 800]) {
          let finished = 0;
          while (finished < threshold) {
            await new Promise((resolve) => setTimeout(resolve, 100));
            finished = (await batchClient.progress(batchId)).succeeded;
          }
          finishedAtKill.push(finished);
          worker.kill('SIGKILL');
          await once(worker, 'exit');
          worker = stack.spawnWorkerProcess(taskQueue);
        }
        const summary = await batchClient.summary(batchId);
        assert.equal(summary.succeeded, total);
        assert.ok(summary.runs >= 3, 'the batch continued as new along the way, more than once');

        const lines = readFileSync(path.join(stack.resultsDirectory, batchId, 'results.jsonl'), 'utf8')
          .split('\n')
          .filter((line) => line.length > 0);
        assert.equal(lines.length, total, 'one line per item in the results file');
        const ids = new Set(lines.map((line) => (JSON.parse(line) as { itemId: string }).itemId));
        assert.equal(ids.size, total, 'no item twice, none missing');
        console.log(
          `kill ×3: SIGKILL at ${finishedAtKill.join(', ')} of ${total} finished; ${summary.runs} runs; ${lines.length} result lines`,
        );
      } finally {
        worker.kill('SIGTERM');
      }
    });
  });
});
