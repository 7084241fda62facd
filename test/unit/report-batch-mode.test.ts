/**
 * The report of a Batch Mode batch from hand-made records: batch requests (`via: 'batch'`, whose
 * duration is their whole job's) stay out of call latency and the timeline's calls, and get their
 * own section (spend by route, savings, items answered by batch alone); an online batch has none.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BATCH_PRICE_FACTOR } from '../../src/pricing';
import { buildReport, type BatchReport } from '../../src/report/stats';
import { renderTerminal, TERMINAL_WIDTH } from '../../src/report/terminal';
import { renderHtml } from '../../src/report/html';
import type { AttemptRecord, ItemResult, ItemStatus } from '../../src/schemas';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const at = (ms: number) => new Date(T0 + ms).toISOString();
const HOUR = 3_600_000;
const STOP = { finishReason: 'STOP', safetyRatings: {}, blockedCategories: [] };

function call(
  stage: number,
  outcome: AttemptRecord['outcome'],
  options: { costUsd: number; durationMs: number; startMs: number; input?: number; output?: number; job?: string },
): AttemptRecord {
  const usage = {
    inputTokens: options.input ?? 0,
    outputTokens: options.output ?? 0,
    cachedTokens: 0,
    thoughtsTokens: 0,
  };
  return {
    call: 0,
    stage,
    mode: stage === 1 ? 'full' : 'partial',
    model: 'm1',
    temperature: 0,
    startedAt: at(options.startMs),
    durationMs: options.durationMs,
    usage,
    costUsd: options.costUsd,
    ...(outcome === 'ok' || outcome === 'validation_error' ? { metadata: { ...STOP, usage } } : {}),
    outcome,
    ...(options.job ? { via: 'batch' as const, batchJob: options.job } : {}),
  };
}

function item(
  itemId: string,
  index: number,
  status: ItemStatus,
  attempts: AttemptRecord[],
  startMs: number,
  finishMs: number,
): ItemResult {
  attempts.forEach((attempt, position) => (attempt.call = position + 1));
  return {
    batchId: 'b',
    itemId,
    index,
    status,
    model: 'm1',
    usage: { inputTokens: 0, outputTokens: 0, cachedTokens: 0, thoughtsTokens: 0 },
    costUsd: attempts.reduce((sum, attempt) => sum + (attempt.costUsd ?? 0), 0),
    modelCalls: attempts.length,
    attempts,
    startedAt: at(startMs),
    finishedAt: at(finishMs),
    durationMs: finishMs - startMs,
  };
}

/**
 * Two provider jobs: batches/j1 (3 hours) answered a alone and b with an invalid answer repaired
 * online; batches/j2 (2 hours) failed c's request, which went online; d went online only; e was
 * cancelled before any call. Items start once their job has ended.
 */
function records(): ItemResult[] {
  const j1 = { startMs: 0, durationMs: 3 * HOUR, job: 'batches/j1' };
  const j2 = { startMs: 0, durationMs: 2 * HOUR, job: 'batches/j2' };
  return [
    item('a', 0, 'succeeded', [call(1, 'ok', { ...j1, costUsd: 0.001, input: 100, output: 10 })], 3 * HOUR, 3 * HOUR),
    item(
      'b',
      1,
      'succeeded',
      [
        call(1, 'validation_error', { ...j1, costUsd: 0.002, input: 100, output: 20 }),
        call(2, 'ok', { startMs: 3 * HOUR, durationMs: 300, costUsd: 0.0005, input: 30, output: 5 }),
      ],
      3 * HOUR,
      3 * HOUR + 1_000,
    ),
    item(
      'c',
      2,
      'succeeded',
      [
        call(1, 'server_error', { ...j2, costUsd: 0 }),
        call(1, 'ok', { startMs: 2 * HOUR, durationMs: 200, costUsd: 0.004, input: 100, output: 10 }),
      ],
      2 * HOUR,
      2 * HOUR + 1_000,
    ),
    item(
      'd',
      3,
      'succeeded',
      [call(1, 'ok', { startMs: 2 * HOUR, durationMs: 100, costUsd: 0.002, input: 100, output: 10 })],
      2 * HOUR,
      2 * HOUR + 500,
    ),
    item('e', 4, 'cancelled', [], 2 * HOUR, 2 * HOUR),
  ];
}

const report = (list = records()): BatchReport =>
  buildReport(list, { batchId: 'b', source: '/results/b/results.jsonl', generatedAt: at(4 * HOUR) });

/** The same items, every call online (no `via`, no `batchJob`), at online latencies. */
function onlineRecords(): ItemResult[] {
  return records().map((record) => ({
    ...record,
    attempts: record.attempts.map(({ via: _via, batchJob: _job, ...attempt }) => ({
      ...attempt,
      durationMs: Math.min(attempt.durationMs, 250),
    })),
  }));
}

