import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { quotaScopeQuery } from '../../src/contract';
import { withEmulatorSettings, withFaults } from '../helpers/batch';
import { waitForOutput } from '../helpers/cli';
import { startTestStack, uniqueName, type TestStack } from '../helpers/stack';

/**
 * Calls beyond the steady rate in any window: admission spreads calls evenly from the first one
 * (no burst); one call of slack covers the jitter between a granted start and its arrival.
 */
const DOCUMENTED_BURST = 1;

describe('RPM and TPM admission across worker processes', () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack();
  });
  after(async () => {
    await stack?.teardown();
  });

  /**
   * Runs a batch on two worker processes started with `env`; returns the emulator's calls of that
   * batch and the scope's state before and after it. A few untimed items go first: a fresh
   * process's first calls start late (modules and connections still warming up), and a late call
   * followed by punctual ones would bunch in the measured windows.
   */
  async function onTwoWorkers(env: Record<string, string>, records: Array<Record<string, unknown>>) {
    const taskQueue = uniqueName('tq');
    const ready = (child: ReturnType<TestStack['spawnWorkerProcess']>) => waitForOutput(child, 'Worker on');
    const workers = [stack.spawnWorkerProcess(taskQueue, env), stack.spawnWorkerProcess(taskQueue, env)];
    await Promise.all(workers.map(ready));
    try {
      const batchClient = stack.batchClient(taskQueue);
      const scopeState = () =>
        stack.client.workflow
          .getHandle(`quota/${taskQueue}/gemini-test-model/${keyFingerprint}`)
          .query(quotaScopeQuery);
      const warmUpId = uniqueName('warm-up');
      await batchClient.start({
        taskName: 'test-echo',
        batchId: warmUpId,
        records: Array.from({ length: 6 }, (_, index) => ({ id: `w${index}` })),
        concurrency: 6,
      });
      assert.equal((await batchClient.summary(warmUpId)).succeeded, 6);
      const before = await scopeState();
      const batchId = uniqueName('admission');
      await batchClient.start({ taskName: 'test-echo', batchId, records, concurrency: records.length });
      const summary = await batchClient.summary(batchId);
      assert.equal(summary.succeeded, records.length);
      const calls = stack.emulator
        .generateCalls({ itemKeyPrefix: `${batchId}/` })
        .sort((a, b) => a.startedAtMs - b.startedAtMs);
      const after = await scopeState();
      // What the measured batch added to the scope's counters.
      const scope = {
        granted: (after.admission?.granted ?? 0) - (before.admission?.granted ?? 0),
        grantedTokens: (after.admission?.grantedTokens ?? 0) - (before.admission?.grantedTokens ?? 0),
        rateLimits: after.rateLimits - before.rateLimits,
        cooldowns: after.cooldowns - before.cooldowns,
      };
      return { calls, scope };
    } finally {
      for (const worker of workers) {
        worker.kill('SIGTERM');
        await once(worker, 'exit');
      }
    }
  }

  /** What the worker processes call the API key the stack gives them (GEMINI_API_KEY unset: the base URL). */
  let keyFingerprint = '';
  before(async () => {
    const { keyFingerprintOf } = await import('../../src/worker');
    keyFingerprint = keyFingerprintOf({ baseUrl: stack.emulator.url });
  });

  test('two workers with --rpm 120: calls are spread at 2 a second from the first one, in every window', async () => {
    const count = 20;
    const { calls, scope } = await onTwoWorkers(
      { BATCH_LLM_RPM: '120' },
      Array.from({ length: count }, (_, index) => ({ id: `r${index}` })),
    );
    assert.equal(calls.length, count);
    const starts = calls.map((call) => call.startedAtMs);
    const perSecond = 120 / 60;
    for (const windowMs of [1_000, 3_000, 60_000]) {
      for (const start of starts) {
        const inWindow = starts.filter((other) => other >= start && other < start + windowMs).length;
        assert.ok(
          inWindow <= Math.ceil(perSecond * (windowMs / 1000)) + DOCUMENTED_BURST,
          `${inWindow} calls within ${windowMs} ms of ${start}`,
        );
      }
    }
    const spanSeconds = (starts.at(-1)! - starts[0]!) / 1000;
    assert.ok(
      spanSeconds >= (count - 1 - DOCUMENTED_BURST) / perSecond,
      `${count} calls spread over ${spanSeconds.toFixed(1)} s`,
    );
    assert.equal(scope.granted, count, 'every call was admitted by the one scope workflow');
    console.log(
      `rpm 120 over two workers: ${count} calls in ${spanSeconds.toFixed(1)} s = ${((count - 1) / spanSeconds).toFixed(2)} calls/s (limit ${perSecond}/s)`,
    );
  });

  test('two workers with --tpm: input tokens are paced under the limit and none is refused', async () => {
    const tokensPerMinute = 6_000;
    await withEmulatorSettings(stack.emulator, { quota: { tokensPerMinute } }, async () => {
      const count = 16;
      // ~75 prompt tokens each: about 1,200 tokens, 12 s at 100 tokens a second.
      const records = Array.from({ length: count }, (_, index) => ({
        id: `t${index}`,
        text: 'lorem ipsum '.repeat(22),
      }));
      const { calls, scope } = await onTwoWorkers({ BATCH_LLM_TPM: String(tokensPerMinute) }, records);
      assert.equal(calls.length, count);
      assert.equal(calls.filter((call) => call.status === 429).length, 0, 'the emulator refused no call');
      const perSecond = tokensPerMinute / 60;
      const tokens = calls.reduce((sum, call) => sum + call.promptTokens, 0);
      const largest = Math.max(...calls.map((call) => call.promptTokens));
      for (const windowMs of [2_000, 5_000]) {
        for (const call of calls) {
          const inWindow = calls.filter(
            (other) => other.startedAtMs >= call.startedAtMs && other.startedAtMs < call.startedAtMs + windowMs,
          );
          const held = inWindow.reduce((sum, other) => sum + other.promptTokens, 0);
          assert.ok(
            held <= perSecond * (windowMs / 1000) + largest * (1 + DOCUMENTED_BURST),
            `${held} tokens within ${windowMs} ms of ${call.startedAtMs}`,
          );
        }
      }
      const spanSeconds = (calls.at(-1)!.startedAtMs - calls[0]!.startedAtMs) / 1000;
      assert.ok(
        spanSeconds >= (tokens - largest * 2) / perSecond,
        `${tokens} tokens spread over ${spanSeconds.toFixed(1)} s`,
      );
      assert.ok(
        Math.abs(scope.grantedTokens - tokens) <= tokens * 0.05,
        `admission charged ${scope.grantedTokens} tokens for ${tokens} used`,
      );
      console.log(
        `tpm ${tokensPerMinute} over two workers: ${tokens} tokens in ${spanSeconds.toFixed(1)} s = ${(tokens / spanSeconds).toFixed(0)} tokens/s (limit ${perSecond}/s)`,
      );
    });
  });

  test('with admission, a 429 still pauses every call of the scope for the suggested wait', async () => {
    const records = Array.from({ length: 12 }, (_, index) => ({ id: `c${index}` }));
    const prefixOf = (calls: Array<{ itemKey?: string | undefined }>) => calls[0]?.itemKey?.split('/')[0];
    // Fast limits (10 a second): the cooldown, not the pacing, is what holds calls back.
    await withFaults(
      stack.emulator,
      [{ fault: 'rate_limit', itemKeyPrefix: 'admission-', times: 2, retryDelaySeconds: 2 }],
      async () => {
        const { calls, scope } = await onTwoWorkers({ BATCH_LLM_RPM: '600' }, records);
        assert.equal(calls.length, records.length + 2, 'one call per item, and one more for each of the two 429s');
        assert.ok(prefixOf(calls));
        const limited = calls.filter((call) => call.status === 429);
        assert.equal(limited.length, 2);
        const firstAnswered = Math.min(...limited.map((call) => call.endedAtMs!));
        const duringCooldown = calls.filter(
          (call) => call.startedAtMs > firstAnswered + 300 && call.startedAtMs < firstAnswered + 1900,
        );
        assert.deepEqual(
          duringCooldown.map((call) => call.itemKey),
          [],
          'no call started during the cooldown',
        );
        // The second 429 may come from a call granted before the cooldown, or from the first call
        // after it (then a second, longer cooldown): either way the scope saw both.
        assert.equal(scope.rateLimits, 2);
        assert.ok(scope.cooldowns >= 1);
      },
    );
  });
});
