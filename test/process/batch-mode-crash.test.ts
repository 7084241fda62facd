/**
 * Batch Mode survives worker crashes: a `batch-llm worker` process is SIGKILLed while a job's
 * submit is in flight (after the provider created the job, before the workflow heard) and again
 * while a job's answers are being downloaded and another job is still being waited for. The
 * batch completes on the next worker, which picks up both the download and the wait; the
 * emulator saw exactly one job per group, and every item has exactly one result.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { FileResultStore } from '../../src/results';
import { withFaults } from '../helpers/batch';
import { startTestStack, uniqueName, type TestStack } from '../helpers/stack';

async function until(what: string, check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    assert.ok(Date.now() < deadline, `timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('Batch Mode with worker processes killed mid-batch', () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack({ latency: { baseMs: 5, jitterMs: 5 }, batch: { pendingMs: 200, runningMs: 3_000 } });
  });
  after(async () => {
    await stack?.teardown();
  });

  test('SIGKILL during a submit whose job was created, then during a download while another job is waited for: one job per group, one result per item', async () => {
    const taskQueue = uniqueName('tq');
    const batchId = uniqueName('batch-crash');
    const total = 24;
    const batchClient = stack.batchClient(taskQueue);
    const operations = (route: 'batchCreate' | 'batchList' | 'fileDownload') =>
      stack.emulator.batchOperations(route).length;
    await withFaults(
      stack.emulator,
      [
        // Job 1's create happens, its reply is lost; the retry's lookup hangs until its worker is killed.
        { fault: 'reply_lost', route: 'batchCreate', times: 1 },
        { fault: 'hang', route: 'batchList', attempts: [2] },
        // The first download of a result file hangs until its worker is killed.
        { fault: 'hang', route: 'fileDownload', attempts: [1] },
      ],
      async () => {
        let worker = stack.spawnWorkerProcess(taskQueue);
        await batchClient.start({
          taskName: 'test-echo',
          batchId,
          records: Array.from({ length: total }, (_, index) => ({ id: `r${index}` })),
          // Uploaded files, so that answers come back as a result file to download.
          batchApi: { jobSize: 12, inlineLimitBytes: 1, pollIntervalMs: 200, maxPollIntervalMs: 500 },
        });
        await until('the retried submit hangs in its lookup', () => operations('batchList') >= 2, 90_000);
        assert.equal(operations('batchCreate'), 1, 'job 1 was created once, its reply lost');
        worker.kill('SIGKILL');
        await once(worker, 'exit');

        worker = stack.spawnWorkerProcess(taskQueue);
        await until('a download hangs', () => operations('fileDownload') >= 1, 90_000);
        // Job 2, submitted by this worker, is still being waited for: the wait must survive the kill too.
        const waiting = await batchClient.progress(batchId);
        assert.deepEqual(
          waiting.batchApi?.jobs.map((job) => job.state),
          ['succeeded', waiting.batchApi?.jobs[1]?.state === 'pending' ? 'pending' : 'running'],
        );
        worker.kill('SIGKILL');
        await once(worker, 'exit');

        worker = stack.spawnWorkerProcess(taskQueue);
        const summary = await batchClient.summary(batchId);
        worker.kill('SIGTERM');
        assert.equal(summary.succeeded, total, JSON.stringify(summary.batchApi?.jobs));
        assert.equal(summary.batchApi?.answeredByBatch, total);
      },
    );
    const jobs = stack.emulator.batchJobs().filter((job) => job.displayName?.startsWith(`${batchId}/`));
    assert.deepEqual(jobs.map((job) => job.displayName).sort(), [`${batchId}/job-1`, `${batchId}/job-2`]);
    assert.ok(
      jobs.every((job) => job.inputFile?.startsWith('files/')),
      'both jobs read uploaded files',
    );
    const results = await new FileResultStore(stack.resultsDirectory).readAll(batchId);
    assert.equal(results.length, total, 'one result per item');
    assert.equal(new Set(results.map((result) => result.itemId)).size, total);
    assert.ok(results.every((result) => result.status === 'succeeded' && result.attempts[0]?.via === 'batch'));
    assert.equal(stack.emulator.generateCalls({ itemKeyPrefix: `${batchId}/` }).length, 0, 'no online call');
  });
});
