/**
 * Batch Mode's activities against a scripted provider (no server, no emulator): every way a step
 * can fail has its failure type and retry decision, and an item's staged answer is judged like an
 * online one. The workflow reads these: a non-retryable submit or download failure sends the
 * job's items online.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ApiError } from '@google/genai';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { z } from 'zod';
import { createBatchJobActivities } from '../../activities/batch-jobs';
import { classifyGemini } from '../../src/providers/gemini/errors';
import {
  BatchResultsMismatchError,
  type BatchJobs,
  type BatchJobSubmission,
  type ModelProvider,
} from '../../src/providers/types';
import { FileResultStore } from '../../src/results';
import { TaskRegistry, type AnyTask } from '../../src/tasks/registry';
import { defineTask } from '../../src/tasks/task';
import { failureOf as rejectionOf } from '../helpers/failures';

const task = defineTask({
  name: 'labels',
  outputSchema: z.object({ label: z.string().min(1) }),
  prompt: (item: Record<string, unknown>) => {
    if (item['broken']) throw new TypeError('this item cannot be prompted');
    return `Label ${JSON.stringify(item)}`;
  },
}) as unknown as AnyTask;

const usage = { inputTokens: 10, outputTokens: 3, cachedTokens: 0, thoughtsTokens: 0 };
const metadata = { finishReason: 'STOP', safetyRatings: {}, blockedCategories: [], usage };

function apiError(status: number, reason: string): ApiError {
  return new ApiError({
    message: JSON.stringify({ error: { code: status, message: reason, status: reason } }),
    status,
  });
}

/** A provider whose batch API does what the test scripts; generate is never called here. */
function providerWith(jobs: Partial<BatchJobs> | undefined): ModelProvider {
  return {
    name: 'scripted',
    target: 'nowhere',
    generate: () => Promise.reject(new Error('no online call here')),
    countTokens: () => Promise.resolve(0),
    classify: classifyGemini,
    ...(jobs ? { batchJobs: jobs as BatchJobs } : {}),
  };
}

function activities(jobs: Partial<BatchJobs> | undefined) {
  const results = new FileResultStore(mkdtempSync(path.join(os.tmpdir(), 'batch-job-activities-')));
  return {
    results,
    ...createBatchJobActivities({ tasks: new TaskRegistry([task]), provider: providerWith(jobs), results }),
  };
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await rejectionOf(promise);
  assert.ok(error instanceof ApplicationFailure, `an ApplicationFailure, got ${String(error)}`);
  return error;
}

const items = [
  { id: 'a', index: 0, data: { text: 'one' } },
  { id: 'b', index: 1, data: { text: 'two', broken: true } },
  { id: 'c', index: 2, data: { text: 'three' } },
];
const submitInput = {
  batchId: 'batch',
  taskName: 'labels',
  number: 1,
  model: 'm',
  generation: { temperature: 0 },
  source: { items },
};

/** Runs an activity as Temporal would (its Context), typed as the activity's own result. */
const mock = new MockActivityEnvironment();
const environment = {
  run<A extends unknown[], R>(activity: (...args: A) => Promise<R>, ...args: A): Promise<R> {
    return mock.run(activity, ...args) as Promise<R>;
  },
};

