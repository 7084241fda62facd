import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FileResultStore } from '../../src/results';
import type { ItemOutcome, ItemResult } from '../../src/schemas';
import { runBatch, withFaults } from '../helpers/batch';
import { startTestStack, uniqueName, type TestStack } from '../helpers/stack';

function records(count: number, prefix = 'item'): Array<{ id: string; text: string }> {
  return Array.from({ length: count }, (_, index) => ({
    id: `${prefix}-${String(index).padStart(3, '0')}`,
    text: `record number ${index}`,
  }));
}

describe('batch of items on a real dev server and the emulator', () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack({ latency: { baseMs: 40, jitterMs: 30 } });
  });
  after(async () => {
    await stack?.teardown();
  });

  test('100 items at concurrency 10 all finish, each in its own item workflow, never more than 10 calls in flight', async () => {
    const taskQueue = uniqueName('tq');
    const worker = await stack.startWorker(taskQueue);
    try {
      stack.emulator.reset();
      const batchClient = stack.batchClient(taskQueue);
      const batchId = uniqueName('hundred');
      const started = await batchClient.start({
        taskName: 'test-echo',
        records: records(100),
        batchId,
        concurrency: 10,
      });
      assert.equal(started.itemCount, 100);
      const progressSeen: number[] = [];
      const summary = await batchClient.watch(
        batchId,
        (progress) => progressSeen.push(progress.succeeded + progress.failed),
        200,
      );
      assert.equal(summary.total, 100);
      assert.equal(summary.succeeded, 100);
      assert.equal(summary.failed, 0);
      assert.equal(summary.pending + summary.running, 0);
      assert.ok(summary.usage.inputTokens > 0 && summary.usage.outputTokens > 0, 'token usage is summed');
      assert.ok(progressSeen.length > 0, 'the progress query answered while running');
      assert.deepEqual(
        progressSeen,
        [...progressSeen].sort((a, b) => a - b),
        'progress never goes backwards',
      );

      const calls = stack.emulator.generateCalls({ itemKeyPrefix: `${batchId}/` });
      assert.equal(calls.length, 100, 'one model call per item');
      assert.ok(stack.emulator.maxInFlight <= 10, `max in flight ${stack.emulator.maxInFlight} > 10`);
      assert.ok(stack.emulator.maxInFlight >= 5, `calls ran in parallel (max in flight ${stack.emulator.maxInFlight})`);

      for (const record of records(100)) {
        const description = await stack.client.workflow.getHandle(`${batchId}/${record.id}`).describe();
        assert.equal(description.status.name, 'COMPLETED', `${record.id} completed`);
        assert.equal(description.type, 'itemWorkflow');
      }
      const results = await new FileResultStore(stack.resultsDirectory).readAll(batchId);
      assert.deepEqual(
        results.map((result) => result.itemId),
        records(100).map((record) => record.id),
      );
      assert.ok(results.every((result) => result.status === 'succeeded' && typeof result.output === 'object'));
    } finally {
      await worker.stop();
    }
  });

  test('a 503 is retried by the activity retry policy and the item succeeds; the attempt log shows both calls', async () => {
    const taskQueue = uniqueName('tq');
    const worker = await stack.startWorker(taskQueue);
    try {
      const batchId = uniqueName('overload');
      const { summary, result, calls } = await withFaults(
        stack.emulator,
        [{ fault: 'overloaded', itemKey: `${batchId}/a`, attempts: [1] }],
        () => runBatch(stack, taskQueue, { records: [{ id: 'a' }, { id: 'b' }], batchId, concurrency: 2 }),
      );
      assert.equal(summary.succeeded, 2);
      assert.equal(summary.modelCalls, 3);
      const outcome = (await stack.client.workflow.getHandle(`${batchId}/a`).result()) as ItemOutcome;
      assert.equal(outcome.status, 'succeeded');
      assert.equal(outcome.modelCalls, 2);
      assert.deepEqual(
        result('a').attempts.map((attempt) => attempt.outcome),
        ['server_overload', 'ok'],
      );
      assert.deepEqual(
        calls('a').map((call) => call.status),
        [503, 200],
      );
    } finally {
      await worker.stop();
    }
  });

  test("an item's first call is a local activity inside one workflow task; with callMode activity it is an activity on the model-call queue", async () => {
    const taskQueue = uniqueName('tq');
    const worker = await stack.startWorker(taskQueue);
    try {
      const batchClient = stack.batchClient(taskQueue);
      const localBatch = uniqueName('local');
      const activityBatch = uniqueName('activity');
      await batchClient.start({ taskName: 'test-echo', records: [{ id: 'a' }], batchId: localBatch });
      await batchClient.start({
        taskName: 'test-echo',
        records: [{ id: 'a' }],
        batchId: activityBatch,
        options: { callMode: 'activity' },
      });
      assert.equal((await batchClient.summary(localBatch)).succeeded, 1);
      assert.equal((await batchClient.summary(activityBatch)).succeeded, 1);
      const eventsOf = async (batchId: string) =>
        (await stack.client.workflow.getHandle(`${batchId}/a`).fetchHistory()).events ?? [];
      const summaryOf = (payload: { data?: Uint8Array | null } | null | undefined) =>
        JSON.parse(Buffer.from(payload?.data ?? []).toString()) as unknown;

      const local = await eventsOf(localBatch);
      assert.equal(local.filter((event) => event.workflowTaskCompletedEventAttributes).length, 1, 'one workflow task');
      assert.equal(local.filter((event) => event.activityTaskScheduledEventAttributes).length, 0, 'no activity task');
      const markers = local.filter(
        (event) => event.markerRecordedEventAttributes?.markerName === 'core_local_activity',
      );
      assert.deepEqual(
        markers.map((event) => summaryOf(event.userMetadata?.summary)),
        ['stage 1 full t=0 gemini-test-model'],
        'one local activity: the call, with its stage in the Web UI, which also recorded the item (its answer ended it)',
      );
      // What the call wrote is what the workflow reports, to the millisecond.
      const [record] = await new FileResultStore(stack.resultsDirectory).readAll(localBatch);
      const outcome = (await stack.client.workflow.getHandle(`${localBatch}/a`).result()) as ItemOutcome;
      assert.ok(record);
      assert.deepEqual(
        [outcome.status, outcome.modelCalls, outcome.costUsd, outcome.durationMs, outcome.usage],
        [record.status, record.modelCalls, record.costUsd, record.durationMs, record.usage],
      );
      assert.equal(record.attempts.length, 1);
      assert.equal(record.attempts[0]?.outcome, 'ok');

      const scheduled = (await eventsOf(activityBatch)).filter((event) => event.activityTaskScheduledEventAttributes);
      assert.deepEqual(
        scheduled.map((event) => [
          event.activityTaskScheduledEventAttributes?.activityType?.name,
          event.activityTaskScheduledEventAttributes?.taskQueue?.name,
          summaryOf(event.userMetadata?.summary),
        ]),
        [['callModel', `${taskQueue}-model-calls`, 'stage 1 full t=0 gemini-test-model']],
      );
    } finally {
      await worker.stop();
    }
  });

  test("a results store that refuses the call's write: the item records itself, with its own local activity, once", async () => {
    const taskQueue = uniqueName('tq');
    class RefusesFirstWrite extends FileResultStore {
      readonly refused: string[] = [];
      override async write(result: ItemResult) {
        if (result.itemId === 'a' && !this.refused.includes(result.itemId)) {
          this.refused.push(result.itemId);
          throw new Error('results store unavailable');
        }
        return super.write(result);
      }
    }
    const store = new RefusesFirstWrite(stack.resultsDirectory);
    const worker = await stack.startWorker(taskQueue, { results: store });
    try {
      const batchId = uniqueName('refused');
      const batchClient = stack.batchClient(taskQueue);
      await batchClient.start({ taskName: 'test-echo', records: [{ id: 'a' }, { id: 'b' }], batchId });
      const summary = await batchClient.summary(batchId);
      assert.deepEqual([summary.succeeded, summary.modelCalls], [2, 2]);
      assert.deepEqual(store.refused, ['a']);
      const results = await store.readAll(batchId);
      assert.deepEqual(
        results.map((result) => [result.itemId, result.status, result.modelCalls]),
        [
          ['a', 'succeeded', 1],
          ['b', 'succeeded', 1],
        ],
      );
      const localActivities = async (itemId: string) =>
        ((await stack.client.workflow.getHandle(`${batchId}/${itemId}`).fetchHistory()).events ?? []).filter(
          (event) => event.markerRecordedEventAttributes?.markerName === 'core_local_activity',
        ).length;
      assert.equal(await localActivities('a'), 2, 'the call, then the record written by the item workflow');
      assert.equal(await localActivities('b'), 1, 'the call, which recorded the item');
      for (const result of results) {
        const outcome = (await stack.client.workflow.getHandle(`${batchId}/${result.itemId}`).result()) as ItemOutcome;
        assert.deepEqual([outcome.status, outcome.durationMs], [result.status, result.durationMs]);
      }
    } finally {
      await worker.stop();
    }
  });

  test('an answer that fails the output schema fails the item with validation_error, and the batch still completes', async () => {
    const taskQueue = uniqueName('tq');
    const worker = await stack.startWorker(taskQueue);
    try {
      const batchId = uniqueName('invalid');
      const { summary, result } = await withFaults(
        stack.emulator,
        [{ fault: 'schema_invalid', itemKey: `${batchId}/bad` }],
        () => runBatch(stack, taskQueue, { records: [{ id: 'good' }, { id: 'bad' }], batchId }),
      );
      assert.equal(summary.succeeded, 1);
      assert.equal(summary.failed, 1);
      assert.deepEqual(summary.byCategory, { validation_error: 1 });
      const bad = result('bad');
      assert.equal(bad.status, 'failed');
      assert.equal(bad.error?.category, 'validation_error');
      assert.ok((bad.error?.validationIssues?.length ?? 0) > 0, 'the failing fields are named');
      assert.ok(bad.usage.inputTokens > 0, "a failed attempt's tokens count");
    } finally {
      await worker.stop();
    }
  });
});
