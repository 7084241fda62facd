/**
 * The report's numbers from hand-made records (src/report/stats.ts), exactly; the terminal tables
 * fit 100 columns; the HTML escapes untrusted text and carries the same numbers. Pure: no server.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildReport, bucketSizeFor, normaliseMessage, percentile, type BatchReport } from '../../src/report/stats';
import { renderTerminal, TERMINAL_WIDTH } from '../../src/report/terminal';
import { escapeHtml, renderHtml } from '../../src/report/html';
import type { AttemptRecord, ItemResult, ItemStatus } from '../../src/schemas';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const at = (ms: number) => new Date(T0 + ms).toISOString();
const STOP = { finishReason: 'STOP', safetyRatings: {}, blockedCategories: [] };

function call(
  stage: number,
  outcome: AttemptRecord['outcome'],
  options: {
    model?: string;
    input?: number;
    output?: number;
    costUsd?: number;
    durationMs: number;
    startMs?: number;
    message?: string;
    answered?: boolean;
  },
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
    mode: stage % 2 === 1 ? 'full' : 'partial',
    model: options.model ?? 'm1',
    temperature: 0,
    startedAt: at(options.startMs ?? 0),
    durationMs: options.durationMs,
    usage,
    ...(options.costUsd !== undefined ? { costUsd: options.costUsd } : {}),
    ...(options.answered ? { metadata: { ...STOP, usage } } : {}),
    outcome,
    ...(options.message ? { message: options.message } : {}),
  };
}

function item(
  itemId: string,
  index: number,
  status: ItemStatus,
  attempts: AttemptRecord[],
  times: { startMs: number; finishMs: number; durationMs: number },
  extra: Partial<ItemResult> = {},
): ItemResult {
  attempts.forEach((attempt, position) => (attempt.call = position + 1));
  const answered = [...attempts].reverse().find((attempt) => attempt.metadata);
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
    ...(answered?.metadata ? { metadata: answered.metadata } : {}),
    startedAt: at(times.startMs),
    finishedAt: at(times.finishMs),
    durationMs: times.durationMs,
    ...extra,
  };
}

/** Six items: two succeeded (one after a 503 and a repair), three failed, one cancelled before it ran. */
function records(): ItemResult[] {
  const answer = (stage: number, outcome: AttemptRecord['outcome'], more: Parameters<typeof call>[2]) =>
    call(stage, outcome, { answered: true, ...more });
  return [
    item('a', 0, 'succeeded', [answer(1, 'ok', { input: 100, output: 10, costUsd: 0.001, durationMs: 100 })], {
      startMs: 0,
      finishMs: 1_000,
      durationMs: 1_000,
    }),
    item(
      'b',
      1,
      'succeeded',
      [
        call(1, 'server_overload', { costUsd: 0, durationMs: 50, message: 'The model is overloaded.' }),
        answer(1, 'validation_error', {
          input: 100,
          output: 20,
          costUsd: 0.002,
          durationMs: 200,
          message: 'score: expected number (got "x7")',
        }),
        answer(2, 'ok', { model: 'm2', input: 30, output: 5, costUsd: 0.0005, durationMs: 300 }),
      ],
      { startMs: 1_000, finishMs: 30_000, durationMs: 30_000 },
    ),
    item(
      'c',
      2,
      'failed',
      [
        answer(1, 'validation_error', {
          input: 100,
          output: 20,
          costUsd: 0.002,
          durationMs: 200,
          message: 'score: expected number (got "x9")',
        }),
        answer(2, 'validation_error', {
          model: 'm2',
          input: 30,
          output: 5,
          costUsd: 0.0005,
          durationMs: 400,
          message: 'score: expected number (got "x9")',
        }),
      ],
      { startMs: 60_000, finishMs: 65_000, durationMs: 5_000 },
      { error: { category: 'validation_error', message: 'score: expected number (got "x9")' } },
    ),
    item(
      'd',
      3,
      'failed',
      [call(1, 'invalid_request', { durationMs: 80, costUsd: 0, message: 'Request 12345 for item d rejected' })],
      { startMs: 68_000, finishMs: 70_000, durationMs: 2_000 },
      { error: { category: 'invalid_request', message: 'Request 12345 for item d rejected' } },
    ),
    item(
      'e',
      4,
      'cancelled',
      [],
      { startMs: 70_000, finishMs: 70_000, durationMs: 0 },
      { stopReason: 'cancelled from the command line' },
    ),
    item(
      'f',
      5,
      'failed',
      [
        answer(1, 'validation_error', {
          input: 100,
          output: 20,
          costUsd: 0.002,
          durationMs: 150,
          message: 'score: expected number (got "x12")',
        }),
      ],
      { startMs: 69_000, finishMs: 70_000, durationMs: 1_000 },
      { error: { category: 'validation_error', message: 'score: expected number (got "x12")' } },
    ),
  ];
}

