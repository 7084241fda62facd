/**
 * Gemini Batch Mode end to end (`batchApi`): a real dev server, an in-process worker and the
 * emulator's Batch Mode. Stage 1 of every item goes through provider jobs; each item is still its
 * own child workflow, judges its batch answer like an online one, and goes online only to repair
 * or to retry what the job did not answer.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { batchPriceOf, usageCost, type Price } from '../../src/pricing';
import type { BatchSummary, ItemResult } from '../../src/schemas';
import { batchOutcome, runBatch, withEmulatorSettings, withFaults } from '../helpers/batch';
import { uniqueName, useStackWithWorker, type TestStack } from '../helpers/stack';

function records(count: number, prefix = 'item'): Array<{ id: string; text: string }> {
  return Array.from({ length: count }, (_, index) => ({
    id: `${prefix}-${String(index).padStart(4, '0')}`,
    text: `record number ${index}`,
  }));
}

const PRICE: Price = { input: 0.3, output: 2.5, cachedInput: 0.03, cacheStoragePerHour: 1 };
const prices = { 'gemini-test-model': PRICE };
/** Fast turnaround and polling, so the suite spends seconds, not hours. */
const FAST = { pollIntervalMs: 150, maxPollIntervalMs: 400 };

/** Every item has exactly one record, and the counts agree with the summary. */
function assertOneRecordEach(results: ItemResult[], count: number): void {
  assert.equal(results.length, count, 'one record per item');
  assert.equal(new Set(results.map((result) => result.itemId)).size, count, 'no item recorded twice');
}

