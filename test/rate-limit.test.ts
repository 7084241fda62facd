import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { startTestStack, uniqueName, type TestStack } from './helpers/stack';

/** Calls allowed beyond the steady rate at the start (the server's token bucket starts full). */
const DOCUMENTED_BURST = 4;

describe('requests-per-minute across worker processes', () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack();
  });
  after(async () => {
    await stack?.teardown();
  });

  test('two workers with --rpm 120: the emulator never sees more than 2 calls a second beyond the documented burst', async () => {
    const taskQueue = uniqueName('tq');
    const ready = (child: ReturnType<TestStack['spawnWorkerProcess']>) =>
      new Promise<void>((resolve) => child.stderr?.on('data', (chunk: Buffer) => chunk.toString().includes('Worker on') && resolve()));
    const workers = [stack.spawnWorkerProcess(taskQueue, { BATCH_LLM_RPM: '120' }), stack.spawnWorkerProcess(taskQueue, { BATCH_LLM_RPM: '120' })];
    await Promise.all(workers.map(ready));
    try {
      const batchId = uniqueName('rpm');
      const batchClient = stack.batchClient(taskQueue);
      const count = 20;
      await batchClient.start({ taskName: 'test-echo', batchId, records: Array.from({ length: count }, (_, index) => ({ id: `r${index}` })), concurrency: count });
      const summary = await batchClient.summary(batchId);
      assert.equal(summary.succeeded, count);
      const starts = stack.emulator.generateCalls({ itemKeyPrefix: `${batchId}/` }).map((call) => call.startedAtMs).sort((a, b) => a - b);
      const perSecond = 120 / 60;
      const windowMs = 3000;
      for (const start of starts) {
        const inWindow = starts.filter((other) => other >= start && other < start + windowMs).length;
        assert.ok(inWindow <= perSecond * (windowMs / 1000) + DOCUMENTED_BURST, `${inWindow} calls within ${windowMs} ms of ${start}`);
      }
      const spanSeconds = (starts.at(-1)! - starts[0]!) / 1000;
      assert.ok(spanSeconds >= (count - DOCUMENTED_BURST) / perSecond - 1, `${count} calls spread over ${spanSeconds.toFixed(1)} s`);
      console.log(`rpm 120 over two workers: ${count} calls in ${spanSeconds.toFixed(1)} s = ${(count / spanSeconds).toFixed(2)} calls/s (limit ${perSecond}/s)`);
    } finally {
      for (const worker of workers) {
        worker.kill('SIGTERM');
        await once(worker, 'exit');
      }
    }
  });
});
