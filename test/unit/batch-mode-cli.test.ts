/** The CLI's Batch Mode pieces that need no server: its flags' parsing and the job table of `status`. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { durationMs, flagValue, FutureTime, spanMs, UsageError } from '../../src/cli/args';
import { batchApiOf } from '../../src/cli/commands-batch';
import { batchApiLines, batchJobTable, describeBatchApi } from '../../src/cli/progress-view';
import type { BatchApiProgress } from '../../src/schemas';

const API: BatchApiProgress = {
  jobSize: 1000,
  jobs: [
    {
      number: 1,
      displayName: 'b/job-1',
      start: 0,
      end: 1000,
      name: 'batches/abc',
      state: 'downloaded',
      stats: { requests: 1000, succeeded: 998, failed: 2, pending: 0 },
      file: true,
    },
    {
      number: 2,
      displayName: 'b/job-2',
      start: 1000,
      end: 2000,
      name: 'batches/def',
      state: 'expired',
      stats: { requests: 1000, succeeded: 0, failed: 0, pending: 1000 },
      message: 'batch job batches/def ended EXPIRED',
    },
    { number: 3, displayName: 'b/job-3', start: 2000, end: 2500, state: 'unsubmitted' },
  ],
  answeredByBatch: 990,
  neededOnline: 1010,
  batchCalls: 1000,
  onlineCalls: 1025,
  savedUsd: 0.123456,
};

describe('Batch Mode in the CLI', () => {
  test('the job table: one aligned row per job, counts from the stats, the message of a job that ended without answers', () => {
    assert.deepEqual(batchJobTable(API.jobs, ''), [
      'JOB  PROVIDER NAME       STATE        ITEMS  SUCCEEDED  FAILED  PENDING',
      '1    batches/abc (file)  downloaded   1000   998        2       0',
      '2    batches/def         expired      1000   0          0       1000     batch job batches/def ended EXPIRED',
      '3    -                   unsubmitted  500    -          -       -',
    ]);
  });

  test('the totals line, and the lines of status and the summary', () => {
    assert.equal(
      describeBatchApi(API),
      'answered by batch jobs: 990 items; needed online calls: 1010 items; batch requests 1000, online requests 1025; saved $0.1235 against online prices',
    );
    const lines = batchApiLines({ ...API, warning: 'the batch deadline is 2.0 h away' });
    assert.equal(lines[0], '  batch api:  3 jobs of up to 1000 items');
    assert.equal(lines.length, 1 + 4 + 2);
    assert.equal(lines.at(-1), '  batch api:  warning: the batch deadline is 2.0 h away');
  });

  test('--batch-api and its job flags: defaults left to the engine, durations with units, a stray job flag named', () => {
    assert.equal(batchApiOf({}), undefined);
    assert.deepEqual(batchApiOf({ 'batch-api': true }), {});
    assert.deepEqual(batchApiOf({ 'batch-api': true, 'job-size': '5', 'batch-poll-interval': '2s' }), {
      jobSize: 5,
      pollIntervalMs: 2000,
    });
    // A first wait above the 10-minute ceiling raises the ceiling.
    assert.deepEqual(batchApiOf({ 'batch-api': true, 'batch-poll-interval': '20m' }), {
      pollIntervalMs: 1_200_000,
      maxPollIntervalMs: 1_200_000,
    });
    assert.throws(
      () => batchApiOf({ 'job-size': '5' }),
      (error: unknown) => {
        assert.ok(error instanceof UsageError);
        assert.match(error.message, /--job-size applies to Batch Mode only: add --batch-api/);
        return true;
      },
    );
    assert.throws(() => batchApiOf({ 'batch-poll-interval': '1s' }), /--batch-poll-interval applies to Batch Mode/);
    assert.throws(
      () => batchApiOf({ 'job-size': '5' }, 'rerun'),
      /^UsageError: rerun: --job-size applies to Batch Mode/,
    );
    assert.throws(() => batchApiOf({ 'batch-api': true, 'job-size': '0' }), /--job-size must be at least 1/);
    assert.throws(() => batchApiOf({ 'batch-api': true, 'job-size': '100001' }), /--job-size must be at most 100000/);
  });

  test('durations and deadlines', () => {
    assert.equal(spanMs('500ms'), 500);
    assert.equal(spanMs('1.5s'), 1500);
    assert.equal(spanMs('90m'), 5_400_000);
    assert.equal(spanMs('2d'), 172_800_000);
    assert.equal(spanMs('soon'), undefined);
    const poll = durationMs(100, 3_600_000);
    assert.equal(flagValue('batch-poll-interval', poll, '250'), 250);
    assert.equal(flagValue('batch-poll-interval', poll, '5m'), 300_000);
    assert.throws(() => flagValue('batch-poll-interval', poll, '50ms'), /must be at least 100ms/);
    assert.throws(() => flagValue('batch-poll-interval', poll, '2h'), /must be at most 1h/);
    const inSixHours = Date.parse(flagValue('deadline', FutureTime, '6h'));
    assert.ok(Math.abs(inSixHours - (Date.now() + 6 * 3_600_000)) < 5_000);
    assert.equal(flagValue('deadline', FutureTime, '2999-01-01T00:00:00Z'), '2999-01-01T00:00:00.000Z');
    assert.throws(() => flagValue('deadline', FutureTime, '2000-01-01T00:00:00Z'), /--deadline must be in the future/);
  });
});