describe('Batch Mode (--batch-api) on a real dev server and the emulator', () => {
  let stack: TestStack;
  const taskQueue = useStackWithWorker((started) => (stack = started), {
    latency: { baseMs: 5, jitterMs: 5 },
    batch: { pendingMs: 150, runningMs: 300 },
  });

  test('2,000 items in jobs of 500: every item answered by its job, no online call, batch prices', async () => {
    const before = stack.emulator.batchJobs().length;
    const run = await runBatch(stack, taskQueue, {
      records: records(2_000),
      concurrency: 200,
      options: { prices },
      batchApi: { jobSize: 500, ...FAST },
    });
    assertOneRecordEach(run.results, 2_000);
    assert.equal(run.summary.succeeded, 2_000);
    assert.equal(run.calls().length, 0, 'no online call: every batch answer was valid');

    const jobs = stack.emulator.batchJobs().slice(before);
    assert.equal(jobs.length, 4, 'four jobs of 500');
    assert.deepEqual(
      jobs.map((job) => [job.displayName, job.requestCount]),
      [1, 2, 3, 4].map((number) => [`${run.batchId}/job-${number}`, 500]),
    );

    const api = run.summary.batchApi;
    assert.ok(api, 'the summary has a Batch Mode section');
    assert.equal(api.jobs.length, 4);
    assert.ok(
      api.jobs.every((job) => job.state === 'downloaded' && job.name?.startsWith('batches/')),
      'every job downloaded',
    );
    assert.equal(api.answeredByBatch, 2_000);
    assert.equal(api.neededOnline, 0);
    assert.equal(api.batchCalls, 2_000);
    assert.equal(api.onlineCalls, 0);
    assert.equal(run.summary.modelCalls, 2_000);

    // Each attempt says it went through the batch API, and which job; batch price is half the online one.
    const jobNames = new Set(jobs.map((job) => job.name));
    let batchCost = 0;
    let onlineCost = 0;
    for (const result of run.results) {
      assert.equal(result.attempts.length, 1);
      const [attempt] = result.attempts;
      assert.equal(attempt?.via, 'batch');
      assert.ok(jobNames.has(attempt?.batchJob ?? ''), `attempt names its job (${attempt?.batchJob})`);
      assert.equal(attempt?.costUsd, usageCost(result.usage, batchPriceOf(PRICE)));
      batchCost += result.costUsd;
      onlineCost += usageCost(result.usage, PRICE);
    }
    assert.ok(batchCost > 0);
    assert.ok(Math.abs(batchCost - onlineCost / 2) < 1e-6, `batch cost ${batchCost} is half of ${onlineCost}`);
    assert.ok(Math.abs(api.savedUsd - onlineCost / 2) < 1e-6, `saved ${api.savedUsd} = ${onlineCost / 2}`);
    assert.ok(Math.abs(run.summary.costUsd - batchCost) < 1e-6, 'the summary charges batch prices');
    assert.equal(
      existsSync(path.join(stack.resultsDirectory, run.batchId, 'batch-answers')),
      false,
      'the staged answers are cleared once the batch has ended',
    );
  });

  test('a mixed job: schema-invalid answers repaired online at stage 2, request errors retried online at stage 1; an EXPIRED and a FAILED job all online', async () => {
    const batchId = uniqueName('mixed');
    const run = await withEmulatorSettings(
      stack.emulator,
      {
        batch: {
          pendingMs: 100,
          runningMs: 200,
          requestFaults: [
            { fault: 'schema_invalid', keyPrefix: 'bad-' },
            { fault: 'error', keyPrefix: 'err-', code: 503, status: 'UNAVAILABLE', message: 'try later' },
          ],
          outcomes: [
            { displayNamePrefix: `${batchId}/job-2`, outcome: 'EXPIRED' },
            { displayNamePrefix: `${batchId}/job-3`, outcome: 'FAILED' },
          ],
        },
      },
      () =>
        runBatch(stack, taskQueue, {
          batchId,
          records: [
            ...records(6, 'ok'),
            ...records(2, 'bad'),
            ...records(2, 'err'),
            ...records(10, 'late'),
            ...records(4, 'dead'),
          ],
          options: { prices },
          batchApi: { jobSize: 10, ...FAST },
        }),
    );
    assertOneRecordEach(run.results, 24);
    assert.equal(run.summary.succeeded, 24, JSON.stringify(run.summary.byCategory));
    const api = run.summary.batchApi;
    assert.ok(api);
    assert.deepEqual(
      api.jobs.map((job) => job.state),
      ['downloaded', 'expired', 'failed'],
    );

    for (const result of run.results) {
      const first = result.attempts[0];
      assert.equal(first?.via, 'batch', `${result.itemId}: stage 1 went through the batch API`);
      const online = result.attempts.slice(1);
      assert.ok(
        online.every((attempt) => attempt.via === undefined),
        `${result.itemId}: later attempts are online`,
      );
      assert.equal(run.calls(result.itemId).length, online.length, `${result.itemId}: online calls = the emulator's`);
      assert.equal(result.modelCalls, result.attempts.length);
      if (result.itemId.startsWith('ok-')) {
        assert.equal(online.length, 0);
      } else if (result.itemId.startsWith('bad-')) {
        assert.equal(first?.outcome, 'validation_error');
        assert.deepEqual(
          online.map((attempt) => [attempt.stage, attempt.mode, attempt.outcome]),
          [[2, 'partial', 'ok']],
        );
      } else if (result.itemId.startsWith('err-')) {
        assert.equal(first?.outcome, 'server_overload');
        assert.deepEqual(
          online.map((attempt) => [attempt.stage, attempt.mode, attempt.outcome]),
          [[1, 'full', 'ok']],
        );
      } else if (result.itemId.startsWith('dead-')) {
        assert.equal(first?.outcome, 'server_error');
        assert.match(first?.message ?? '', /FAILED/);
        assert.deepEqual(
          online.map((attempt) => [attempt.stage, attempt.mode, attempt.outcome]),
          [[1, 'full', 'ok']],
        );
      } else {
        assert.equal(first?.outcome, 'timeout');
        assert.match(first?.message ?? '', /EXPIRED/);
        assert.deepEqual(
          online.map((attempt) => [attempt.stage, attempt.mode, attempt.outcome]),
          [[1, 'full', 'ok']],
        );
      }
    }
    assert.equal(api.answeredByBatch, 6);
    assert.equal(api.neededOnline, 18);
    assert.equal(api.onlineCalls, run.calls().length);
    assert.equal(api.batchCalls + api.onlineCalls, run.summary.modelCalls);
  });

  test('a paged input file: each job reads its own page; requests above the inline limit go as an uploaded JSONL file', async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'batch-llm-batch-mode-')), 'items.jsonl');
    writeFileSync(
      file,
      records(30, 'file')
        .map((record) => JSON.stringify(record))
        .join('\n'),
    );
    const batchId = uniqueName('file');
    const before = stack.emulator.batchJobs().length;
    // A page size below the item count: the workflow never holds the items, the activities read their pages.
    const handle = await stack.client.workflow.start('batchWorkflow', {
      workflowId: batchId,
      taskQueue,
      args: [
        {
          batchId,
          taskName: 'test-echo',
          inputFile: file,
          inputPageSize: 10,
          batchApi: { jobSize: 15, inlineLimitBytes: 1_000, ...FAST },
        },
      ],
    });
    const summary = (await handle.result()) as BatchSummary;
    const { results, calls } = await batchOutcome(stack, batchId);
    assertOneRecordEach(results, 30);
    assert.equal(summary.succeeded, 30);
    assert.deepEqual(
      results.map((result) => result.itemId),
      records(30, 'file').map((record) => record.id),
    );
    const jobs = stack.emulator.batchJobs().slice(before);
    assert.deepEqual(
      jobs.map((job) => [job.displayName, job.requestCount]),
      [
        [`${batchId}/job-1`, 15],
        [`${batchId}/job-2`, 15],
      ],
    );
    assert.ok(
      jobs.every((job) => /^files\//.test(job.inputFile ?? '')),
      'the jobs read uploaded files',
    );
    assert.deepEqual(
      summary.batchApi?.jobs.map((job) => job.file),
      [true, true],
    );
    // Each item's answer came from its own job: the job's items are the item's page.
    for (const result of results) {
      const number = Number(result.itemId.slice('file-'.length)) < 15 ? 0 : 1;
      assert.equal(result.attempts[0]?.batchJob, jobs[number]?.name, `${result.itemId} answered by its own job`);
    }
    assert.equal(calls().length, 0);
  });

  test('a create whose reply is lost is found by its display name: exactly one job per group', async () => {
    const before = stack.emulator.batchJobs().length;
    const run = await withFaults(stack.emulator, [{ fault: 'reply_lost', route: 'batchCreate', times: 1 }], () =>
      runBatch(stack, taskQueue, { records: records(12, 'lost'), batchApi: { jobSize: 4, ...FAST } }),
    );
    assertOneRecordEach(run.results, 12);
    assert.equal(run.summary.succeeded, 12);
    const jobs = stack.emulator.batchJobs().slice(before);
    assert.deepEqual(
      jobs.map((job) => job.displayName).sort(),
      [1, 2, 3].map((number) => `${run.batchId}/job-${number}`),
      'one job per group, although a create lost its reply',
    );
    assert.equal(run.calls().length, 0);
  });

  test('cancel during a running job cancels it at the provider; its items end cancelled, once', async () => {
    const batchClient = stack.batchClient(taskQueue);
    const batchId = uniqueName('cancel');
    const before = stack.emulator.batchJobs().length;
    await withEmulatorSettings(stack.emulator, { batch: { pendingMs: 0, runningMs: 600_000 } }, async () => {
      await batchClient.start({
        taskName: 'test-echo',
        batchId,
        records: records(8, 'cancel'),
        batchApi: { jobSize: 4, ...FAST },
      });
      // Wait until both jobs run at the provider.
      for (let tries = 0; ; tries += 1) {
        const progress = await batchClient.progress(batchId);
        if (progress.batchApi?.jobs.every((job) => job.state === 'running')) break;
        assert.ok(tries < 100, 'the jobs started running');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await batchClient.cancel(batchId, 'test cancel');
      const summary = await batchClient.summary(batchId);
      assert.equal(summary.cancelled, 8);
      assert.deepEqual(
        summary.batchApi?.jobs.map((job) => job.state),
        ['cancelled', 'cancelled'],
      );
    });
    const jobs = stack.emulator.batchJobs().slice(before);
    assert.equal(jobs.length, 2);
    assert.ok(
      jobs.every((job) => job.cancelRequested && job.states.at(-1)?.state === 'CANCELLED'),
      'the emulator cancelled both jobs',
    );
    const { results, calls } = await batchOutcome(stack, batchId);
    assertOneRecordEach(results, 8);
    assert.ok(results.every((result) => result.status === 'cancelled'));
    assert.equal(calls().length, 0);
  });

  test('pause stops submitting new jobs; resume submits the rest', async () => {
    const batchClient = stack.batchClient(taskQueue);
    const batchId = uniqueName('paused');
    const before = stack.emulator.batchJobs().length;
    // The first create fails once: the batch is surely paused before job 2 could be submitted.
    await withFaults(stack.emulator, [{ fault: 'server_error', route: 'batchCreate', times: 1 }], async () => {
      await batchClient.start({
        taskName: 'test-echo',
        batchId,
        records: records(8, 'pause'),
        batchApi: { jobSize: 4, ...FAST },
      });
      await batchClient.pause(batchId);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const paused = await batchClient.progress(batchId);
      assert.equal(paused.batchApi?.jobs[1]?.state, 'unsubmitted', 'job 2 waits while the batch is paused');
      assert.ok(stack.emulator.batchJobs().length - before <= 1, 'at most the job in flight was created');
      await batchClient.resume(batchId);
    });
    const summary = await batchClient.summary(batchId);
    assert.equal(summary.succeeded, 8);
    assert.equal(stack.emulator.batchJobs().length - before, 2, 'both jobs, once each');
  });

  test('a batch waiting on jobs continues as new past its history limit and carries the jobs over', async () => {
    const before = stack.emulator.batchJobs().length;
    const run = await withEmulatorSettings(stack.emulator, { batch: { pendingMs: 500, runningMs: 2_500 } }, () =>
      runBatch(stack, taskQueue, {
        records: records(60, 'long'),
        historyEventsPerRun: 200,
        batchApi: { jobSize: 20, pollIntervalMs: 100, maxPollIntervalMs: 100 },
      }),
    );
    assertOneRecordEach(run.results, 60);
    assert.equal(run.summary.succeeded, 60);
    assert.ok(run.summary.runs > 1, `continued as new (${run.summary.runs} runs)`);
    assert.equal(stack.emulator.batchJobs().length - before, 3, 'each job submitted once across runs');
    assert.equal(run.summary.batchApi?.answeredByBatch, 60);
    assert.equal(run.calls().length, 0);
  });

  test('the batch deadline passes while jobs run: the jobs are cancelled, their items end deadline_exceeded, and the start warned', async () => {
    const before = stack.emulator.batchJobs().length;
    const run = await withEmulatorSettings(stack.emulator, { batch: { pendingMs: 0, runningMs: 600_000 } }, () =>
      runBatch(stack, taskQueue, {
        records: records(6, 'deadline'),
        deadline: new Date(Date.now() + 4_000).toISOString(),
        batchApi: { jobSize: 3, ...FAST },
      }),
    );
    assertOneRecordEach(run.results, 6);
    assert.equal(run.summary.deadline_exceeded, 6);
    assert.equal(run.summary.control.stop?.kind, 'deadline');
    assert.match(run.summary.batchApi?.warning ?? '', /less than the 24 h a batch job may take/);
    assert.deepEqual(
      run.summary.batchApi?.jobs.map((job) => job.state),
      ['cancelled', 'cancelled'],
    );
    const jobs = stack.emulator.batchJobs().slice(before);
    assert.equal(jobs.length, 2);
    assert.ok(jobs.every((job) => job.cancelRequested));
    assert.equal(run.calls().length, 0);
  });

  test('a cost budget reached by the first item stops the batch: the items not started end cancelled; reruns keep Batch Mode or run online', async () => {
    const run = await runBatch(stack, taskQueue, {
      records: records(12, 'budget'),
      concurrency: 1,
      maxCostUsd: 1e-9,
      options: { prices },
      batchApi: { jobSize: 4, ...FAST },
    });
    assertOneRecordEach(run.results, 12);
    assert.equal(run.summary.control.stop?.kind, 'budget');
    assert.equal(run.summary.succeeded, 1, 'the first item spent the budget');
    assert.equal(run.summary.cancelled, 11, 'the others never started');
    const states = run.summary.batchApi?.jobs.map((job) => job.state) ?? [];
    assert.equal(states.length, 3);
    assert.equal(states[0], 'downloaded');
    assert.ok(
      states.every((state) => ['downloaded', 'cancelled', 'unsubmitted'].includes(state)),
      `every job ended downloaded, cancelled or unsubmitted: ${states.join(', ')}`,
    );
    assert.equal(run.calls().length, 0);

    // A rerun keeps Batch Mode unless told otherwise; `batchApi: null` reruns online.
    const batchClient = stack.batchClient(taskQueue);
    const again = await batchClient.rerun(run.batchId);
    const againSummary = await batchClient.summary(again.batchId);
    // The origin's budget and concurrency come along too: its first item spends the budget again.
    assert.equal(againSummary.total, 11, 'the cancelled items');
    assert.equal(againSummary.batchApi?.answeredByBatch, 1, 'through Batch Mode again');
    assert.equal(againSummary.succeeded + againSummary.cancelled, 11);
    const online = await batchClient.rerun(run.batchId, { statuses: ['succeeded'], batchApi: null });
    const onlineSummary = await batchClient.summary(online.batchId);
    assert.equal(onlineSummary.succeeded, 1);
    assert.equal(onlineSummary.batchApi, undefined, 'the rerun ran online');
    assert.equal(stack.emulator.generateCalls({ itemKeyPrefix: `${online.batchId}/` }).length, 1);
  });
});
