import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fitToColumns, formatProgress } from '../../src/progress-line';
import type { BatchProgress } from '../../src/schemas';

function progress(overrides: Partial<BatchProgress> = {}): BatchProgress {
  return {
    batchId: 'enrich-2026-12-02',
    taskName: 'demo-enrichment',
    total: 100_000,
    pending: 53_210,
    running: 200,
    succeeded: 46_012,
    failed: 321,
    blocked: 12,
    filtered: 3,
    cancelled: 0,
    deadline_exceeded: 242,
    byFinishReason: { STOP: 46_015 },
    bySafety: {},
    byCategory: { validation_error: 250, server_overload: 71, safety_blocked: 12 },
    usage: { inputTokens: 18_805_112, outputTokens: 1_780_431, cachedTokens: 9_000_000, thoughtsTokens: 0 },
    cacheHitRate: 0.478,
    effectiveInputTokens: 10_705_112,
    costUsd: 44.2031,
    unpricedModels: [],
    modelCalls: 47_211,
    startedAt: '2026-12-02T03:00:00.000Z',
    done: false,
    control: { paused: false, concurrency: 200 },
    runs: 3,
    largestRunEvents: 40_112,
    ...overrides,
  };
}

const ELAPSED_MS = 1_234_000;
const WIDTHS = [200, 160, 120, 100, 80, 60, 40, 20];

