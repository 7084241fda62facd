/**
 * Context caching across worker processes: two batches started at once on two workers share one
 * cache. (Caching in one worker is in test/integration/caching.test.ts.)
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { runBatch } from '../helpers/batch';
import { waitForOutput } from '../helpers/cli';
import { uniqueName, useStackWithWorker, type TestStack } from '../helpers/stack';

function records(count: number): Array<{ id: string }> {
  return Array.from({ length: count }, (_, index) => ({ id: `r${index}` }));
}

describe('Gemini context caching across worker processes', () => {
  let stack!: TestStack;
  const taskQueue = useStackWithWorker((started) => (stack = started));

  const creations = () => stack.emulator.cacheOperations('cacheCreate').filter((entry) => entry.status === 200).length;

  const runCached = (taskName: string, count: number, options: Record<string, unknown> = {}) =>
    runBatch(stack, taskQueue, { taskName, records: records(count), concurrency: 20, options });

  /** Each test uses its own tags, so it owns its caches. */
  function tags(name: string) {
    return { cache: { tags: { run: uniqueName(name).replace(/[^A-Za-z0-9_.:-]/g, '') } } };
  }

  test('two batches started at the same moment on two workers: one cache', async () => {
    // A second worker process on the same task queue (one process may not run two).
    const second = stack.spawnWorkerProcess(taskQueue);
    const ready = waitForOutput(second, 'Worker on');
    try {
      await ready;
      const before = creations();
      const options = tags('twin');
      const [a, b] = await Promise.all([runCached('test-cached', 30, options), runCached('test-cached', 30, options)]);
      assert.equal(a.summary.succeeded + b.summary.succeeded, 60);
      assert.equal(creations() - before, 1);
      assert.equal(a.summary.cache?.name, b.summary.cache?.name);
    } finally {
      second.kill('SIGTERM');
      await once(second, 'exit');
    }
  });
});
