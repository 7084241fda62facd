/** Batch Mode's pure parts: batch prices, job planning, an item's batch calls and savings, the batch's counters. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BATCH_PRICE_FACTOR, batchPriceOf, usageCost, type Price } from '../../src/pricing';
import type { AttemptRecord, BatchApiOptions, ItemResult } from '../../src/schemas';
import { planBatchJobs } from '../../workflows/batch-jobs';
import { itemOutcomeOf } from '../../workflows/item-result';
import { markFinished, markStarted, newProgress } from '../../workflows/progress';

const PRICE: Price = { input: 0.3, output: 2.5, cachedInput: 0.03, cacheStoragePerHour: 1 };
const OPTIONS: BatchApiOptions = { jobSize: 4, pollIntervalMs: 1_000, maxPollIntervalMs: 10_000 };
const usage = { inputTokens: 1_000, outputTokens: 200, cachedTokens: 100, thoughtsTokens: 50 };

function attempt(fields: Partial<AttemptRecord>): AttemptRecord {
  return {
    call: 1,
    stage: 1,
    mode: 'full',
    model: 'm',
    temperature: 0,
    startedAt: '2026-12-02T00:00:00.000Z',
    durationMs: 1,
    usage,
    outcome: 'ok',
    ...fields,
  };
}

function result(attempts: AttemptRecord[]): ItemResult {
  return {
    batchId: 'b',
    itemId: 'i',
    index: 0,
    status: 'succeeded',
    model: 'm',
    usage,
    costUsd: attempts.reduce((sum, one) => sum + (one.costUsd ?? 0), 0),
    modelCalls: attempts.length,
    attempts,
    startedAt: '2026-12-02T00:00:00.000Z',
    finishedAt: '2026-12-02T00:00:01.000Z',
    durationMs: 1_000,
  };
}

describe('Batch Mode, pure parts', () => {
  test('batch prices are every per-token rate times the factor (0.5): the same tokens cost exactly half', () => {
    assert.equal(BATCH_PRICE_FACTOR, 0.5);
    const batch = batchPriceOf(PRICE);
    assert.deepEqual(batch, { input: 0.15, output: 1.25, cachedInput: 0.015, cacheStoragePerHour: 1 });
    assert.ok(Math.abs(usageCost(usage, batch) - usageCost(usage, PRICE) / 2) < 1e-12);
  });

  test('jobs of at most jobSize items, in order, covering every item once; none for an empty batch', () => {
    const plan = planBatchJobs('b', 10, OPTIONS);
    assert.equal(plan.jobs.length, 3);
    assert.deepEqual(
      plan.jobs.map((job) => [job.number, job.displayName, job.start, job.end, job.state]),
      [
        [1, 'b/job-1', 0, 4, 'unsubmitted'],
        [2, 'b/job-2', 4, 8, 'unsubmitted'],
        [3, 'b/job-3', 8, 10, 'unsubmitted'],
      ],
    );
    assert.deepEqual(
      [plan.answeredByBatch, plan.neededOnline, plan.batchCalls, plan.onlineCalls, plan.savedUsd],
      [0, 0, 0, 0, 0],
    );
    assert.equal(planBatchJobs('b', 0, OPTIONS).jobs.length, 0);
  });

  test('inline items are also cut by size (their share of a submit payload stays under 1 MB); one huge item is a job alone', () => {
    const sizes = [400_000, 400_000, 400_000, 10, 2_000_000, 10];
    const plan = planBatchJobs('b', sizes.length, { ...OPTIONS, jobSize: 100 }, (index) => sizes[index]!);
    assert.deepEqual(
      plan.jobs.map((job) => [job.start, job.end]),
      [
        [0, 2],
        [2, 4],
        [4, 5],
        [5, 6],
      ],
    );
  });

  test("an item's outcome counts its batch calls and what batch pricing saved; an online-only item has neither", () => {
    const batchCost = usageCost(usage, batchPriceOf(PRICE));
    const onlineCost = usageCost(usage, PRICE);
    const outcome = itemOutcomeOf(
      result([
        attempt({ via: 'batch', batchJob: 'batches/1', costUsd: batchCost, outcome: 'validation_error' }),
        attempt({ call: 2, stage: 2, mode: 'partial', costUsd: onlineCost }),
      ]),
    );
    assert.equal(outcome.batchCalls, 1);
    assert.ok(Math.abs((outcome.savedUsd ?? 0) - (onlineCost - batchCost)) < 1e-9);
    const online = itemOutcomeOf(result([attempt({ costUsd: onlineCost })]));
    assert.equal(online.batchCalls, undefined);
    assert.equal(online.savedUsd, undefined);
  });

  test('the batch counts items answered by their job alone, items that needed online calls, and both kinds of request', () => {
    const progress = newProgress('b', 't', 3, '2026-12-02T00:00:00.000Z', 10);
    progress.batchApi = planBatchJobs('b', 3, OPTIONS);
    const batchCost = usageCost(usage, batchPriceOf(PRICE));
    const outcomes = [
      result([attempt({ via: 'batch', costUsd: batchCost })]),
      result([
        attempt({ via: 'batch', costUsd: batchCost, outcome: 'validation_error' }),
        attempt({ call: 2, stage: 2, mode: 'partial' }),
      ]),
      result([attempt({})]),
    ].map(itemOutcomeOf);
    for (const outcome of outcomes) {
      markStarted(progress);
      markFinished(progress, outcome, PRICE);
    }
    const api = progress.batchApi;
    assert.deepEqual([api.answeredByBatch, api.neededOnline, api.batchCalls, api.onlineCalls], [1, 2, 2, 2]);
    assert.ok(Math.abs(api.savedUsd - 2 * batchCost) < 1e-9, 'each batch call saved as much as it cost');
    assert.equal(progress.modelCalls, api.batchCalls + api.onlineCalls);
  });
});