const report = (): BatchReport =>
  buildReport(records(), { batchId: 'b', source: '/results/b/results.jsonl', generatedAt: at(100_000) });

describe('report statistics from hand-made records', () => {
  test('counts by status, error category, finish reason and call outcome', () => {
    const stats = report();
    assert.equal(stats.items, 6);
    assert.equal(stats.calls, 8);
    assert.deepEqual(stats.byStatus, {
      succeeded: 2,
      failed: 3,
      blocked: 0,
      filtered: 0,
      cancelled: 1,
      deadline_exceeded: 0,
    });
    assert.equal(stats.successRate, 2 / 6);
    assert.deepEqual(stats.byCategory, [
      { category: 'validation_error', items: 2 },
      { category: 'cancelled', items: 1 },
      { category: 'invalid_request', items: 1 },
    ]);
    assert.deepEqual(stats.byFinishReason, [
      { finishReason: 'STOP', items: 4 },
      { finishReason: '(no answer)', items: 2 },
    ]);
    assert.deepEqual(stats.callsByOutcome, [
      { outcome: 'validation_error', calls: 4 },
      { outcome: 'ok', calls: 2 },
      { outcome: 'invalid_request', calls: 1 },
      { outcome: 'server_overload', calls: 1 },
    ]);
  });

  test('the most frequent errors, normalised, with example items', () => {
    const stats = report();
    assert.equal(stats.topErrors.length, 3);
    assert.deepEqual(stats.topErrors[0], {
      category: 'validation_error',
      message: 'score: expected number (got "x#")',
      count: 2,
      items: 2,
      exampleItemIds: ['c', 'f'],
      example: 'score: expected number (got "x9")',
    });
    assert.deepEqual(
      stats.topErrors.slice(1).map((group) => [group.category, group.message, group.count, group.exampleItemIds]),
      [
        ['invalid_request', 'Request # for item <item> rejected', 1, ['d']],
        ['cancelled', 'cancelled from the command line', 1, ['e']],
      ],
    );
    assert.equal(stats.topCallErrors.length, 3);
    assert.deepEqual(
      stats.topCallErrors.map((group) => [group.category, group.count, group.items, group.exampleItemIds]),
      [
        ['validation_error', 4, 3, ['b', 'c', 'f']],
        ['invalid_request', 1, 1, ['d']],
        ['server_overload', 1, 1, ['b']],
      ],
    );
  });

  test('tokens and cost by stage, model and call outcome; what retries and repairs cost', () => {
    const { spend } = report();
    assert.deepEqual(spend.total, {
      calls: 8,
      inputTokens: 460,
      outputTokens: 80,
      cachedTokens: 0,
      thoughtsTokens: 0,
      costUsd: 0.008,
      costShare: 1,
    });
    assert.equal(spend.byStage.length, 2);
    assert.deepEqual(
      spend.byStage.map((row) => [
        row.stage,
        row.mode,
        row.items,
        row.calls,
        row.inputTokens,
        row.costUsd,
        row.costShare,
      ]),
      [
        [1, 'full', 5, 6, 400, 0.007, 0.875],
        [2, 'partial', 2, 2, 60, 0.001, 0.125],
      ],
    );
    assert.deepEqual(
      spend.byModel.map((row) => [row.model, row.calls, row.costUsd]),
      [
        ['m1', 6, 0.007],
        ['m2', 2, 0.001],
      ],
    );
    assert.deepEqual(
      spend.byRole.map((row) => [
        row.role,
        row.calls,
        row.costUsd,
        row.outcomes.map((outcome) => [outcome.outcome, outcome.calls]),
      ]),
      [
        ['accepted', 2, 0.0015, [['ok', 2]]],
        ['rejected', 4, 0.0065, [['validation_error', 4]]],
        [
          'no_answer',
          2,
          0,
          [
            ['invalid_request', 1],
            ['server_overload', 1],
          ],
        ],
      ],
    );
    assert.deepEqual(spend.notAccepted, { calls: 6, costUsd: 0.0065, costShare: 0.8125 });
    assert.equal(spend.unpricedCalls, 0);
  });

  test('latency percentiles per stage (nearest rank), and of items', () => {
    const { latency } = report();
    assert.deepEqual(latency.all, { calls: 8, p50Ms: 150, p90Ms: 400, p99Ms: 400, maxMs: 400, meanMs: 185 });
    assert.equal(latency.byStage.length, 2);
    assert.deepEqual(latency.byStage[0], {
      stage: 1,
      calls: 6,
      p50Ms: 100,
      p90Ms: 200,
      p99Ms: 200,
      maxMs: 200,
      meanMs: 130,
    });
    assert.deepEqual(latency.byStage[1], {
      stage: 2,
      calls: 2,
      p50Ms: 300,
      p90Ms: 400,
      p99Ms: 400,
      maxMs: 400,
      meanMs: 350,
    });
    assert.deepEqual(latency.items, {
      calls: 6,
      p50Ms: 1_000,
      p90Ms: 30_000,
      p99Ms: 30_000,
      maxMs: 30_000,
      meanMs: 6_500,
    });
  });

  test('calls per item and the last stage reached', () => {
    const stats = report();
    assert.deepEqual(stats.callsPerItem, [
      { calls: 0, items: 1 },
      { calls: 1, items: 3 },
      { calls: 2, items: 1 },
      { calls: 3, items: 1 },
    ]);
    const called = buildReport(
      records().filter((record) => record.attempts.length > 0),
      { batchId: 'b', source: 'x' },
    );
    assert.deepEqual(called.callsPerItem[0], { calls: 1, items: 3 }, 'from the fewest calls an item made');
    assert.deepEqual(stats.stageReached, [
      { stage: 0, items: 1, succeeded: 0 },
      { stage: 1, items: 3, succeeded: 1 },
      { stage: 2, items: 2, succeeded: 1 },
    ]);
  });

  test('throughput and error rate over time, bucketed by finish time', () => {
    const stats = report();
    assert.deepEqual(stats.window, { startedAt: at(0), finishedAt: at(70_000), durationMs: 70_000 });
    assert.equal(stats.itemsPerMinute, (6 * 60_000) / 70_000);
    assert.equal(stats.timeline.bucketMs, 5_000);
    const buckets = stats.timeline.buckets;
    assert.equal(buckets.length, 14);
    const busy = buckets.flatMap((bucket, index) =>
      bucket.finished > 0
        ? [[index, bucket.finished, bucket.unsuccessful, bucket.itemsPerMinute, bucket.errorRate]]
        : [],
    );
    assert.deepEqual(busy, [
      [0, 1, 0, 12, 0],
      [6, 1, 0, 12, 0],
      [13, 4, 4, 48, 1],
    ]);
    assert.equal(buckets[13]?.start, at(65_000));
    assert.equal(
      buckets.reduce((sum, bucket) => sum + bucket.calls, 0),
      8,
    );
    assert.equal(
      buckets.reduce((sum, bucket) => sum + bucket.callErrors, 0),
      6,
    );
  });

  test('no records: zeros, no timeline', () => {
    const stats = buildReport([], { batchId: 'b', source: 'x' });
    assert.equal(stats.items, 0);
    assert.deepEqual(stats.window, { startedAt: null, finishedAt: null, durationMs: 0 });
    assert.deepEqual(stats.timeline, { bucketMs: 0, buckets: [] });
    assert.deepEqual(stats.callsPerItem, []);
    assert.match(renderTerminal(stats), /No item has a record yet/);
  });
});

