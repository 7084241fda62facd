/**
 * One item, one truth: the summary, `status`, the results file, the item workflows' search
 * attributes and their Web UI status agree, and the CLI says what happened (driven through the bin).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { EXIT_CODES } from '../../src/client/errors';
import { defaultResponder, type Responder } from '@durable-batch-llm/gemini-emulator';
import { InputError } from '../../src/input';
import { FileResultStore } from '../../src/results';
import type { BatchSummary, ItemResult, ItemStatus } from '../../src/schemas';
import { cacheNameSignal, pauseBatchUpdate, resumeBatchUpdate, setConcurrencyUpdate } from '../../src/contract';
import { withEmulatorSettings, withFaults } from '../helpers/batch';
import { runCli } from '../helpers/cli';
import { startTestStack, uniqueName, type RunningWorker, type TestStack } from '../helpers/stack';

const STATUSES: readonly ItemStatus[] = [
  'succeeded',
  'filtered',
  'failed',
  'blocked',
  'deadline_exceeded',
  'cancelled',
];

describe('exact and truthful: every item accounted for, once, the same everywhere', () => {
  let stack: TestStack;
  let worker: RunningWorker;
  let directory: string;
  const taskQueue = uniqueName('tq');
  before(async () => {
    stack = await startTestStack({ latency: { baseMs: 20, jitterMs: 10 } });
    worker = await stack.startWorker(taskQueue);
    directory = mkdtempSync(path.join(os.tmpdir(), 'batch-llm-exact-'));
  });
  after(async () => {
    await worker?.stop();
    await stack?.teardown();
  });

  const cliEnv = () => ({
    TEMPORAL_ADDRESS: stack.address,
    TEMPORAL_TASK_QUEUE: taskQueue,
    BATCH_LLM_RESULTS_DIR: stack.resultsDirectory,
  });
  const cli = (args: string[]) => runCli(args, cliEnv());
  const inputFile = (records: Array<Record<string, unknown>>) => {
    const file = path.join(directory, `${uniqueName('input')}.jsonl`);
    writeFileSync(file, records.map((record) => JSON.stringify(record)).join('\n'));
    return file;
  };
  const ids = (count: number) => Array.from({ length: count }, (_, index) => ({ id: `r${index}` }));
  const startArgs = (file: string, batchId: string, task = 'test-echo') => [
    'start',
    '--input',
    file,
    '--task',
    task,
    '--tasks',
    'test/fixtures/tasks.ts',
    '--batch-id',
    batchId,
  ];

  /** The `items:` line of a printed summary, as counts by status (and the total it claims). */
  function printedCounts(stdout: string): { total: number; counts: Partial<Record<string, number>> } {
    const line = /items: +(\d+) total: (.*)/.exec(stdout);
    assert.ok(line, `a summary line in:\n${stdout}`);
    const counts: Partial<Record<string, number>> = {};
    for (const [, count, status] of (line[2] ?? '').matchAll(/(\d+) ([a-z_]+)/g))
      counts[status as string] = Number(count);
    return { total: Number(line[1]), counts };
  }

  /** Every item workflow of a batch with its Web UI status and ItemStatus search attribute, once visibility has them all final. */
  async function itemWorkflows(
    batchId: string,
    expected: number,
  ): Promise<Map<string, { status: string; itemStatus: string | undefined }>> {
    for (let waited = 0; ; waited += 200) {
      const found = new Map<string, { status: string; itemStatus: string | undefined }>();
      for await (const execution of stack.client.workflow.list({
        query: `BatchId = "${batchId}" AND WorkflowType = "itemWorkflow"`,
      })) {
        const itemStatus = execution.searchAttributes?.['ItemStatus']?.[0];
        found.set(execution.workflowId.slice(batchId.length + 1), {
          status: execution.status.name,
          itemStatus: typeof itemStatus === 'string' ? itemStatus : undefined,
        });
      }
      const settled =
        found.size === expected &&
        [...found.values()].every((item) => item.status !== 'RUNNING' && item.itemStatus !== 'running');
      if (settled || waited > 15_000) return found;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** The summary, the results file, search attributes and workflow statuses agree on every item and every model call. */
  async function assertOneTruth(batchId: string, summary: BatchSummary, total: number): Promise<ItemResult[]> {
    const results = await new FileResultStore(stack.resultsDirectory).readAll(batchId);
    assert.equal(results.length, total, 'one result per item');
    assert.equal(new Set(results.map((result) => result.itemId)).size, total);
    for (const status of STATUSES) {
      assert.equal(
        summary[status],
        results.filter((result) => result.status === status).length,
        `summary and results file agree on ${status}`,
      );
    }
    assert.equal(
      STATUSES.reduce((sum, status) => sum + summary[status], 0),
      total,
      'the summary accounts for every item',
    );
    assert.equal(
      summary.modelCalls,
      results.reduce((sum, result) => sum + result.modelCalls, 0),
      'summary and results agree on model calls',
    );
    const workflows = await itemWorkflows(batchId, await listCount(batchId));
    assert.ok(
      workflows.size >= results.filter((result) => result.modelCalls > 0).length,
      'every item that called the model has a workflow',
    );
    for (const [itemId, workflow] of workflows) {
      const result = results.find((candidate) => candidate.itemId === itemId);
      assert.ok(result, `item workflow ${itemId} has a result`);
      assert.equal(workflow.itemStatus, result.status, `${itemId}: ItemStatus search attribute = results file`);
      assert.equal(
        workflow.status,
        result.status === 'succeeded' || result.status === 'filtered' ? 'COMPLETED' : 'FAILED',
        `${itemId}: the Web UI shows ${result.status} items as ${workflow.status}`,
      );
    }
    return results;
  }

  async function listCount(batchId: string): Promise<number> {
    let count = 0;
    for await (const _ of stack.client.workflow.list({
      query: `BatchId = "${batchId}" AND WorkflowType = "itemWorkflow"`,
    }))
      count += 1;
    return count;
  }

  test('a batch id in use is refused, finished or running, and no item runs twice', async () => {
    const batchId = uniqueName('reuse');
    const file = inputFile(ids(3));
    const first = await cli([...startArgs(file, batchId), '--wait']);
    assert.equal(first.code, EXIT_CODES.ok, first.stderr);
    const callsBefore = stack.emulator.generateCalls({ itemKeyPrefix: `${batchId}/` }).length;
    assert.equal(callsBefore, 3);

    const again = await cli([...startArgs(file, batchId), '--wait']);
    assert.equal(again.code, EXIT_CODES.conflict, again.stderr);
    assert.match(again.stderr, new RegExp(`batch "${batchId}" already exists \\(COMPLETED\\); nothing was started`));
    assert.match(again.stderr, /new --batch-id/);
    assert.doesNotMatch(again.stdout, /Started/);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(
      stack.emulator.generateCalls({ itemKeyPrefix: `${batchId}/` }).length,
      callsBefore,
      'no model call was made again',
    );

    // Running (here: waiting for a worker on a queue nobody serves): refused too.
    const idleQueue = uniqueName('idle');
    const running = uniqueName('running');
    await stack.batchClient(idleQueue).start({ taskName: 'test-echo', records: ids(2), batchId: running });
    const whileRunning = await runCli(startArgs(file, running), { ...cliEnv(), TEMPORAL_TASK_QUEUE: idleQueue });
    assert.equal(whileRunning.code, EXIT_CODES.conflict, whileRunning.stderr);
    assert.match(whileRunning.stderr, new RegExp(`batch "${running}" is already running`));
    await stack.client.workflow.getHandle(running).terminate('test over');

    // Past Temporal's retention the id is free again, but its results remain: the worker refuses it.
    const forgotten = uniqueName('forgotten');
    mkdirSync(path.join(stack.resultsDirectory, forgotten), { recursive: true });
    writeFileSync(
      path.join(stack.resultsDirectory, forgotten, 'results.jsonl'),
      `${JSON.stringify({ itemId: 'r0', index: 0, batchId: forgotten, status: 'succeeded' })}\n`,
    );
    const batchClient = stack.batchClient(taskQueue);
    await batchClient.start({ taskName: 'test-echo', records: ids(2), batchId: forgotten });
    await assert.rejects(
      batchClient.summary(forgotten),
      (error: unknown) =>
        error instanceof InputError && /already holds results of an earlier batch/.test(error.message),
    );
    assert.equal(stack.emulator.generateCalls({ itemKeyPrefix: `${forgotten}/` }).length, 0);
  });

  test('a fail-fast stop accounts for every item, says why, and exits 11; --no-fail-fast runs every item and exits 10', async () => {
    await withEmulatorSettings(stack.emulator, { latency: { baseMs: 300, jitterMs: 100 } }, async () => {
      const batchId = uniqueName('failfast');
      const file = inputFile(ids(8));
      await withFaults(stack.emulator, [{ fault: 'unauthenticated', itemKey: `${batchId}/r2` }], async () => {
        const stopped = await cli([...startArgs(file, batchId), '--concurrency', '3', '--wait']);
        assert.equal(stopped.code, EXIT_CODES.batchStopped, stopped.stderr);
        assert.match(stopped.stdout, /stopped early \(fail-fast\): item "r2" ended authentication/);
        assert.match(
          stopped.stderr,
          /^STOPPED \[#{24}\] 8\/8 \|.*\| \d+ succeeded, 1 failed, \d+ cancelled/m,
          'the live bar ends on its 100 % frame, every item counted',
        );
        const printed = printedCounts(stopped.stdout);
        assert.equal(printed.total, 8);
        assert.equal(
          Object.values(printed.counts).reduce((sum, count) => (sum ?? 0) + (count ?? 0), 0),
          8,
          `the printed counts add up to the total: ${stopped.stdout}`,
        );
        assert.ok((printed.counts['cancelled'] ?? 0) > 0, 'the items the stop cancelled are shown');
        assert.equal(printed.counts['failed'], 1);

        const status = await cli(['status', batchId]);
        assert.equal(status.code, EXIT_CODES.batchStopped, status.stderr);
        assert.deepEqual(printedCounts(status.stdout), printed, 'status prints the same counts');
        const summary = await stack.batchClient(taskQueue).summary(batchId);
        assert.equal(summary.control.stop?.kind, 'fail_fast');
        await assertOneTruth(batchId, summary, 8);
      });

      const lenient = uniqueName('nofailfast');
      await withFaults(stack.emulator, [{ fault: 'unauthenticated', itemKey: `${lenient}/r2` }], async () => {
        const all = await cli([...startArgs(file, lenient), '--concurrency', '3', '--no-fail-fast', '--wait']);
        assert.equal(all.code, EXIT_CODES.itemsUnsuccessful, all.stderr);
        assert.match(all.stdout, /completed; 1 of 8 items did not succeed/);
        assert.deepEqual(printedCounts(all.stdout).counts, { succeeded: 7, failed: 1 });
      });

      const bad = await cli([...startArgs(file, uniqueName('badlist')), '--fail-fast', 'authentication,nonsense']);
      assert.equal(bad.code, EXIT_CODES.usage);
      assert.match(bad.stderr, /--fail-fast: unknown error category "nonsense"/);
    });
  });

  test('a paused batch says paused; status of a running batch exits 0', async () => {
    await withEmulatorSettings(stack.emulator, { latency: { baseMs: 200, jitterMs: 0 } }, async () => {
      const batchId = uniqueName('paused');
      const batchClient = stack.batchClient(taskQueue);
      await batchClient.start({ taskName: 'test-echo', records: ids(12), batchId, concurrency: 2 });
      const paused = await cli(['pause', batchId]);
      assert.equal(paused.code, EXIT_CODES.ok, paused.stderr);
      const status = await cli(['status', batchId]);
      assert.equal(status.code, EXIT_CODES.ok, status.stderr);
      assert.match(status.stdout, new RegExp(`Batch ${batchId}: paused`));
      assert.match(status.stdout, /^PAUSED \[/m, 'the progress line says so too');
      await cli(['resume', batchId]);
      const summary = await batchClient.summary(batchId);
      assert.equal(summary.succeeded, 12);
    });
  });

  test("records that fail the task's item schema are refused by start before anything starts; a worker's refusal reads the same through status and BatchClient", async () => {
    const file = inputFile([
      { id: 'p1', name: 'Kettle', description: 'Boils water.' },
      { id: 'p2', name: 'Lamp', description: 42 },
    ]);
    const batchId = uniqueName('itemschema');
    const refused = await cli(['start', '--input', file, '--task', 'demo-enrichment', '--batch-id', batchId]);
    assert.equal(refused.code, EXIT_CODES.input, refused.stderr);
    assert.match(refused.stderr, /line 2, item "p2", field "description": .*\(got 42\)/);
    assert.equal(await listCount(batchId), 0);
    await assert.rejects(stack.client.workflow.getHandle(batchId).describe(), 'no batch workflow was started');

    // Started past the client's check (another client, an older CLI): the worker refuses it, and says the same.
    const direct = uniqueName('itemschema-worker');
    await stack.client.workflow.start('batchWorkflow', {
      workflowId: direct,
      taskQueue,
      args: [{ batchId: direct, taskName: 'demo-enrichment', inputFile: file }],
    });
    await assert.rejects(
      stack.batchClient(taskQueue).summary(direct),
      (error: unknown) => error instanceof InputError && /line 2, item "p2", field "description"/.test(error.message),
    );
    const status = await cli(['status', direct]);
    assert.equal(status.code, EXIT_CODES.input, status.stderr);
    assert.match(status.stderr, /line 2, item "p2", field "description": .*\(got 42\)/);
  });

  test('an item that ran out of stages fails its workflow (red in the Web UI) with the stage count and the values refused', async () => {
    const batchId = uniqueName('exhausted');
    await withFaults(stack.emulator, [{ fault: 'schema_invalid', itemKey: `${batchId}/bad` }], async () => {
      const run = await cli([...startArgs(inputFile([{ id: 'bad' }, { id: 'good' }]), batchId), '--wait']);
      assert.equal(run.code, EXIT_CODES.itemsUnsuccessful, run.stderr);
      assert.deepEqual(printedCounts(run.stdout).counts, { succeeded: 1, failed: 1 });
      assert.match(run.stdout, /completed; 1 of 2 items did not succeed/);
      const summary = await stack.batchClient(taskQueue).summary(batchId);
      const failure = await stack.client.workflow
        .getHandle(`${batchId}/bad`)
        .result()
        .then(
          () => assert.fail('a failed item fails its workflow'),
          (error: unknown) => error,
        );
      assert.ok(failure instanceof WorkflowFailedError && failure.cause instanceof ApplicationFailure, String(failure));
      assert.equal(failure.cause.type, 'validation_error');
      assert.match(
        failure.cause.message,
        /item "bad" failed \(validation_error\): stage plan exhausted after 4 stages \(4 model calls\); the last answer: label: .*\(got 12345\)/,
      );
      const [result] = (await new FileResultStore(stack.resultsDirectory).readAll(batchId)).filter(
        (candidate) => candidate.itemId === 'bad',
      );
      assert.match(result?.error?.message ?? '', /stage plan exhausted after 4 stages/);
      assert.equal(result?.error?.validationIssues?.[0]?.value, '12345');
      const failedInUi: string[] = [];
      for await (const execution of stack.client.workflow.list({
        query: `BatchId = "${batchId}" AND ExecutionStatus = "Failed"`,
      }))
        failedInUi.push(execution.workflowId);
      assert.deepEqual(failedInUi, [`${batchId}/bad`], "the Web UI's failed filter lists exactly the failed item");
      await assertOneTruth(batchId, summary, 2);
    });
  });

  test("the task's own validate() feeds the stage plan: a partial stage repairs just the field it named", async () => {
    const batchId = uniqueName('semantic');
    // The emulator's answers never name the id, except when asked to repair the label.
    const responder: Responder = (request) =>
      request.promptText.includes('label (was')
        ? JSON.stringify({ label: `record ${request.itemKey?.split('/')[1] ?? ''}` })
        : defaultResponder(request);
    await withEmulatorSettings(stack.emulator, { responder }, async () => {
      const batchClient = stack.batchClient(taskQueue);
      await batchClient.start({ taskName: 'test-semantic', records: [{ id: 's1' }], batchId });
      const summary = await batchClient.summary(batchId);
      assert.equal(summary.succeeded, 1);
      const [result] = await new FileResultStore(stack.resultsDirectory).readAll(batchId);
      assert.ok(result);
      assert.deepEqual(
        result.attempts.map((attempt) => [attempt.stage, attempt.mode, attempt.outcome]),
        [
          [1, 'full', 'validation_error'],
          [2, 'partial', 'ok'],
        ],
      );
      assert.match(result.attempts[0]?.message ?? '', /label: the label must name the record id "s1" \(got ".*"\)/);
      assert.equal((result.output as { label: string }).label, 'record s1');
      const calls = stack.emulator.generateCalls({ itemKeyPrefix: `${batchId}/` });
      assert.equal(calls.length, 2);
    });
  });

  test('a record committed first is the one the item reports everywhere (a workflow task that failed after writing it)', async () => {
    await withEmulatorSettings(stack.emulator, { latency: { baseMs: 1_500, jitterMs: 0 } }, async () => {
      const batchId = uniqueName('committed');
      const batchClient = stack.batchClient(taskQueue);
      await batchClient.start({ taskName: 'test-echo', records: [{ id: 'a' }], batchId });
      while (stack.emulator.generateCalls({ itemKeyPrefix: `${batchId}/` }).length === 0)
        await new Promise((resolve) => setTimeout(resolve, 20));
      // What an earlier, failed workflow task of this item wrote before its retry reached another end.
      const now = new Date().toISOString();
      await new FileResultStore(stack.resultsDirectory).write({
        batchId,
        itemId: 'a',
        index: 0,
        status: 'cancelled',
        stopReason: 'cancelled by its batch',
        model: 'gemini-test-model',
        usage: { inputTokens: 0, outputTokens: 0, cachedTokens: 0, thoughtsTokens: 0 },
        costUsd: 0,
        modelCalls: 1,
        attempts: [],
        startedAt: now,
        finishedAt: now,
        durationMs: 0,
      });
      const summary = await batchClient.summary(batchId);
      assert.equal(summary.cancelled, 1, 'the batch counts the committed status');
      assert.equal(summary.succeeded, 0);
      const [result] = await assertOneTruth(batchId, summary, 1);
      assert.equal(result?.status, 'cancelled');
    });
  });

  test('controls arriving while items finish (pause, resume, set-concurrency, a cache-name signal): every item ends once, the same everywhere', async () => {
    await withEmulatorSettings(stack.emulator, { latency: { baseMs: 100, jitterMs: 200 } }, async () => {
      const batchId = uniqueName('storm');
      const total = 40;
      const batchClient = stack.batchClient(taskQueue);
      await batchClient.start({ taskName: 'test-echo', records: ids(total), batchId, concurrency: 8 });
      const handle = stack.client.workflow.getHandle(batchId);
      let sent = 0;
      for (let round = 0; round < 200; round += 1) {
        try {
          await handle.executeUpdate(pauseBatchUpdate);
          await handle.executeUpdate(setConcurrencyUpdate, { args: [1 + (round % 9)] });
          await handle.signal(cacheNameSignal, { name: `cachedContents/none-${round}` });
          await new Promise((resolve) => setTimeout(resolve, 20));
          await handle.executeUpdate(resumeBatchUpdate);
          sent += 4;
        } catch (error) {
          // The batch ended between two controls: that is the end of the storm.
          if ((await handle.describe()).status.name !== 'RUNNING') break;
          throw error;
        }
      }
      const summary = await batchClient.summary(batchId);
      assert.ok(sent >= 30, `controls kept arriving while items finished (${sent})`);
      assert.equal(summary.succeeded, total);
      await assertOneTruth(batchId, summary, total);
    });
  });

  test('cancel with items in flight: summary, status, results file, search attributes and Web UI status agree on every item', async () => {
    await withEmulatorSettings(stack.emulator, { latency: { baseMs: 800, jitterMs: 800 } }, async () => {
      const batchId = uniqueName('cancel');
      const total = 80;
      const batchClient = stack.batchClient(taskQueue);
      await batchClient.start({ taskName: 'test-echo', records: ids(total), batchId, concurrency: 10 });
      for (let finished = 0; finished < 10;) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        finished = (await batchClient.progress(batchId)).succeeded;
      }
      assert.ok(stack.emulator.inFlight > 0, 'calls are in flight at the cancel');
      const cancelled = await cli(['cancel', batchId, '--reason', 'enough']);
      assert.equal(cancelled.code, EXIT_CODES.ok, cancelled.stderr);
      const summary = await batchClient.summary(batchId);
      assert.equal(summary.control.stop?.kind, 'cancelled');
      assert.ok(summary.cancelled > 0);
      await assertOneTruth(batchId, summary, total);
      const status = await cli(['status', batchId]);
      assert.equal(status.code, EXIT_CODES.batchStopped, status.stderr);
      const printed = printedCounts(status.stdout);
      for (const status of STATUSES)
        assert.equal(printed.counts[status] ?? 0, summary[status], `status prints ${status} as the summary counts it`);
    });
  });
});
