/**
 * The OpenAI-compatible provider through the same worker, stage machine and classifier as Gemini:
 * one worker serving a Gemini task and an OpenAI one, a 429 whose retry-after-ms is waited out,
 * a refusal ending `blocked`, the json_object fallback, and a worker that refuses a task whose
 * provider it lacks. The real `openai` client against the emulator's /v1/chat/completions.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createGeminiClient } from '../../src/providers/gemini/client';
import { createOpenAIProvider } from '../../src/providers/openai/index';
import { createTaskRegistry, type TaskRegistry } from '../../src/tasks/registry';
import { createBatchWorker, type BatchWorker } from '../../src/worker';
import { runBatch, withEmulatorSettings, withFaults } from '../helpers/batch';
import { startTestStack, uniqueName, type TestStack } from '../helpers/stack';

const records = (count: number) =>
  Array.from({ length: count }, (_, index) => ({ id: `r${index}`, text: `record ${index}` }));

describe('the OpenAI-compatible provider', () => {
  let stack: TestStack;
  let tasks: TaskRegistry;
  let worker: BatchWorker;
  let running: Promise<void>;
  const taskQueue = uniqueName('tq-openai');
  const logged: string[] = [];

  before(async () => {
    stack = await startTestStack();
    tasks = await createTaskRegistry([
      path.join(__dirname, '..', 'fixtures', 'tasks.ts'),
      path.join(__dirname, '..', 'fixtures', 'openai-tasks.ts'),
    ]);
    worker = await createBatchWorker({
      connection: stack.connection,
      namespace: 'default',
      taskQueue,
      tasks,
      gemini: createGeminiClient({ apiKey: 'test-key', baseUrl: stack.emulator.url }),
      providers: [
        createOpenAIProvider({
          apiKey: 'test-key',
          baseUrl: `${stack.emulator.url}/v1`,
          log: (line) => logged.push(line),
        }),
      ],
      resultsDirectory: stack.resultsDirectory,
    });
    running = worker.run();
  });
  after(async () => {
    worker?.shutdown();
    await running;
    await stack?.teardown();
  });

  test('one worker runs a Gemini task and an OpenAI-compatible one, each through its own API', async () => {
    const gemini = await runBatch(stack, taskQueue, { taskName: 'test-echo', records: records(4) });
    // No built-in price for this provider's models: the batch gives one (start --prices).
    const price = { input: 0.4, output: 1.6, cachedInput: 0.1, cacheStoragePerHour: 0 };
    const openai = await runBatch(stack, taskQueue, {
      taskName: 'test-openai-echo',
      records: records(6),
      options: { prices: { 'gpt-test-mini': price } },
    });
    assert.equal(gemini.summary.succeeded, 4, JSON.stringify(gemini.summary));
    assert.equal(openai.summary.succeeded, 6, JSON.stringify(openai.summary));
    const chat = stack.emulator.chatCompletionCalls({ itemKeyPrefix: `${openai.batchId}/` });
    assert.equal(chat.length, 6, 'one chat completion per OpenAI item');
    assert.ok(chat.every((call) => call.responseFormat === 'json_schema'));
    assert.equal(openai.calls().length, 0, 'no generateContent call for the OpenAI task');
    assert.equal(stack.emulator.chatCompletionCalls({ itemKeyPrefix: `${gemini.batchId}/` }).length, 0);
    assert.equal(openai.results.length, 6);
    for (const result of openai.results) {
      assert.equal(result.status, 'succeeded');
      assert.equal(result.attempts.at(-1)?.metadata?.finishReason, 'STOP', 'finish reasons in the common words');
      assert.ok(result.usage.inputTokens > 0 && result.usage.outputTokens > 0);
    }
    assert.equal(openai.summary.byFinishReason['STOP'], 6);
    const expected = openai.results.reduce(
      (sum, result) => sum + (result.usage.inputTokens * price.input + result.usage.outputTokens * price.output) / 1e6,
      0,
    );
    assert.ok(expected > 0);
    assert.ok(Math.abs(openai.summary.costUsd - expected) < 1e-9, `${openai.summary.costUsd} vs ${expected}`);
    assert.deepEqual(openai.summary.unpricedModels, []);
  });

  test('a 429 with retry-after-ms: the item waits that long, then succeeds on the same stage', async () => {
    const batchId = uniqueName('openai-429');
    const run = await withFaults(
      stack.emulator,
      [
        {
          fault: 'rate_limit',
          itemKeyPrefix: `${batchId}/`,
          attempts: [1],
          retryDelaySeconds: 2.5,
        },
      ],
      () =>
        runBatch(stack, taskQueue, {
          batchId,
          taskName: 'test-openai-echo',
          records: records(1),
          options: { callMode: 'activity' },
        }),
    );
    assert.equal(run.summary.succeeded, 1, JSON.stringify(run.summary));
    const calls = stack.emulator.chatCompletionCalls({ itemKeyPrefix: `${batchId}/` });
    assert.equal(calls.length, 2);
    const waited = (calls[1]?.startedAtMs ?? 0) - (calls[0]?.startedAtMs ?? 0);
    assert.ok(waited >= 2_400, `waited ${waited} ms after a 2,500 ms retry-after-ms`);
    assert.equal(run.result('r0').attempts.length, 2);
    assert.equal(run.result('r0').attempts[0]?.outcome, 'rate_limit');
  });

  test('a refusal ends the item blocked, not retried', async () => {
    const batchId = uniqueName('openai-refusal');
    const run = await withFaults(stack.emulator, [{ fault: 'blocked_prompt', itemKeyPrefix: `${batchId}/` }], () =>
      runBatch(stack, taskQueue, { batchId, taskName: 'test-openai-echo', records: records(1) }),
    );
    assert.equal(run.summary.blocked, 1, JSON.stringify(run.summary));
    assert.equal(run.result('r0').status, 'blocked');
    assert.equal(run.result('r0').error?.category, 'safety_blocked');
    assert.equal(stack.emulator.chatCompletionCalls({ itemKeyPrefix: `${batchId}/` }).length, 1);
  });

  test('an endpoint that refuses json_schema: json_object with the schema in the prompt, said once in the log', async () => {
    const batchId = uniqueName('openai-fallback');
    const run = await withEmulatorSettings(stack.emulator, { openai: { rejectJsonSchema: true } }, () =>
      runBatch(stack, taskQueue, { batchId, taskName: 'test-openai-fallback', records: records(3), concurrency: 1 }),
    );
    assert.equal(run.summary.succeeded, 3, JSON.stringify(run.summary));
    const formats = stack.emulator
      .chatCompletionCalls({ itemKeyPrefix: `${batchId}/` })
      .map((call) => call.responseFormat);
    assert.deepEqual(formats, ['json_schema', 'json_object', 'json_object', 'json_object']);
    assert.equal(logged.filter((line) => /json_object/.test(line)).length, 1, logged.join('\n'));
  });

  test('a cache declared on a task of a provider without caches: the items run uncached, no Gemini cache made', async () => {
    const before = stack.emulator.cacheOperations('cacheCreate').length;
    const run = await runBatch(stack, taskQueue, { taskName: 'test-openai-cached', records: records(2) });
    assert.equal(run.summary.succeeded, 2, JSON.stringify(run.summary));
    assert.equal(stack.emulator.cacheOperations('cacheCreate').length, before, 'no cachedContents created');
    assert.equal(stack.emulator.chatCompletionCalls({ itemKeyPrefix: `${run.batchId}/` }).length, 2);
    assert.equal(run.summary.cache?.status, 'uncached', JSON.stringify(run.summary.cache));
    assert.match(run.summary.cache?.reason ?? '', /the openai-compatible provider has no context caches/);
  });

  test('--batch-api on a task of a provider without a batch API is refused before any item starts', async () => {
    const batchId = uniqueName('openai-batch-api');
    await assert.rejects(
      runBatch(stack, taskQueue, { batchId, taskName: 'test-openai-echo', records: records(2), batchApi: {} }),
      /task "test-openai-echo" calls the openai-compatible provider, which has no batch API: start the batch without --batch-api/,
    );
    assert.equal(stack.emulator.chatCompletionCalls({ itemKeyPrefix: `${batchId}/` }).length, 0);
  });

  test("a batch's provider override sends a Gemini task's calls to the OpenAI-compatible endpoint, uncached", async () => {
    const caches = stack.emulator.cacheOperations('cacheCreate').length;
    const run = await runBatch(stack, taskQueue, {
      taskName: 'test-cached',
      records: records(3),
      options: { provider: 'openai-compatible', model: 'gpt-test-mini' },
    });
    assert.equal(run.summary.succeeded, 3, JSON.stringify(run.summary));
    assert.equal(stack.emulator.chatCompletionCalls({ itemKeyPrefix: `${run.batchId}/` }).length, 3);
    assert.equal(run.calls().length, 0, 'no generateContent call');
    assert.equal(stack.emulator.cacheOperations('cacheCreate').length, caches, 'no Gemini cache made');
    assert.match(run.summary.cache?.reason ?? '', /the openai-compatible provider has no context caches/);
    assert.equal(run.results.length, 3);
    for (const result of run.results) assert.equal(result.model, 'gpt-test-mini');
  });

  test('a provider override the workers lack is refused before any item starts, naming what they have', async () => {
    const batchId = uniqueName('no-such-provider');
    await assert.rejects(
      runBatch(stack, taskQueue, {
        batchId,
        taskName: 'test-echo',
        records: records(2),
        options: { provider: 'openrouter', model: 'x' },
      }),
      /the batch asks for provider "openrouter", which the workers have not configured \(they have gemini, openai-compatible\); nothing was started/,
    );
    assert.equal(stack.emulator.chatCompletionCalls({ itemKeyPrefix: `${batchId}/` }).length, 0);
    assert.equal(stack.emulator.generateCalls({ itemKeyPrefix: `${batchId}/` }).length, 0);
  });

  test('a worker without the provider a task names does not start, and says what to set', async () => {
    await assert.rejects(
      createBatchWorker({
        connection: stack.connection,
        namespace: 'default',
        taskQueue: uniqueName('tq-no-openai'),
        tasks,
        gemini: createGeminiClient({ apiKey: 'test-key', baseUrl: stack.emulator.url }),
        resultsDirectory: stack.resultsDirectory,
      }),
      /tasks "test-openai-cached", "test-openai-echo", "test-openai-fallback" call provider "openai-compatible", which this worker has not configured \(it has gemini\): set OPENAI_API_KEY and\/or OPENAI_BASE_URL/,
    );
  });
});