describe('the live progress line', () => {
  test('without a width it is the full line, as logs get it', () => {
    const line = formatProgress(progress(), ELAPSED_MS);
    assert.equal(
      line,
      '[###########-------------] 46590/100000 | 37.8 items/s | ETA 23m35s | 46012 succeeded, 3 filtered, 321 failed, 12 blocked, 242 deadline_exceeded, 200 running, 53210 pending (validation_error 250, server_overload 71, safety_blocked 12) | tokens in 18805112 out 1780431 cached 48% | $44.2031',
    );
  });

  test('at every width it fits in width - 1 columns, on one line, and keeps done/total', () => {
    const lines = WIDTHS.map((columns) => [columns, formatProgress(progress(), ELAPSED_MS, columns)] as const);
    assert.equal(lines.length, WIDTHS.length);
    for (const [columns, line] of lines) {
      assert.ok(line.length <= columns - 1, `${columns} columns: ${line.length} chars: ${line}`);
      assert.doesNotMatch(line, /[\r\n]/);
      if (columns >= 40) assert.match(line, /^(\[[#-]+\] )?46590\/100000/, `${columns} columns: ${line}`);
    }
  });

  test('a big batch: the bar narrows and labels shorten, then pending, tokens and categories go, then the bar', () => {
    assert.equal(
      formatProgress(progress(), ELAPSED_MS, 160),
      '[#####-----] 46590/100000 | 37.8/s | ETA 23m35s | 46012 ok 3 filtered 321 failed 12 blocked 242 late 200 run 53210 pending | $44.2031',
    );
    assert.equal(
      formatProgress(progress(), ELAPSED_MS, 120),
      '[#####-----] 46590/100000 | 37.8/s | ETA 23m35s | 46012 ok 3 filtered 321 failed 12 blocked 242 late 200 run | $44.2031',
    );
    assert.equal(
      formatProgress(progress(), ELAPSED_MS, 100),
      '[#####-----] 46590/100000 | 37.8/s | ETA 23m35s | 46015 ok 575 not ok 200 run | $44.2031',
    );
    assert.equal(
      formatProgress(progress(), ELAPSED_MS, 80),
      '46590/100000 46% ETA 23m35s 46015 ok 575 not ok 200 run $44.2031',
    );
    // Below that, the bare line is cut.
    assert.equal(formatProgress(progress(), ELAPSED_MS, 40), '46590/100000 46% ETA 23m35s 46015 ok 5…');
  });

  test('a small batch keeps its bar, counts and cost at 80 columns, and its tokens too at 100', () => {
    const small = progress({
      total: 50,
      pending: 0,
      running: 4,
      succeeded: 46,
      failed: 0,
      blocked: 0,
      filtered: 0,
      deadline_exceeded: 0,
      byCategory: {},
      usage: { inputTokens: 18_805, outputTokens: 1_780, cachedTokens: 0, thoughtsTokens: 0 },
      cacheHitRate: 0,
      costUsd: 0.0442,
    });
    assert.equal(
      formatProgress(small, 6_900, 100),
      '[###########-] 46/50 | 6.7/s | ETA 1s | 46 ok 0 failed 4 run | in 19k out 1.8k cached 0% | $0.0442',
    );
    assert.equal(
      formatProgress(small, 6_900, 80),
      '[#########-] 46/50 | 6.7/s | ETA 1s | 46 ok 0 failed 4 run | $0.0442',
    );
    assert.equal(formatProgress(small, 6_900, 60), '46/50 92% ETA 1s 46 ok 0 failed 4 run $0.0442');
  });

  test('the last frame names the end state and fits too', () => {
    const ended = progress({
      done: true,
      pending: 0,
      running: 0,
      cancelled: 53_410,
      control: { paused: false, concurrency: 200, stop: { kind: 'cancelled', reason: 'on request' } },
    });
    for (const columns of [80, 100]) {
      const line = formatProgress(ended, ELAPSED_MS, columns);
      assert.ok(line.startsWith('STOPPED '), line);
      assert.ok(line.length <= columns - 1, line);
      assert.doesNotMatch(line, /ETA/);
    }
  });

  test('Batch Mode: while provider jobs run the line says how many ended and how many requests are answered, without an ETA', () => {
    const job = (number: number, state: 'running' | 'downloaded', answered: number) => ({
      number,
      displayName: `b/job-${number}`,
      start: (number - 1) * 1000,
      end: number * 1000,
      state,
      stats: { requests: 1000, succeeded: answered, failed: 0, pending: 1000 - answered },
    });
    const waiting = progress({
      total: 2000,
      pending: 1800,
      running: 200,
      succeeded: 0,
      failed: 0,
      blocked: 0,
      filtered: 0,
      deadline_exceeded: 0,
      byCategory: {},
      batchApi: {
        jobSize: 1000,
        jobs: [job(1, 'downloaded', 1000), job(2, 'running', 400)],
        answeredByBatch: 0,
        neededOnline: 0,
        batchCalls: 0,
        onlineCalls: 0,
        savedUsd: 0,
      },
    });
    const line = formatProgress(waiting, ELAPSED_MS);
    assert.match(line, /^\[-+\] 0\/2000 \| batch jobs 1\/2 ended, 1400\/2000 requests answered \| /);
    assert.doesNotMatch(line, /ETA/);
    const lines = WIDTHS.map((columns) => [columns, formatProgress(waiting, ELAPSED_MS, columns)] as const);
    assert.equal(lines.length, WIDTHS.length);
    for (const [columns, fitted] of lines) assert.ok(fitted.length <= columns - 1, `${columns}: ${fitted}`);
    assert.match(formatProgress(waiting, ELAPSED_MS, 100), /jobs 1\/2/);
    const ended = { ...waiting.batchApi!, jobs: [job(1, 'downloaded', 1000), job(2, 'downloaded', 1000)] };
    const after = formatProgress({ ...waiting, batchApi: ended }, ELAPSED_MS);
    assert.doesNotMatch(after, /jobs/, 'once every job has ended, the usual line');
    assert.match(after, /ETA/);
  });

  test('fitToColumns cuts any line with an ellipsis, and leaves a short one alone', () => {
    assert.equal(fitToColumns('abcdefghij', 6), 'abcd…');
    assert.equal(fitToColumns('abc', 6), 'abc');
    assert.equal(fitToColumns('abcdefghij'), 'abcdefghij');
  });
});
