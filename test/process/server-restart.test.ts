import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { BatchClient } from '../../src/client/batch-client';
import { GeminiEmulator } from '@durable-batch-llm/gemini-emulator';
import { FileResultStore } from '../../src/results';
import { startDevServer } from '../../src/temporal/dev-server';
import { spawnCli } from '../helpers/cli';
import { freePort } from '../helpers/ports';

describe('the Temporal server restarted mid-batch', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  test('with --db-filename the batches survive (one mid-way, one waiting on its Batch Mode jobs): they complete after the restart with one result per item', async () => {
    const directory = mkdtempSync(path.join(os.tmpdir(), 'batch-llm-restart-'));
    const dbFilename = path.join(directory, 'temporal.db');
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    let server: TestWorkflowEnvironment | undefined = await startDevServer({ dbFilename, port });
    cleanups.push(() => server?.teardown());
    // Batch Mode jobs take a few seconds: the server goes down while the batch waits on them.
    const emulator = await GeminiEmulator.start({
      latency: { baseMs: 200, jitterMs: 0 },
      batch: { pendingMs: 500, runningMs: 6_000 },
    });
    cleanups.push(() => emulator.stop());
    const resultsDirectory = path.join(directory, 'results');
    const worker = spawnCli(['worker', '--tasks', 'test/fixtures/tasks.ts', '--results-dir', resultsDirectory], {
      TEMPORAL_ADDRESS: address,
      TEMPORAL_TASK_QUEUE: 'restart',
      GOOGLE_GEMINI_BASE_URL: emulator.url,
    });
    worker.stdout?.resume();
    worker.stderr?.resume();
    cleanups.push(() => void worker.kill('SIGKILL'));

    const connect = () =>
      BatchClient.connect({
        address,
        taskQueue: 'restart',
        namespace: 'default',
        webUiUrl: '',
        connectTimeoutMs: 10_000,
      });
    let batchClient = await connect();
    const total = 30;
    await batchClient.start({
      taskName: 'test-echo',
      batchId: 'survivor',
      records: Array.from({ length: total }, (_, index) => ({ id: `r${index}` })),
      concurrency: 3,
    });
    await batchClient.start({
      taskName: 'test-echo',
      batchId: 'waiter',
      records: Array.from({ length: 8 }, (_, index) => ({ id: `w${index}` })),
      batchApi: { jobSize: 4, pollIntervalMs: 200, maxPollIntervalMs: 500 },
    });
    let done = 0;
    let waiting = false;
    while (done < 5 || !waiting) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      done = (await batchClient.progress('survivor')).succeeded;
      const jobs = (await batchClient.progress('waiter')).batchApi?.jobs ?? [];
      waiting = jobs.length === 2 && jobs.every((job) => job.state === 'pending' || job.state === 'running');
    }
    await server.teardown();
    server = undefined;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    server = await startDevServer({ dbFilename, port });

    batchClient = await connect();
    const summary = await batchClient.summary('survivor');
    assert.equal(summary.succeeded, total);
    assert.ok(done < total, 'the batch was mid-way when the server went down');
    const results = await new FileResultStore(resultsDirectory).readAll('survivor');
    assert.equal(results.length, total);

    // The Batch Mode batch was waiting on its provider jobs when the server went down: the wait resumed.
    const waited = await batchClient.summary('waiter');
    assert.equal(waited.succeeded, 8);
    assert.equal(waited.batchApi?.answeredByBatch, 8);
    assert.deepEqual(
      emulator
        .batchJobs()
        .map((job) => job.displayName)
        .sort(),
      ['waiter/job-1', 'waiter/job-2'],
      'each job created once',
    );
    const waiterResults = await new FileResultStore(resultsDirectory).readAll('waiter');
    assert.equal(waiterResults.length, 8);
  });
});
