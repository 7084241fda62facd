import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { quotaScopeQuery } from '../../src/contract';
import { runBatch, withFaults } from '../helpers/batch';
import { uniqueName, useStackWithWorker, type TestStack } from '../helpers/stack';

describe('coordinated 429 cooldown', () => {
  let stack!: TestStack;
  const taskQueue = useStackWithWorker((started) => (stack = started), { latency: { baseMs: 100, jitterMs: 0 } });

  test('a 429 storm: one cooldown for the whole scope, no call starts during it, no stage advances, the batch completes', async () => {
    const batchId = uniqueName('storm');
    const records = Array.from({ length: 12 }, (_, index) => ({ id: `r${index}` }));
    const run = await withFaults(
      stack.emulator,
      [{ fault: 'rate_limit', itemKeyPrefix: `${batchId}/`, times: 2, retryDelaySeconds: 2 }],
      () => runBatch(stack, taskQueue, { batchId, records, concurrency: 4 }),
    );
    assert.equal(run.summary.succeeded, 12);

    const calls = run.calls();
    assert.equal(calls.length, 14, 'one call per item, and one more for each of the two 429s');
    const limited = calls.filter((call) => call.status === 429);
    assert.equal(limited.length, 2);
    const firstAnswered = Math.min(...limited.map((call) => call.endedAtMs!));
    const startedDuringCooldown = calls.filter(
      (call) => call.startedAtMs > firstAnswered + 300 && call.startedAtMs < firstAnswered + 1900,
    );
    assert.deepEqual(
      startedDuringCooldown.map((call) => call.itemKey),
      [],
      'no item, limited or not, called during the cooldown',
    );

    const state = await stack.client.workflow
      .getHandle(`quota/${taskQueue}/gemini-test-model/default`)
      .query(quotaScopeQuery);
    assert.equal(state.rateLimits, 2);
    assert.equal(state.cooldowns, 1, 'the 429s of calls already in flight did not start more cooldowns');

    assert.equal(run.results.length, 12);
    assert.ok(
      run.results.every(
        (result) => result.attempts.length > 0 && result.attempts.every((attempt) => attempt.stage === 1),
      ),
      'a 429 never advances the stage',
    );
  });

  test("concurrency auto: a 429 lowers the scope's learned rate instead of pausing every call, and the batch completes", async () => {
    const scope = stack.client.workflow.getHandle(`quota/${taskQueue}/gemini-test-model/default`);
    const before = await scope.query(quotaScopeQuery).catch(() => undefined);
    const batchId = uniqueName('auto');
    // Few items: the rate starts at one call a second.
    const records = Array.from({ length: 3 }, (_, index) => ({ id: `r${index}` }));
    const run = await withFaults(
      stack.emulator,
      [{ fault: 'rate_limit', itemKeyPrefix: `${batchId}/r2`, times: 1, retryDelaySeconds: 1 }],
      () => runBatch(stack, taskQueue, { batchId, records, concurrency: 'auto', maxConcurrency: 3 }),
    );
    assert.equal(run.summary.succeeded, 3);
    assert.deepEqual(run.summary.control, { paused: false, concurrency: 3, auto: true });
    assert.equal(run.calls().length, 4, 'one call per item, and one more for the 429');

    const state = await scope.query(quotaScopeQuery);
    assert.equal(state.cooldowns, before?.cooldowns ?? 0, "an auto call's 429 starts no cooldown");
    assert.ok(state.adaptive, 'the scope keeps an adaptive rate');
    assert.equal(state.adaptive.rateLimited, 1);
    assert.equal(state.adaptive.decreases, 1);
    assert.ok(state.adaptive.succeeded >= 1, 'successes arrive with the next admission requests');
    assert.equal(state.admission!.granted - (before?.admission?.granted ?? 0), 4, 'every call was admitted');
    const learned = await stack.batchClient(taskQueue).learnedRates();
    assert.deepEqual(
      learned.map(({ scope: id, rpm, ceilingRpm }) => ({ id, rpm, ceilingRpm })),
      [
        {
          id: scope.workflowId,
          rpm: Math.round(state.adaptive.rpm),
          ceilingRpm: Math.round(state.adaptive.ceilingRpm!),
        },
      ],
      'status finds the learned rate',
    );
  });
});
