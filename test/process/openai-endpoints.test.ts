/**
 * Named OpenAI-compatible endpoints, as an operator configures them: `batch-llm worker` with
 * BATCH_LLM_OPENAI_ENDPOINTS=local-a=<emulator A>/v1,local-b=<emulator B>/v1 and each key in
 * LOCAL_A_API_KEY / LOCAL_B_API_KEY. Two tasks on the same model name, one per endpoint: each
 * task's calls reach its own endpoint, under a quota scope of its own account (admission counts
 * them apart, each under its limits: the endpoint's own rpm/tpm, else the worker's), and the
 * banner names both endpoints without their keys.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { GeminiEmulator } from '@durable-batch-llm/gemini-emulator';
import { quotaScopeQuery } from '../../src/contract';
import { fingerprintOf } from '../../src/providers/registry';
import { runCli, spawnCli, waitForOutput } from '../helpers/cli';
import { startTestStack, uniqueName, type TestStack } from '../helpers/stack';

describe('named OpenAI-compatible endpoints through the bin', () => {
  let stack: TestStack;
  let second: GeminiEmulator;
  before(async () => {
    stack = await startTestStack();
    second = await GeminiEmulator.start();
  });
  after(async () => {
    await second?.stop();
    await stack?.teardown();
  });

  test('each task reaches its own endpoint, under its own quota scope; a worker missing one refuses to start', async () => {
    const taskQueue = uniqueName('tq-endpoints');
    const env = {
      TEMPORAL_ADDRESS: stack.address,
      TEMPORAL_TASK_QUEUE: taskQueue,
      GOOGLE_GEMINI_BASE_URL: stack.emulator.url,
      // local-b has limits of its own; local-a's scopes take the worker's.
      BATCH_LLM_OPENAI_ENDPOINTS: `local-a=${stack.emulator.url}/v1, local-b=${second.url}/v1;rpm=3000;tpm=900000`,
      LOCAL_A_API_KEY: 'sk-endpoint-a',
      LOCAL_B_API_KEY: 'sk-endpoint-b',
      // Admission on: every call asks its scope's workflow, which counts what it granted.
      BATCH_LLM_RPM: '6000',
    };
    const tasks = ['--tasks', 'test/fixtures/endpoint-tasks.ts', '--results-dir', stack.resultsDirectory];
    const worker = spawnCli(['worker', ...tasks], env);
    try {
      const banner = await waitForOutput(worker, 'Worker on');
      assert.match(banner, new RegExp(`local-a at ${stack.emulator.url}/v1`));
      assert.match(banner, new RegExp(`local-b at ${second.url}/v1 \\(its own 3000 rpm, 900000 tpm\\)`));
      assert.doesNotMatch(banner, /sk-endpoint/);

      const batchClient = stack.batchClient(taskQueue);
      const batchA = uniqueName('on-a');
      const batchB = uniqueName('on-b');
      const records = (count: number) => Array.from({ length: count }, (_, index) => ({ id: `r${index}` }));
      await Promise.all([
        batchClient.start({ taskName: 'test-endpoint-a', batchId: batchA, records: records(3) }),
        batchClient.start({ taskName: 'test-endpoint-b', batchId: batchB, records: records(5) }),
      ]);
      assert.equal((await batchClient.summary(batchA)).succeeded, 3);
      assert.equal((await batchClient.summary(batchB)).succeeded, 5);

      assert.equal(stack.emulator.chatCompletionCalls({ itemKeyPrefix: `${batchA}/` }).length, 3);
      assert.equal(second.chatCompletionCalls({ itemKeyPrefix: `${batchB}/` }).length, 5);
      assert.equal(stack.emulator.chatCompletionCalls({ itemKeyPrefix: `${batchB}/` }).length, 0, 'B never called A');
      assert.equal(second.chatCompletionCalls({ itemKeyPrefix: `${batchA}/` }).length, 0, 'A never called B');

      // Same model name, two accounts: two scopes, each granting its own endpoint's calls.
      const scopeOf = (key: string) =>
        stack.client.workflow
          .getHandle(`quota/${taskQueue}/gpt-test-mini/${fingerprintOf(key)}`)
          .query(quotaScopeQuery);
      const [scopeA, scopeB] = await Promise.all([scopeOf('sk-endpoint-a'), scopeOf('sk-endpoint-b')]);
      assert.equal(scopeA.admission?.granted, 3);
      assert.equal(scopeB.admission?.granted, 5);
      assert.deepEqual(scopeA.limits, { requestsPerMinute: 6000 }, "the worker's BATCH_LLM_RPM");
      assert.deepEqual(scopeB.limits, { requestsPerMinute: 3000, tokensPerMinute: 900000 }, "the endpoint's own");
    } finally {
      worker.kill('SIGTERM');
      await once(worker, 'exit');
    }

    const without = await runCli(['worker', ...tasks], {
      ...env,
      BATCH_LLM_OPENAI_ENDPOINTS: `local-a=${stack.emulator.url}/v1`,
    });
    assert.notEqual(without.code, 0);
    assert.match(
      without.stderr,
      /task "test-endpoint-b" calls provider "local-b", which this worker has not configured \(it has gemini, local-a\): name it in BATCH_LLM_OPENAI_ENDPOINTS \(local-b=<base URL>, its key in LOCAL_B_API_KEY\)/,
    );

    const bad = await runCli(['worker', ...tasks], { ...env, BATCH_LLM_OPENAI_ENDPOINTS: 'local-a' });
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /BATCH_LLM_OPENAI_ENDPOINTS entry 1: must be name=url/);
  });
});
