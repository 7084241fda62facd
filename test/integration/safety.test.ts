import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { FaultRule } from '@durable-batch-llm/gemini-emulator';
import { MockActivityEnvironment } from '@temporalio/testing';
import { z } from 'zod';
import { postProcessItem } from '../../activities/post-process';
import { FileResultStore } from '../../src/results';
import { TaskRegistry, type AnyTask } from '../../src/tasks/registry';
import { runBatch, withFaults, type BatchRun } from '../helpers/batch';
import { uniqueName, useStackWithWorker, type TestStack } from '../helpers/stack';

const HOOK_DIRECTORY = mkdtempSync(path.join(os.tmpdir(), 'batch-llm-hooks-'));
process.env['TEST_POST_PROCESS_HOOK_DIR'] = HOOK_DIRECTORY;

describe('safety ratings, response metadata, content filtering and post-processing', () => {
  let stack!: TestStack;
  const taskQueue = useStackWithWorker((started) => (stack = started));

  /** Runs `records` through `taskName` under the faults `faults(batchId)` names (cleared afterwards). */
  async function run(
    taskName: string,
    records: Array<Record<string, unknown>>,
    faults: (batchId: string) => FaultRule[] = () => [],
  ): Promise<BatchRun> {
    const batchId = uniqueName(taskName);
    const run = await withFaults(stack.emulator, faults(batchId), () =>
      runBatch(stack, taskQueue, { taskName, batchId, records }),
    );
    assert.equal(run.results.length, records.length, 'one result per item');
    return run;
  }

  test('a normal item carries finish reason, ratings, model version and response id; the batch counts them', async () => {
    const { result, summary } = await run('test-echo', [{ id: 'a' }, { id: 'b' }]);
    const metadata = result('a').metadata;
    assert.equal(metadata?.finishReason, 'STOP');
    assert.equal(metadata?.safetyRatings['HARM_CATEGORY_HATE_SPEECH'], 'NEGLIGIBLE');
    assert.equal(metadata?.modelVersion, 'gemini-test-model');
    assert.ok(metadata?.responseId);
    assert.deepEqual(metadata?.usage, result('a').usage);
    assert.equal(
      result('a').attempts[0]?.metadata?.responseId,
      metadata?.responseId,
      "the attempt log carries each call's metadata",
    );
    assert.equal(result('a').rawResponse, undefined, 'no raw response unless opted in');
    assert.deepEqual(summary.byFinishReason, { STOP: 2 });
    assert.equal(summary.bySafety['HARM_CATEGORY_HATE_SPEECH']?.['NEGLIGIBLE'], 2);
  });

  test('a blocked prompt ends `blocked` after one model call, with its ratings, and is not counted as failed', async () => {
    const ratings = [{ category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH', blocked: true }] as const;
    const { result, summary, batchId, calls } = await run('test-echo', [{ id: 'bad' }, { id: 'ok' }], (id) => [
      { fault: 'blocked_prompt', itemKey: `${id}/bad`, blockReason: 'PROHIBITED_CONTENT', safetyRatings: [...ratings] },
    ]);
    const blocked = result('bad');
    assert.equal(blocked.status, 'blocked');
    assert.equal(blocked.error?.category, 'safety_blocked');
    assert.equal(blocked.modelCalls, 1);
    assert.equal(calls('bad').length, 1);
    assert.equal(blocked.metadata?.blockReason, 'PROHIBITED_CONTENT');
    assert.deepEqual(blocked.metadata?.safetyRatings, { HARM_CATEGORY_DANGEROUS_CONTENT: 'HIGH' });
    assert.deepEqual(blocked.metadata?.blockedCategories, ['HARM_CATEGORY_DANGEROUS_CONTENT']);
    assert.deepEqual([summary.succeeded, summary.blocked, summary.failed], [1, 1, 0]);
    const [item] = await (async () => {
      const found = [];
      for await (const execution of stack.client.workflow.list({
        query: `BatchId = "${batchId}" AND ItemStatus = "blocked"`,
      }))
        found.push(execution.workflowId);
      return found;
    })();
    assert.equal(item, `${batchId}/bad`, 'blocked items can be found in the Web UI by status');
  });

  test('a blocked answer (PROHIBITED_CONTENT) is not retried by default; a task may opt into one retry at another temperature', async () => {
    const faults = (id: string): FaultRule[] => [
      { fault: 'finish', finishReason: 'PROHIBITED_CONTENT', itemKey: `${id}/x`, attempts: [1] },
    ];
    const plain = await run('test-echo', [{ id: 'x' }], faults);
    assert.equal(plain.result('x').status, 'blocked');
    assert.equal(plain.result('x').metadata?.finishReason, 'PROHIBITED_CONTENT');
    assert.equal(plain.result('x').modelCalls, 1);
    const retried = await run('test-safety-retry', [{ id: 'x' }], faults);
    assert.equal(retried.result('x').status, 'succeeded');
    assert.deepEqual(
      retried.calls('x').map((call) => call.temperature),
      [0, 0.7],
    );
  });

  test('the content filter sets an answer at or above a threshold aside as `filtered`, keeping output and ratings', async () => {
    const { result, summary } = await run('test-safety', [{ id: 'hateful' }, { id: 'mild' }, { id: 'clean' }], (id) => [
      {
        fault: 'ratings',
        itemKey: `${id}/hateful`,
        safetyRatings: [{ category: 'HARM_CATEGORY_HATE_SPEECH', probability: 'MEDIUM' }],
      },
      {
        fault: 'ratings',
        itemKey: `${id}/mild`,
        safetyRatings: [
          { category: 'HARM_CATEGORY_HATE_SPEECH', probability: 'LOW' },
          { category: 'HARM_CATEGORY_HARASSMENT', probability: 'MEDIUM' },
        ],
      },
    ]);
    const hateful = result('hateful');
    assert.equal(hateful.status, 'filtered');
    assert.ok(hateful.output && typeof hateful.output === 'object', 'the output is kept');
    assert.deepEqual(hateful.filteredBy, [
      { category: 'HARM_CATEGORY_HATE_SPEECH', probability: 'MEDIUM', threshold: 'MEDIUM' },
    ]);
    assert.equal(result('mild').status, 'succeeded', 'below every threshold');
    assert.equal(result('clean').status, 'succeeded');
    assert.deepEqual([summary.succeeded, summary.filtered], [2, 1]);
    assert.deepEqual(summary.bySafety['HARM_CATEGORY_HATE_SPEECH'], { MEDIUM: 1, LOW: 1, NEGLIGIBLE: 1 });
  });

  test('the raw response is kept only when the task opts in', async () => {
    const { result } = await run('test-raw', [{ id: 'r' }]);
    const raw = result('r').rawResponse as { candidates?: Array<{ finishReason?: string }>; responseId?: string };
    assert.equal(raw?.candidates?.[0]?.finishReason, 'STOP');
    assert.equal(raw?.responseId, result('r').metadata?.responseId);
  });

  test('the post-processing hook transforms the output or rejects the item', async () => {
    const { result, summary } = await run('test-post', [{ id: 'keep' }, { id: 'nope', reject: true }]);
    assert.equal(result('keep').status, 'succeeded');
    assert.equal((result('keep').output as { postProcessed?: boolean }).postProcessed, true);
    assert.equal(result('nope').status, 'failed');
    assert.equal(result('nope').error?.category, 'post_process_rejected');
    assert.match(result('nope').error?.message ?? '', /item nope is not publishable/);
    assert.deepEqual(summary.byCategory, { post_process_rejected: 1 });
  });
});

describe('the post-processing ledger', () => {
  test('a retried activity returns the recorded decision instead of running the hook again', async () => {
    const resultsDirectory = mkdtempSync(path.join(os.tmpdir(), 'batch-llm-ledger-'));
    const store = new FileResultStore(resultsDirectory);
    let runs = 0;
    const tasks = new TaskRegistry([
      {
        name: 'ledger',
        outputSchema: z.object({ n: z.number() }),
        prompt: () => 'x',
        postProcess: () => ({ output: { n: ++runs } }),
      } as unknown as AnyTask,
    ]);
    const input = {
      batchId: 'b',
      taskName: 'ledger',
      item: { id: 'i', index: 0, data: { id: 'i' } },
      output: { n: 0 },
      metadata: {
        safetyRatings: {},
        blockedCategories: [],
        usage: { inputTokens: 0, outputTokens: 0, cachedTokens: 0, thoughtsTokens: 0 },
      },
    };
    const environment = new MockActivityEnvironment();
    const first = await environment.run(postProcessItem, input, tasks, store);
    const second = await environment.run(postProcessItem, input, tasks, store);
    assert.deepEqual(first, { output: { n: 1 } });
    assert.deepEqual(second, first);
    assert.equal(runs, 1);
  });
});