describe('Batch Mode activities, their failures and retry decisions', () => {
  test('submit: the job gets its display name and the buildable requests; an item whose prompt fails is left out (it goes online)', async () => {
    const submitted: BatchJobSubmission[] = [];
    const { submitBatchJob } = activities({
      submit: (submission) => {
        submitted.push(submission);
        return Promise.resolve({ name: 'batches/1', displayName: submission.displayName, state: 'pending' });
      },
    });
    const result = await environment.run(submitBatchJob, submitInput);
    assert.deepEqual(result, { name: 'batches/1', state: 'pending', requests: 2, file: false });
    assert.equal(submitted.length, 1);
    assert.equal(submitted[0]?.displayName, 'batch/job-1');
    assert.deepEqual(
      submitted[0]?.requests.map((request) => request.key),
      ['a', 'c'],
    );
    assert.equal(submitted[0]?.requests[0]?.request.generation.temperature, 0);
  });

  test('submit: no batch API, or no buildable request, fails for good; a 429 is retried after its delay; a 400 is not', async () => {
    const none = await failureOf(environment.run(activities(undefined).submitBatchJob, submitInput));
    assert.equal(none.type, 'invalid_request');
    assert.equal(none.nonRetryable, true);
    const { submitBatchJob } = activities({ submit: () => Promise.reject(new Error('not reached')) });
    const empty = await failureOf(environment.run(submitBatchJob, { ...submitInput, source: { items: [items[1]!] } }));
    assert.equal(empty.type, 'invalid_input');
    assert.equal(empty.nonRetryable, true);
    const limited = await failureOf(
      environment.run(
        activities({ submit: () => Promise.reject(apiError(429, 'RESOURCE_EXHAUSTED')) }).submitBatchJob,
        submitInput,
      ),
    );
    assert.equal(limited.type, 'rate_limit');
    assert.equal(limited.nonRetryable, false);
    const refused = await failureOf(
      environment.run(
        activities({ submit: () => Promise.reject(apiError(400, 'INVALID_ARGUMENT')) }).submitBatchJob,
        submitInput,
      ),
    );
    assert.equal(refused.type, 'invalid_request');
    assert.equal(refused.nonRetryable, true);
  });

  test('poll: a job the provider no longer knows is failed (its items go online); a 503 is retried', async () => {
    const { getBatchJobs } = activities({ get: () => Promise.reject(apiError(404, 'NOT_FOUND')) });
    const [gone] = await environment.run(getBatchJobs, { names: ['batches/gone'] });
    assert.equal(gone?.state, 'failed');
    assert.match(gone?.error?.message ?? '', /no longer knows/);
    const busy = await failureOf(
      environment.run(activities({ get: () => Promise.reject(apiError(503, 'UNAVAILABLE')) }).getBatchJobs, {
        names: ['batches/1'],
      }),
    );
    assert.equal(busy.nonRetryable, false);
  });

  test('download: answers and errors staged by item; a mismatch between responses and requests fails for good, never shifts', async () => {
    const answer = (text: string) => ({ text, usage, metadata, raw: () => ({ text }) });
    const { results, downloadBatchJob, fetchBatchAnswer } = activities({
      results: async function* (_name, keys) {
        assert.deepEqual(keys, ['a', 'b', 'c']);
        yield { key: 'a', answer: answer('{"label":"one"}') };
        yield { key: 'b', error: classifyGemini(apiError(503, 'UNAVAILABLE')) };
        yield { key: 'c', answer: answer('{"label":""}') };
      },
    });
    const input = {
      batchId: 'batch',
      taskName: 'labels',
      number: 1,
      name: 'batches/1',
      source: { ids: ['a', 'b', 'c'] },
    };
    assert.deepEqual(await environment.run(downloadBatchJob, input), { answers: 2, errors: 1 });
    const fetch = (item: (typeof items)[number]) =>
      environment.run(fetchBatchAnswer, { batchId: 'batch', taskName: 'labels', number: 1, job: 'batches/1', item });
    const ok = await fetch(items[0]!);
    assert.equal(ok.kind, 'answer');
    assert.equal(ok.kind === 'answer' && ok.answer.kind, 'ok');
    assert.deepEqual(ok.kind === 'answer' && ok.answer.usage, usage);
    const failed = await fetch(items[1]!);
    assert.deepEqual(failed.kind === 'error' && failed.category, 'server_overload');
    const invalid = await fetch(items[2]!);
    assert.ok(invalid.kind === 'answer' && invalid.answer.kind === 'unusable');
    assert.equal(invalid.answer.category, 'validation_error', 'judged like an online answer');
    assert.equal((await fetch({ id: 'z', index: 9, data: { text: 'unknown' } })).kind, 'missing');
    await results.clearStagedAnswers('batch');
    assert.equal((await fetch(items[0]!)).kind, 'missing', 'cleared with the batch');

    const mismatched = activities({
      // eslint-disable-next-line require-yield
      results: async function* () {
        throw new BatchResultsMismatchError('batch job batches/1: 2 responses for 3 requests');
      },
    });
    const mismatch = await failureOf(environment.run(mismatched.downloadBatchJob, input));
    assert.equal(mismatch.type, 'batch_results_mismatch');
    assert.equal(mismatch.nonRetryable, true);
    assert.match(mismatch.message, /2 responses for 3 requests/);
  });

  test('cancel: by name, or by display name for a submit cut short; a job that already ended is reported, not retried', async () => {
    const cancelled: string[] = [];
    const { cancelBatchJobs } = activities({
      findByDisplayName: (displayName) =>
        Promise.resolve(
          displayName === 'batch/job-2' ? { name: 'batches/2', displayName, state: 'running' as const } : undefined,
        ),
      cancel: (name) =>
        name === 'batches/done'
          ? Promise.reject(apiError(400, 'FAILED_PRECONDITION'))
          : (cancelled.push(name), Promise.resolve()),
    });
    const outcomes = await environment.run(cancelBatchJobs, {
      names: ['batches/1', 'batches/done'],
      displayNames: ['batch/job-2', 'batch/job-3'],
    });
    assert.deepEqual(cancelled.sort(), ['batches/1', 'batches/2']);
    assert.deepEqual(
      outcomes.map((outcome) => [outcome.name ?? outcome.displayName, outcome.cancelled]),
      [
        ['batch/job-3', false],
        ['batches/1', true],
        ['batches/done', false],
        ['batches/2', true],
      ],
    );
  });
});
