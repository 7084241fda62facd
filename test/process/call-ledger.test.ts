/**
 * The call ledger counts requests sent to the model, exactly: not activity attempts, not our own
 * plumbing. After a worker is SIGKILLed with calls in flight, every item's `modelCalls` and
 * `attempts` equal the emulator's request log for that item.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { FileResultStore } from '../../src/results';
import type { ItemResult } from '../../src/schemas';
import { withEmulatorSettings } from '../helpers/batch';
import { startTestStack, uniqueName, type RunningWorker, type TestStack } from '../helpers/stack';

describe('the call ledger', () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack({ latency: { baseMs: 3_000, jitterMs: 0 } });
  });
  after(async () => {
    await stack?.teardown();
  });

  /** Each item's recorded calls against the requests the emulator received for it. */
  async function compareWithEmulator(batchId: string, results: ItemResult[]): Promise<{ lost: number }> {
    let lost = 0;
    for (const result of results) {
      const received = stack.emulator
        .generateCalls({ itemKeyPrefix: `${batchId}/` })
        .filter((entry) => entry.itemKey === `${batchId}/${result.itemId}`);
      if (result.modelCalls !== received.length) {
        // What a failure needs to be understood: the item's history, event by event.
        const events =
          (await stack.client.workflow.getHandle(`${batchId}/${result.itemId}`).fetchHistory()).events ?? [];
        const history = events
          .map(
            (event, index) =>
              `${index + 1} ${Object.keys(event).find((key) => key.endsWith('Attributes')) ?? '?'}${event.activityTaskStartedEventAttributes ? ` (attempt ${event.activityTaskStartedEventAttributes.attempt ?? '?'}, last failure: ${event.activityTaskStartedEventAttributes.lastFailure?.message ?? 'none'})` : ''}`,
          )
          .join(', ');
        assert.fail(
          `${result.itemId}: modelCalls ${result.modelCalls}, the emulator received ${received.length} at ${received.map((entry) => entry.startedAtMs).join(', ')} (${result.attempts.map((attempt) => attempt.outcome).join(', ')}); history: ${history}`,
        );
      }
      assert.equal(result.attempts.length, received.length, `${result.itemId}: one attempt record per request`);
      assert.deepEqual(
        result.attempts.map((attempt) => attempt.call),
        result.attempts.map((_, index) => index + 1),
        `${result.itemId}: calls numbered 1..n`,
      );
      lost += result.attempts.filter((attempt) => attempt.outcome === 'lost_in_crash').length;
    }
    return { lost };
  }

  test('SIGKILL with slow calls in flight (local first calls and regular activities): modelCalls and attempts equal the emulator log, item by item', async () => {
    const taskQueue = uniqueName('tq');
    const total = 12;
    const batchClient = stack.batchClient(taskQueue);
    let worker = stack.spawnWorkerProcess(taskQueue);
    const batches = [
      { batchId: uniqueName('ledger-local'), callMode: 'local-first' as const },
      { batchId: uniqueName('ledger-activity'), callMode: 'activity' as const },
    ];
    try {
      for (const { batchId, callMode } of batches) {
        await batchClient.start({
          taskName: 'test-echo',
          records: Array.from({ length: total }, (_, index) => ({ id: `r${index}` })),
          batchId,
          concurrency: 4,
          options: { callMode, callTimeoutMs: 10_000 },
        });
      }
      // Kill once both batches have calls in flight and a few answers are in, between two waves of
      // requests: the worker is waiting on the model, not halfway through sending a request (a
      // window of a few ms that no ledger kept apart from the request itself can close; see README).
      const inFlight = (batchId: string) =>
        stack.emulator.generateCalls({ itemKeyPrefix: `${batchId}/` }).filter((entry) => entry.endedAtMs === undefined)
          .length;
      const quiet = () =>
        Date.now() -
          Math.max(
            ...stack.emulator.generateCalls().map((entry) => Math.max(entry.startedAtMs, entry.endedAtMs ?? 0)),
          ) >
        500;
      const answered = () =>
        stack.emulator.generateCalls().filter((entry) => entry.status === 200 && entry.endedAtMs !== undefined).length;
      for (
        let waited = 0;
        !batches.every(({ batchId }) => inFlight(batchId) >= 2) || answered() < 4 || !quiet();
        waited += 20
      ) {
        assert.ok(waited < 60_000, 'calls got under way');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const inFlightAtKill = batches.map(({ batchId }) => inFlight(batchId));
      worker.kill('SIGKILL');
      await once(worker, 'exit');
      worker = stack.spawnWorkerProcess(taskQueue);

      let lostInAll = 0;
      for (const { batchId, callMode } of batches) {
        const summary = await batchClient.summary(batchId);
        assert.equal(summary.succeeded, total, `${callMode}: every item succeeded`);
        const results = await new FileResultStore(stack.resultsDirectory).readAll(batchId);
        assert.equal(results.length, total);
        const { lost } = await compareWithEmulator(batchId, results);
        assert.ok(lost > 0, `${callMode}: requests in flight at the kill are recorded as lost_in_crash`);
        assert.equal(
          summary.modelCalls,
          stack.emulator.generateCalls({ itemKeyPrefix: `${batchId}/` }).length,
          `${callMode}: the summary counts every request`,
        );
        lostInAll += lost;
      }
      console.log(
        `call ledger: ${inFlightAtKill.join(' + ')} requests in flight at SIGKILL; ${lostInAll} recorded lost_in_crash; every item's modelCalls = the emulator's log`,
      );
    } finally {
      worker.kill('SIGTERM');
    }
  });

  test('a quota scope that does not answer is waited out: no item fails and no request is counted that the model did not get', async () => {
    await withEmulatorSettings(stack.emulator, { latency: { baseMs: 20, jitterMs: 10 } }, async () => {
      const taskQueue = uniqueName('tq');
      const running = await stack.startWorker(taskQueue);
      // The scope's workflow exists, but no worker serves it (its worker died): queries to it fail.
      const scopeId = `quota/${taskQueue}/gemini-test-model/default`;
      const scopeQueue = uniqueName('scope-home');
      await stack.client.workflow.start('quotaScopeWorkflow', {
        workflowId: scopeId,
        taskQueue: scopeQueue,
        args: [{ scope: scopeId }],
      });
      let scopeWorker: RunningWorker | undefined;
      try {
        const batchId = uniqueName('deadscope');
        const batchClient = stack.batchClient(taskQueue);
        for (const [index, callMode] of (['local-first', 'activity'] as const).entries()) {
          await batchClient.start({
            taskName: 'test-echo',
            records: [{ id: 'a' }, { id: 'b' }],
            batchId: `${batchId}-${index}`,
            options: { callMode },
          });
        }
        // While the scope is unreachable nothing is called, and nothing ends.
        await new Promise((resolve) => setTimeout(resolve, 4_000));
        assert.equal(
          stack.emulator.generateCalls({ itemKeyPrefix: `${batchId}-` }).length,
          0,
          'no request while the scope is unreachable',
        );
        for (const index of [0, 1]) assert.equal((await batchClient.progress(`${batchId}-${index}`)).failed, 0);
        // The scope's worker is back (no cooldown to honour): the items go on.
        scopeWorker = await stack.startWorker(scopeQueue);
        for (const index of [0, 1]) {
          const summary = await batchClient.summary(`${batchId}-${index}`);
          assert.equal(summary.succeeded, 2, `batch ${index}: every item succeeded`);
          assert.equal(summary.modelCalls, 2, `batch ${index}: one model call per item, none for the waits`);
          const results = await new FileResultStore(stack.resultsDirectory).readAll(`${batchId}-${index}`);
          assert.equal(results.length, 2);
          await compareWithEmulator(`${batchId}-${index}`, results);
        }
      } finally {
        await scopeWorker?.stop();
        await running.stop();
        await stack.client.workflow
          .getHandle(scopeId)
          .terminate('test over')
          .catch(() => undefined);
      }
    });
  });
});
