import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { startTestStack, uniqueName, type TestStack } from '../helpers/stack';

describe('batch-llm worker logs', () => {
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
});
