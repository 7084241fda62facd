import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FileResultStore } from '../../src/results';
import { quotaScopeQuery } from '../../src/contract';
import { uniqueName, useStackWithWorker, type TestStack } from '../helpers/stack';

describe('coordinated 429 cooldown', () => {
  let stack!: TestStack;
  const taskQueue = useStackWithWorker((started) => (stack = started), { latency: { baseMs: 100, jitterMs: 0 } });

  test('a 429 storm: one cooldown for the whole scope, no call starts during it, no stage advances, the batch completes', async () => {
    const batchId = uniqueName('storm');
    stack.emulator.configure({ faults: [{ fault: 'rate_limit', itemKeyPrefix: `${batchId}/`, times: 2, retryDelaySeconds: 2 }] });
    const batchClient = stack.batchClient(taskQueue);
    await batchClient.start({ taskName: 'test-echo', batchId, records: Array.from({ length: 12 }, (_, index) => ({ id: `r${index}` })), concurrency: 4 });
    const summary = await batchClient.summary(batchId);
    assert.equal(summary.succeeded, 12);

    const calls = stack.emulator.generateCalls({ itemKeyPrefix: `${batchId}/` });
    const limited = calls.filter((call) => call.status === 429);
    assert.equal(limited.length, 2);
    const firstAnswered = Math.min(...limited.map((call) => call.endedAtMs!));
    const startedDuringCooldown = calls.filter((call) => call.startedAtMs > firstAnswered + 300 && call.startedAtMs < firstAnswered + 1900);
    assert.deepEqual(startedDuringCooldown.map((call) => call.itemKey), [], 'no item, limited or not, called during the cooldown');

    const state = await stack.client.workflow.getHandle(`quota/${taskQueue}/gemini-test-model/default`).query(quotaScopeQuery);
    assert.equal(state.rateLimits, 2);
    assert.equal(state.cooldowns, 1, 'the 429s of calls already in flight did not start more cooldowns');

    const results = await new FileResultStore(stack.resultsDirectory).readAll(batchId);
    assert.ok(results.every((result) => result.attempts.every((attempt) => attempt.stage === 1)), 'a 429 never advances the stage');
  });
});
