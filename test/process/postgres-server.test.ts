/**
 * The crash guarantees on the production-shaped server: the real Temporal server on PostgreSQL with
 * several history shards (scripts/stack-postgres.ts, a cluster of its own in a temp directory).
 * Runs when the server binaries are built (`npm run stack:postgres -- up` once, a few minutes of Go
 * build); skipped otherwise, saying why — CI does not build them (see README, "Running on a server").
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { GeminiEmulator } from '@durable-batch-llm/gemini-emulator';
import { BatchClient } from '../../src/client/batch-client';
import { FileResultStore } from '../../src/results';
import type { BatchSummary } from '../../src/schemas';
import { freePortRange, PostgresStack, STACK_PORT_SPAN, stackUnavailable } from '../../scripts/stack-postgres';
import { runCli, spawnCli } from '../helpers/cli';
import { freePort } from '../helpers/ports';

const unavailable = stackUnavailable();

describe('the Temporal server on PostgreSQL (4 history shards)', { skip: unavailable }, () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  test(
    'a worker SIGKILLed and then the server SIGKILLed mid-batch: the batch completes; summary, status, results and visibility agree on every item',
    { timeout: 300_000 },
    async () => {
      const root = mkdtempSync(path.join(os.tmpdir(), 'batch-llm-pg-stack-'));
      const stack = new PostgresStack({
        root,
        port: await freePortRange(STACK_PORT_SPAN),
        postgresPort: await freePort(),
      });
      cleanups.push(async () => {
        await stack.down();
        rmSync(root, { recursive: true, force: true });
      });
      await stack.up();
      const emulator = await GeminiEmulator.start({ latency: { baseMs: 250, jitterMs: 100 } });
      cleanups.push(() => emulator.stop());
      const resultsDirectory = path.join(root, 'results');
      const env = {
        TEMPORAL_ADDRESS: stack.address,
        TEMPORAL_TASK_QUEUE: 'pg-crash',
        GOOGLE_GEMINI_BASE_URL: emulator.url,
        BATCH_LLM_RESULTS_DIR: resultsDirectory,
      };
      const startWorker = () => {
        const worker = spawnCli(['worker', '--tasks', 'test/fixtures/tasks.ts'], env);
        worker.stdout?.resume();
        worker.stderr?.resume();
        cleanups.push(() => void worker.kill('SIGKILL'));
        return worker;
      };
      const connect = () =>
        BatchClient.connect({
          address: stack.address,
          taskQueue: 'pg-crash',
          namespace: 'default',
          webUiUrl: '',
          connectTimeoutMs: 20_000,
        });

      let worker = startWorker();
      let batchClient = await connect();
      const batchId = 'pg-crash';
      const total = 60;
      await batchClient.start({
        taskName: 'test-echo',
        batchId,
        records: Array.from({ length: total }, (_, index) => ({ id: `r${index}` })),
        concurrency: 6,
        options: { callTimeoutMs: 2_000 },
      });
      const finishedBy = async (count: number): Promise<number> => {
        let done = 0;
        while (done < count || emulator.inFlight === 0) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          if (done < count) done = (await batchClient.progress(batchId)).succeeded;
        }
        return done;
      };

      // 1. The worker dies with calls in flight; a new one takes over.
      const doneAtWorkerKill = await finishedBy(12);
      worker.kill('SIGKILL');
      await once(worker, 'exit');
      worker = startWorker();

      // 2. The server dies (no clean shutdown) and comes back on the same database.
      const doneAtServerKill = await finishedBy(30);
      await stack.stopTemporal('SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await stack.startTemporal();
      assert.ok(doneAtServerKill < total, 'the batch was mid-way when the server died');

      batchClient = await connect();
      const summary = await batchClient.summary(batchId);
      assert.equal(summary.total, total);
      assert.equal(summary.succeeded, total);

      const results = await new FileResultStore(resultsDirectory).readAll(batchId);
      assert.equal(results.length, total, 'exactly one result per item');
      assert.equal(new Set(results.map((result) => result.itemId)).size, total);
      assert.equal(results.filter((result) => result.status === 'succeeded').length, total);

      const status = await runCli(['status', batchId, '-o', 'json'], env);
      assert.equal(status.code, 0, status.stderr);
      const statusSummary = JSON.parse(status.stdout) as BatchSummary;
      assert.equal(statusSummary.succeeded, total);
      assert.equal(statusSummary.modelCalls, summary.modelCalls, 'status and the summary count the same calls');

      const connection = await Connection.connect({ address: stack.address });
      cleanups.push(() => connection.close());
      const client = new Client({ connection, namespace: 'default' });
      // Visibility on PostgreSQL is written by the server's visibility queue: give it a moment.
      let itemStatuses = new Map<string, string[]>();
      for (let attempt = 0; attempt < 50; attempt += 1) {
        itemStatuses = new Map();
        for await (const execution of client.workflow.list({
          query: `BatchId = "${batchId}" AND WorkflowType = "itemWorkflow"`,
        })) {
          const statuses = itemStatuses.get(execution.workflowId) ?? [];
          statuses.push(String(execution.searchAttributes['ItemStatus']?.[0] ?? ''));
          itemStatuses.set(execution.workflowId, statuses);
        }
        if (itemStatuses.size === total && [...itemStatuses.values()].every(([first]) => first === 'succeeded')) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.equal(itemStatuses.size, total, 'one item workflow per item');
      assert.ok(
        [...itemStatuses.values()].every((statuses) => statuses.length === 1 && statuses[0] === 'succeeded'),
        'no item workflow ran twice; every one says succeeded',
      );
      console.log(
        `postgres server: worker SIGKILL at ${doneAtWorkerKill}/${total}, server SIGKILL at ${doneAtServerKill}/${total}; ${summary.modelCalls} model calls`,
      );
      worker.kill('SIGTERM');
    },
  );
});
