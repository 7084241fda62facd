import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FaultRule, RequestLogEntry } from '@durable-batch-llm/gemini-emulator';
import { FileResultStore } from '../../src/results';
import type { BatchSummary } from '../../src/schemas';
import { cancelBatchUpdate, pauseBatchUpdate, resumeBatchUpdate, setConcurrencyUpdate } from '../../src/contract';
import { runBatch, withEmulatorSettings, withFaults } from '../helpers/batch';
import { uniqueName, useStackWithWorker, type TestStack } from '../helpers/stack';

function records(count: number): Array<{ id: string }> {
  return Array.from({ length: count }, (_, index) => ({ id: `r${String(index).padStart(2, '0')}` }));
}

/** Most calls of `calls` in flight at one moment. */
function maxOverlap(calls: readonly RequestLogEntry[]): number {
  const edges = calls.flatMap((call) => [
    [call.startedAtMs, 1],
    [call.endedAtMs ?? Number.MAX_SAFE_INTEGER, -1],
  ]);
  edges.sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
  let current = 0;
  let max = 0;
  for (const [, delta] of edges) max = Math.max(max, (current += delta!));
  return max;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (at most 10 s) for something that happens asynchronously, such as an aborted request closing. */
async function eventually(check: () => boolean): Promise<void> {
  for (let waited = 0; !check(); waited += 50) {
    if (waited > 10_000) assert.fail('condition not met within 10 s');
    await sleep(50);
  }
}

describe('batch controls: pause, resume, concurrency, cancel, deadlines, fail-fast, budgets', () => {
  let stack!: TestStack;
  const taskQueue = useStackWithWorker((started) => (stack = started), { latency: { baseMs: 200, jitterMs: 0 } });

  async function start(count: number, extra: Record<string, unknown> = {}) {
    const batchId = uniqueName('ctl');
    const batchClient = stack.batchClient(taskQueue);
    await batchClient.start({ taskName: 'test-echo', batchId, records: records(count), concurrency: 3, ...extra });
    return {
      batchId,
      batchClient,
      handle: stack.client.workflow.getHandle(batchId),
      calls: () => stack.emulator.generateCalls({ itemKeyPrefix: `${batchId}/` }),
    };
  }

  async function untilDone(
    batchClient: ReturnType<TestStack['batchClient']>,
    batchId: string,
    atLeast: number,
  ): Promise<void> {
    for (;;) {
      const progress = await batchClient.progress(batchId);
      if (progress.total - progress.pending - progress.running >= atLeast) return;
      await sleep(50);
    }
  }

  async function expectOneResultEach(batchId: string, count: number, summary: BatchSummary): Promise<void> {
    const results = await new FileResultStore(stack.resultsDirectory).readAll(batchId);
    assert.equal(results.length, count, 'every item has exactly one result');
    const terminal =
      summary.succeeded +
      summary.failed +
      summary.blocked +
      summary.filtered +
      summary.cancelled +
      summary.deadline_exceeded;
    assert.equal(terminal, count, 'every item has exactly one terminal status');
    assert.equal(summary.pending + summary.running, 0);
  }

  test('pause: in-flight items finish and nothing new starts; resume: the batch completes', async () => {
    const { batchId, batchClient, handle, calls } = await start(24);
    await untilDone(batchClient, batchId, 4);
    const paused = await handle.executeUpdate(pauseBatchUpdate);
    assert.equal(paused.paused, true);
    // Items are dispatched in input order: those dispatched before the pause are the first N.
    const atPause = await batchClient.progress(batchId);
    const dispatched = atPause.total - atPause.pending;
    await sleep(1000);
    const notDispatched = calls().filter((call) => Number(call.itemKey?.slice(-2)) >= dispatched);
    assert.deepEqual(
      notDispatched.map((call) => call.itemKey),
      [],
      'no item started while paused',
    );
    assert.equal((await batchClient.progress(batchId)).running, 0, 'in-flight items finished');
    assert.equal((await batchClient.progress(batchId)).pending, 24 - dispatched);
    await handle.executeUpdate(resumeBatchUpdate);
    const summary = await batchClient.summary(batchId);
    assert.equal(summary.succeeded, 24);
  });

  test('set-concurrency on a running batch widens the window, and a bad value is refused', async () => {
    const { batchId, batchClient, handle, calls } = await start(30, { concurrency: 2 });
    await untilDone(batchClient, batchId, 4);
    const changedAt = Date.now();
    const state = await handle.executeUpdate(setConcurrencyUpdate, { args: [6] });
    assert.equal(state.concurrency, 6);
    await assert.rejects(handle.executeUpdate(setConcurrencyUpdate, { args: [0] }), (error: Error) =>
      /concurrency must be an integer from 1 to 10000/.test(String((error.cause as Error | undefined)?.message)),
    );
    await batchClient.summary(batchId);
    const before = calls().filter((call) => call.startedAtMs < changedAt);
    const afterChange = calls().filter((call) => call.startedAtMs > changedAt + 300);
    assert.ok(maxOverlap(before) <= 2, `before: ${maxOverlap(before)} in flight`);
    assert.ok(
      maxOverlap(afterChange) > 2 && maxOverlap(afterChange) <= 6,
      `after: ${maxOverlap(afterChange)} in flight`,
    );
  });

  test('cancel: dispatch stops, in-flight items and their model calls are cancelled promptly, the rest are marked cancelled', async () => {
    await withEmulatorSettings(stack.emulator, { latency: { baseMs: 8000, jitterMs: 0 } }, async () => {
      const { batchId, batchClient, handle, calls } = await start(20);
      while (calls().length < 3) await sleep(50);
      const state = await handle.executeUpdate(cancelBatchUpdate, { args: ['operator pressed stop'] });
      assert.deepEqual(state.stop, { kind: 'cancelled', reason: 'operator pressed stop' });
      const summary = await batchClient.summary(batchId);
      assert.equal(summary.cancelled, 20);
      assert.equal(summary.control.stop?.kind, 'cancelled');
      assert.equal(calls().length, 3, 'nothing new was dispatched');
      await eventually(() => calls().every((call) => call.endedAtMs !== undefined));
      assert.ok(
        calls().every((call) => call.status === 'aborted' && call.endedAtMs! - call.startedAtMs < 8000),
        `in-flight requests were aborted, not waited for: ${JSON.stringify(calls().map((call) => [call.status, call.endedAtMs! - call.startedAtMs]))}`,
      );
      await expectOneResultEach(batchId, 20, summary);
      const results = await new FileResultStore(stack.resultsDirectory).readAll(batchId);
      assert.ok(results.every((result) => result.status === 'cancelled' && result.stopReason));
    });
  });

  test('an item past its deadline ends deadline_exceeded; the others succeed', async () => {
    const batchId = uniqueName('item-deadline');
    await withFaults(stack.emulator, [{ fault: 'hang', itemKey: `${batchId}/r01` }], async () => {
      const { summary, result, calls } = await runBatch(stack, taskQueue, {
        batchId,
        records: records(4),
        options: { itemDeadlineMs: 1500 },
      });
      assert.deepEqual([summary.succeeded, summary.deadline_exceeded], [3, 1]);
      assert.equal(result('r01').status, 'deadline_exceeded');
      assert.match(result('r01').stopReason ?? '', /item deadline of 1500 ms/);
      await eventually(() => calls('r01')[0]?.status === 'aborted');
      await expectOneResultEach(batchId, 4, summary);
    });
  });

  test('an item whose one allowed call hangs past its deadline ends deadline_exceeded, not out of budget', async () => {
    const batchId = uniqueName('deadline-one-call');
    await withFaults(stack.emulator, [{ fault: 'hang', itemKey: `${batchId}/r00` }], async () => {
      const { summary, calls } = await runBatch(stack, taskQueue, {
        batchId,
        records: records(1),
        options: { itemDeadlineMs: 1500, maxModelCalls: 1 },
      });
      assert.deepEqual([summary.deadline_exceeded, summary.failed], [1, 0]);
      await eventually(() => calls('r00')[0]?.status === 'aborted');
      await expectOneResultEach(batchId, 1, summary);
    });
  });

  test('the batch deadline stops dispatching; items not started end deadline_exceeded', async () => {
    const deadline = new Date(Date.now() + 3000).toISOString();
    const { batchId, batchClient } = await start(80, { deadline, concurrency: 2 });
    const summary = await batchClient.summary(batchId);
    assert.equal(summary.control.stop?.kind, 'deadline');
    assert.ok(
      summary.succeeded > 0 && summary.deadline_exceeded > 0,
      `${summary.succeeded} succeeded, ${summary.deadline_exceeded} past the deadline`,
    );
    await expectOneResultEach(batchId, 80, summary);
  });

  test('an authentication failure stops the batch after at most the in-flight items', async () => {
    const batchId = uniqueName('auth');
    await withFaults(stack.emulator, [{ fault: 'unauthenticated', itemKeyPrefix: `${batchId}/` }], async () => {
      const { summary, calls } = await runBatch(stack, taskQueue, { batchId, records: records(30), concurrency: 3 });
      assert.equal(summary.control.stop?.kind, 'fail_fast');
      assert.match(summary.control.stop?.reason ?? '', /ended authentication: API key missing or invalid/);
      assert.ok(calls().length <= 3, `${calls().length} model calls: at most the ones in flight`);
      assert.equal(summary.failed + summary.cancelled, 30);
      await expectOneResultEach(batchId, 30, summary);
    });
  });

  test('a token budget stops dispatch; the overshoot is bounded by the items in flight', async () => {
    const { batchId, batchClient, calls } = await start(40, { maxTokens: 200, concurrency: 3 });
    const summary = await batchClient.summary(batchId);
    assert.equal(summary.control.stop?.kind, 'budget');
    const perItem = summary.usage.inputTokens / Math.max(summary.succeeded, 1);
    const needed = Math.ceil(200 / perItem);
    assert.ok(calls().length <= needed + 3, `${calls().length} calls for a budget reached after about ${needed}`);
    assert.ok(summary.cancelled > 0);
    await expectOneResultEach(batchId, 40, summary);
  });

  test('a search-attribute query returns exactly the failed items of one batch', async () => {
    const batchId = uniqueName('failed-items');
    const faults: FaultRule[] = [
      { fault: 'invalid_request', itemKey: `${batchId}/r01` },
      { fault: 'not_found', itemKey: `${batchId}/r03` },
    ];
    await withFaults(stack.emulator, faults, async () => {
      await runBatch(stack, taskQueue, { batchId, records: records(6), concurrency: 6 });
      const listFailed = async (): Promise<string[]> => {
        const found: string[] = [];
        for await (const execution of stack.client.workflow.list({
          query: `BatchId = "${batchId}" AND ItemStatus = "failed"`,
        }))
          found.push(execution.workflowId);
        return found.sort();
      };
      // Visibility is eventually consistent: give the last upserts a moment to be indexed.
      let failed = await listFailed();
      for (let tries = 0; failed.length < 2 && tries < 100; tries += 1) {
        await sleep(100);
        failed = await listFailed();
      }
      assert.deepEqual(failed, [`${batchId}/r01`, `${batchId}/r03`]);
    });
  });
});