describe('report helpers', () => {
  test('normaliseMessage collapses numbers, ids, uuids and the item id', () => {
    assert.equal(normaliseMessage('retry in 12.5s (request 7f3a9c01b2)'), 'retry in #s (request <id>)');
    assert.equal(
      normaliseMessage('item r-17 failed: 4c1a7e2e-0f0e-4b8a-9d61-2b8e1f0f6a11', 'r-17'),
      'item <item> failed: <uuid>',
    );
    assert.equal(normaliseMessage('  two\n lines  '), 'two lines');
    assert.equal(normaliseMessage('x'.repeat(300)).length, 240);
  });

  test('percentile is nearest rank', () => {
    assert.equal(percentile([], 50), 0);
    assert.equal(percentile([5], 99), 5);
    assert.equal(percentile([1, 2, 3, 4], 50), 2);
    assert.equal(percentile([1, 2, 3, 4], 51), 3);
    assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90), 9);
  });

  test('bucketSizeFor picks the smallest round bucket within 30 buckets', () => {
    assert.equal(bucketSizeFor(0), 1_000);
    assert.equal(bucketSizeFor(30_000), 1_000);
    assert.equal(bucketSizeFor(30_001), 2_000);
    assert.equal(bucketSizeFor(120_000), 5_000);
    assert.equal(bucketSizeFor(3_600_000), 120_000);
  });
});