describe('report of a Batch Mode batch', () => {
  test('spend by route, what batch pricing saved, items answered by batch alone', () => {
    const api = report().batchApi;
    assert.ok(api, 'a batch with batch requests has a batchApi section');
    assert.deepEqual(
      api.byRoute.map((row) => [row.route, row.costShare.toFixed(6)]),
      [
        ['batch', (0.003 / 0.0095).toFixed(6)],
        ['online', (0.0065 / 0.0095).toFixed(6)],
      ],
    );
    assert.deepEqual(
      api.byRoute.map(({ costShare: _share, ...row }) => row),
      [
        {
          route: 'batch',
          items: 3,
          calls: 3,
          inputTokens: 200,
          outputTokens: 30,
          cachedTokens: 0,
          thoughtsTokens: 0,
          costUsd: 0.003,
        },
        {
          route: 'online',
          items: 3,
          calls: 3,
          inputTokens: 230,
          outputTokens: 25,
          cachedTokens: 0,
          thoughtsTokens: 0,
          costUsd: 0.0065,
        },
      ],
    );
    // Saving of a batch call = costUsd / BATCH_PRICE_FACTOR − costUsd: at half price, what it cost.
    assert.equal(BATCH_PRICE_FACTOR, 0.5);
    assert.equal(api.savedUsd, 0.003);
    assert.equal(api.costAtOnlinePricesUsd, 0.0125);
    assert.equal(api.answeredByBatch, 1, 'a: its one call went through the batch API');
    assert.equal(api.neededOnline, 3, 'b (repair), c (failed request), d (online only)');
    assert.equal(api.jobs, 2);
    assert.deepEqual(api.turnaround, {
      calls: 3,
      p50Ms: 3 * HOUR,
      p90Ms: 3 * HOUR,
      p99Ms: 3 * HOUR,
      maxMs: 3 * HOUR,
      meanMs: Math.round((8 * HOUR) / 3),
    });
  });

  test('a 3-hour batch request is not in call latency, by stage or overall, nor in the timeline calls', () => {
    const stats = report();
    assert.deepEqual(stats.latency.all, { calls: 3, p50Ms: 200, p90Ms: 300, p99Ms: 300, maxMs: 300, meanMs: 200 });
    assert.deepEqual(
      stats.latency.byStage.map((row) => [row.stage, row.calls, row.p50Ms, row.p99Ms, row.maxMs]),
      [
        [1, 2, 100, 200, 200],
        [2, 1, 300, 300, 300],
      ],
    );
    assert.ok(
      [stats.latency.all, ...stats.latency.byStage].every((latency) => latency.maxMs < 1_000),
      'no job duration among call latencies',
    );
    assert.equal(
      stats.timeline.buckets.reduce((sum, bucket) => sum + bucket.calls, 0),
      3,
      'online calls only',
    );
    // Everything else still counts every call.
    assert.equal(stats.calls, 6);
    assert.equal(stats.spend.total.calls, 6);
    assert.equal(stats.spend.total.costUsd, 0.0095);
  });

  test('the terminal and HTML show the route section; latency says online calls', () => {
    const stats = report();
    const text = renderTerminal(stats);
    assert.deepEqual(
      text.split('\n').filter((line) => [...line].length > TERMINAL_WIDTH && !line.includes('records: ')),
      [],
    );
    assert.match(
      text,
      /Spend by route \(Batch Mode[^\n]*\n {2}route +items +calls[^\n]*\n {2}batch +3 +3 +200 +30 +\$0\.003 /,
    );
    assert.match(text, /\n {2}online +3 +3 +230 +25 +\$0\.0065 /);
    assert.match(text, /Batch pricing saved \$0\.003 against online prices for the same tokens \(\$0\.0125 online\)/);
    assert.match(text, /Items answered by batch alone: 1; items that needed online calls: 3\./);
    assert.match(text, /Batch jobs: 2; request turnaround \(job submission to end\): p50 3h 00m/);
    assert.match(text, /Latency of online calls by stage/);
    const latency = text.slice(text.indexOf('Latency of online calls'), text.indexOf('Calls per item'));
    assert.ok(!/\dh \d\dm/.test(latency), latency);

    const html = renderHtml(stats);
    assert.match(html, /<table class="spend" id="spend-by-route">/);
    assert.match(html, /Batch pricing saved <b>\$0\.003<\/b>/);
    assert.match(html, /Online call latency by stage/);
    assert.equal((html.match(/<svg /g) ?? []).length, 13, 'the usual 12 charts and the route share bar');
  });

  test('an online batch has no batch section, and its latency counts every call', () => {
    const stats = report(onlineRecords());
    assert.equal(stats.batchApi, undefined);
    assert.ok(!('batchApi' in stats));
    assert.equal(stats.latency.all.calls, 6);
    assert.equal(
      stats.timeline.buckets.reduce((sum, bucket) => sum + bucket.calls, 0),
      6,
    );
    const text = renderTerminal(stats);
    assert.ok(!text.includes('Spend by route'), text);
    assert.match(text, /Latency of calls by stage/);
    const html = renderHtml(stats);
    assert.ok(!html.includes('spend-by-route'));
    assert.ok(!html.includes('Batch Mode'));
    assert.equal((html.match(/<svg /g) ?? []).length, 12);
  });
});
