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

  test('with --db-filename the batch survives: it completes after the restart with one result per item', async () => {
    const directory = mkdtempSync(path.join(os.tmpdir(), 'batch-llm-restart-'));
    const dbFilename = path.join(directory, 'temporal.db');
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    let server: TestWorkflowEnvironment | undefined = await startDevServer({ dbFilename, port });
    cleanups.push(() => server?.teardown());
    const emulator = await GeminiEmulator.start({ latency: { baseMs: 200, jitterMs: 0 } });
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
    let done = 0;
    while (done < 5) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      done = (await batchClient.progress('survivor')).succeeded;
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
  });
});