describe('rendering', () => {
  /** Records whose ids and messages try to inject markup. */
  function hostile(): ItemResult[] {
    const list = records();
    const d = list[3] as ItemResult;
    d.itemId = '<script>alert("id")</script>';
    d.error = { category: 'invalid_request', message: 'bad <img src=x onerror=alert(1)> & "quoted"' };
    const first = d.attempts[0] as AttemptRecord;
    first.message = d.error.message;
    first.model = '<b>model</b>';
    return list;
  }

  test('the terminal tables fit 100 columns', () => {
    const text = renderTerminal(report());
    const lines = text.split('\n');
    assert.ok(lines.length > 40, text);
    const wide = lines.filter((line) => [...line].length > TERMINAL_WIDTH && !line.includes('records: '));
    assert.deepEqual(wide, []);
    assert.match(text, /Items by status\n {2}status +items +share\n {2}succeeded +2 +33\.3%/);
    assert.match(text, /\n {2}all +6 +8 +460 +80 +\$0\.008 +100%\n/);
    assert.match(
      text,
      /Retries and repairs \(calls whose answer was not kept\): 6 calls, \$0\.0065, 81\.3% of the cost\./,
    );
  });

  test('the HTML escapes ids, messages and model names, and has no script, link or remote URL', () => {
    const html = renderHtml(buildReport(hostile(), { batchId: 'b', source: 'x' }));
    assert.ok(!/<script|<img|<b>model|onerror=alert\(1\)>/i.test(html), 'no markup from the records');
    assert.ok(html.includes('&#60;script&#62;alert(&#34;id&#34;)&#60;/script&#62;'), 'the id, escaped');
    assert.ok(html.includes('bad &#60;img src=x onerror=alert(#)&#62; &#38; &#34;quoted&#34;'), 'the message, escaped');
    assert.ok(html.includes('&#60;b&#62;model&#60;/b&#62;'), 'the model, escaped');
    assert.ok(!/<link|@import|url\(|src=["']?https?:|href=["']?https?:/i.test(html), 'nothing fetched at view time');
    assert.equal(escapeHtml(`<a href='x'>"&"</a>`), '&#60;a href=&#39;x&#39;&#62;&#34;&#38;&#34;&#60;/a&#62;');
  });

  test('the HTML carries the numbers and one chart per figure', () => {
    const html = renderHtml(report());
    const kpi = (key: string) =>
      new RegExp(`data-key="${key}"><div class="kpi-label">[^<]*</div><div class="kpi-value">([^<]*)<`).exec(html)?.[1];
    assert.equal(kpi('items'), '6');
    assert.equal(kpi('succeeded'), '33.3%');
    assert.equal(kpi('calls'), '8');
    assert.equal(kpi('cost'), '$0.008');
    const charts = html.match(/<svg /g) ?? [];
    assert.equal(charts.length, 12);
    assert.match(html, /<table class="errors" id="top-errors">/);
  });
});
