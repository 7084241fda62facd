import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EXIT_CODES } from '../../src/client/errors';
import { runCli } from '../helpers/cli';
import { startTestStack, uniqueName, type TestStack } from '../helpers/stack';

describe('a quiet, well-drawn terminal', () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack();
  });
  after(async () => {
    await stack?.teardown();
  });

  test('a 503 retried once is one compact WARN line (item, category, attempt, wait), with no stack trace', async () => {
    const taskQueue = uniqueName('tq');
    // The default level (cliEnv: WARN), as `dev` runs it.
    const worker = stack.spawnWorkerProcess(taskQueue);
    let stderr = '';
    worker.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      const batchId = uniqueName('logs');
      stack.emulator.configure({
        faults: [
          { fault: 'overloaded', itemKey: `${batchId}/a`, attempts: [1] },
          { fault: 'invalid_request', itemKey: `${batchId}/c` },
        ],
      });
      const batchClient = stack.batchClient(taskQueue);
      await batchClient.start({ taskName: 'test-echo', batchId, records: [{ id: 'a' }, { id: 'b' }, { id: 'c' }] });
      const summary = await batchClient.summary(batchId);
      assert.equal(summary.succeeded, 2);
      assert.equal(summary.failed, 1);
      worker.kill('SIGTERM');
      await once(worker, 'exit');

      const lines = stderr.split('\n').filter((line) => line.includes(batchId));
      assert.equal(lines.length, 2, stderr);
      const about = (item: string) => lines.filter((line) => line.includes(`item ${batchId}/${item},`));
      assert.equal(about('a').length, 1, stderr);
      assert.match(
        about('a')[0] ?? '',
        new RegExp(
          `\\[WARN\\] model call failed, retrying in 1s: item ${batchId}/a, server_overload, attempt 1 \\(The model is overloaded\\. Please try again later\\.\\)$`,
        ),
      );
      assert.equal(about('c').length, 1, stderr);
      assert.match(
        about('c')[0] ?? '',
        new RegExp(`\\[WARN\\] model call failed, not retried: item ${batchId}/c, invalid_request, attempt 1 \\(`),
      );
      assert.doesNotMatch(stderr, /^\s+at /m, 'no stack frame');
      assert.doesNotMatch(stderr, /Activity failed|ApplicationFailure|ApiError/);
    } finally {
      stack.emulator.configure({ faults: [] });
      if (worker.exitCode === null) {
        worker.kill('SIGTERM');
        await once(worker, 'exit');
      }
    }
  });

  test("start prints a link to the batch's failed items at start and, when items did not succeed, in the summary", async () => {
    const taskQueue = uniqueName('tq');
    const worker = stack.spawnWorkerProcess(taskQueue);
    try {
      const batchId = uniqueName('link');
      stack.emulator.configure({ faults: [{ fault: 'invalid_request', itemKey: `${batchId}/b` }] });
      const input = path.join(os.tmpdir(), `${batchId}.jsonl`);
      writeFileSync(input, ['{"id":"a"}', '{"id":"b"}', '{"id":"c"}'].join('\n'));
      const run = await runCli(
        ['start', '--input', input, '--task', 'test-echo', '--tasks', 'test/fixtures/tasks.ts', '--batch-id', batchId],
        { TEMPORAL_ADDRESS: stack.address, TEMPORAL_TASK_QUEUE: taskQueue, TEMPORAL_UI_URL: 'http://ui.example:8233' },
      );
      assert.equal(run.code, 0, run.stderr);
      const link = `http://ui.example:8233/namespaces/default/workflows?query=${encodeURIComponent(`BatchId="${batchId}" AND ExecutionStatus="Failed"`)}`;
      assert.ok(run.stdout.split('\n').includes(`  failed: ${link}`), run.stdout);

      const watched = await runCli(['status', batchId, '--watch'], {
        TEMPORAL_ADDRESS: stack.address,
        TEMPORAL_TASK_QUEUE: taskQueue,
        TEMPORAL_UI_URL: 'http://ui.example:8233',
      });
      assert.equal(watched.code, EXIT_CODES.itemsUnsuccessful, watched.stderr);
      assert.ok(
        watched.stdout.split('\n').includes(`  failed:     1 items did not succeed; Web UI: ${link}`),
        watched.stdout,
      );
      // The link's query lists exactly the item that did not succeed.
      const listed: string[] = [];
      for await (const execution of stack.client.workflow.list({
        query: `BatchId="${batchId}" AND ExecutionStatus="Failed"`,
      }))
        listed.push(execution.workflowId);
      assert.deepEqual(listed, [`${batchId}/b`]);
    } finally {
      stack.emulator.configure({ faults: [] });
      worker.kill('SIGTERM');
      await once(worker, 'exit');
    }
  });
});
