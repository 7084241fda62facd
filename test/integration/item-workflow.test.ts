/**
 * The real item workflow against scripted fake activities (the samples' mocks pattern): the stage
 * plan, local-first hand-over and the call ledger, without the emulator or a model.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import type { CallModelInput, CallModelOutput } from '../../activities';
import type { CallFailureDetails } from '../../activities/model-call';
import { modelCallsTaskQueue } from '../../src/constants';
import { makeErrorInfo } from '../../src/errors/classify';
import type { ItemOutcome, ItemResult, ItemWorkflowInput } from '../../src/schemas';
import { emptyUsage } from '../../src/usage';
import { startDevServer } from '../../src/temporal/dev-server';
import { workflowBundle } from '../../src/worker';
import { uniqueName } from '../helpers/stack';

type Script = (request: CallModelInput, call: number) => CallModelOutput | Promise<CallModelOutput>;

const metadata = { safetyRatings: {}, blockedCategories: [], usage: emptyUsage() };
const answer = (stageCall: number, extra: Partial<CallModelOutput> = {}): CallModelOutput =>
  ({
    kind: 'ok',
    output: { label: 'x' },
    usage: { ...emptyUsage(), inputTokens: 10, outputTokens: 5 },
    metadata,
    activityAttempt: stageCall,
    previousFailures: [],
    durationMs: 1,
    ...extra,
  }) as CallModelOutput;
/** An answer that fails validation, as the stage's first request (the activity numbers requests per stage). */
const invalid = (): CallModelOutput =>
  ({
    kind: 'unusable',
    category: 'validation_error',
    message: 'label: expected string (got 1)',
    validationIssues: [{ path: 'label', message: 'expected string', value: '1' }],
    partial: {
      kept: { score: 1 },
      failedFields: ['label'],
      previous: { label: 1 },
      issues: [{ path: 'label', message: 'expected string' }],
    },
    usage: emptyUsage(),
    metadata,
    activityAttempt: 1,
    previousFailures: [],
    durationMs: 1,
  }) as CallModelOutput;

describe('the item workflow against scripted activities', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await startDevServer();
  });
  after(async () => {
    await env?.teardown();
  });

  /** Runs one item with `script` answering its model calls; returns what the workflow ended with, the requests and the record. */
  async function runItem(script: Script, options: Partial<ItemWorkflowInput['options']> = {}) {
    const taskQueue = uniqueName('fake');
    const requests: Array<{ mode: string; stage: number; temperature: number | undefined }> = [];
    const records: ItemResult[] = [];
    const callModel = async (request: CallModelInput) => {
      requests.push({ mode: request.mode, stage: request.stage, temperature: request.generation.temperature });
      return script(request, requests.length);
    };
    const activities = {
      callModel,
      recordItemResult: async (result: ItemResult) => (records.push(result), { location: 'memory' }),
    };
    const workers = [
      await Worker.create({
        connection: env.nativeConnection,
        taskQueue,
        workflowBundle: await workflowBundle(),
        activities,
      }),
      await Worker.create({
        connection: env.nativeConnection,
        taskQueue: modelCallsTaskQueue(taskQueue),
        activities: { callModel },
      }),
    ];
    const input: ItemWorkflowInput = {
      batchId: 'fake-batch',
      taskName: 'test-echo',
      item: { id: 'i1', index: 0, data: { id: 'i1' } },
      model: 'm',
      options: { maxModelCalls: 5, callTimeoutMs: 5_000, callMode: 'local-first', ...options },
    };
    const handle = await env.client.workflow.start('itemWorkflow', {
      taskQueue,
      workflowId: uniqueName('item'),
      args: [input],
    });
    const result = handle.result().then(
      (outcome) => outcome as ItemOutcome,
      (error: unknown) => error,
    );
    await Promise.all(workers.map((worker) => worker.runUntil(result)));
    return { ended: await result, requests, records };
  }

  test('an answer at once: one local call, succeeded', async () => {
    const { ended, requests, records } = await runItem(() => answer(1));
    assert.equal((ended as ItemOutcome).status, 'succeeded');
    assert.deepEqual(requests, [{ mode: 'full', stage: 1, temperature: 0 }]);
    assert.equal(records.length, 1);
    assert.equal(records[0]?.modelCalls, 1);
  });

  test('an invalid answer moves to stage 2, which repairs with a partial prompt', async () => {
    const { ended, requests, records } = await runItem((_request, call) => (call === 1 ? invalid() : answer(1)));
    assert.equal((ended as ItemOutcome).status, 'succeeded');
    assert.deepEqual(requests, [
      { mode: 'full', stage: 1, temperature: 0 },
      { mode: 'partial', stage: 2, temperature: 0 },
    ]);
    assert.deepEqual(
      records[0]?.attempts.map((attempt) => [attempt.call, attempt.stage, attempt.outcome]),
      [
        [1, 1, 'validation_error'],
        [2, 2, 'ok'],
      ],
    );
  });

  test('invalid at every stage: the plan runs out after 4 stages and the item workflow fails with validation_error', async () => {
    const { ended, requests, records } = await runItem(() => invalid());
    assert.equal(requests.length, 4);
    assert.deepEqual(
      requests.map((request) => [request.stage, request.mode, request.temperature]),
      [
        [1, 'full', 0],
        [2, 'partial', 0],
        [3, 'full', 0.25],
        [4, 'partial', 0.25],
      ],
    );
    assert.ok(ended instanceof WorkflowFailedError && ended.cause instanceof ApplicationFailure, String(ended));
    assert.equal(ended.cause.type, 'validation_error');
    assert.equal(records[0]?.status, 'failed');
    assert.match(records[0]?.error?.message ?? '', /stage plan exhausted after 4 stages \(4 model calls\)/);
  });

  test('a transient failure of the local first call hands over to the regular activity, the ledger continuing from it', async () => {
    const { ended, requests, records } = await runItem((request, call) => {
      if (call === 1) {
        const details: CallFailureDetails = {
          error: makeErrorInfo('server_overload', '503'),
          failures: [{ attempt: 1, category: 'server_overload', message: '503', durationMs: 1 }],
        };
        throw ApplicationFailure.create({ type: 'server_overload', message: '503', details: [details] });
      }
      // The regular activity continues the ledger: it was told of the local call's failure.
      assert.deepEqual(
        request.priorFailures?.map((failure) => failure.attempt),
        [1],
      );
      return answer(2, { previousFailures: request.priorFailures ?? [] });
    });
    assert.equal((ended as ItemOutcome).status, 'succeeded');
    assert.equal(requests.length, 2);
    assert.deepEqual(
      records[0]?.attempts.map((attempt) => [attempt.call, attempt.outcome]),
      [
        [1, 'server_overload'],
        [2, 'ok'],
      ],
    );
    assert.equal(records[0]?.modelCalls, 2);
  });
});
