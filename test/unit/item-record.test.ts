import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CallModelOutput } from '../../activities';
import { itemRecord, validFirstAnswerRecord, type FinishIfValid } from '../../src/item-record';
import { priceFor } from '../../src/pricing';
import { emptyUsage } from '../../src/usage';

const usage = { ...emptyUsage(), inputTokens: 1_000, outputTokens: 200 };
const metadata = { safetyRatings: {}, blockedCategories: [], usage };
const finish: FinishIfValid = {
  index: 7,
  itemModel: 'gemini-2.5-flash',
  itemStartedAt: '2026-12-02T10:00:00.000Z',
  attempt: {
    callsBefore: 0,
    stage: 1,
    mode: 'full',
    model: 'gemini-2.5-flash',
    temperature: 0,
    startedAt: '2026-12-02T10:00:00.100Z',
    price: priceFor('gemini-2.5-flash'),
  },
};
const answer = (extra: Partial<CallModelOutput> = {}) =>
  ({
    kind: 'ok',
    output: { label: 'x' },
    usage,
    metadata,
    activityAttempt: 1,
    previousFailures: [],
    startedAt: '2026-12-02T10:00:00.200Z',
    durationMs: 800,
    ...extra,
  }) as CallModelOutput & { kind: 'ok' };

describe("an item's record, as its workflow and its call build it", () => {
  test('a valid first answer: succeeded, one priced attempt, the item timed from its workflow start', () => {
    const record = validFirstAnswerRecord({ batchId: 'b', itemId: 'i7' }, finish, answer(), '2026-12-02T10:00:01.500Z');
    assert.equal(record.status, 'succeeded');
    assert.deepEqual(record.output, { label: 'x' });
    assert.equal(record.index, 7);
    assert.equal(record.modelCalls, 1);
    assert.equal(record.durationMs, 1_500);
    assert.equal(record.attempts.length, 1);
    assert.deepEqual(
      [record.attempts[0]?.call, record.attempts[0]?.outcome, record.attempts[0]?.startedAt],
      [1, 'ok', '2026-12-02T10:00:00.200Z'],
    );
    // 1,000 input tokens at $0.30/M and 200 output at $2.50/M.
    assert.equal(record.costUsd, 0.0008);
    assert.equal(record.attempts[0]?.costUsd, 0.0008);
  });

  test('requests lost before the answer are attempts too, and count as model calls', () => {
    const record = validFirstAnswerRecord(
      { batchId: 'b', itemId: 'i7' },
      finish,
      answer({
        activityAttempt: 2,
        previousFailures: [{ attempt: 1, category: 'lost_in_crash', message: 'lost', durationMs: 0 }],
      }),
      '2026-12-02T10:00:01.500Z',
    );
    assert.equal(record.modelCalls, 2);
    assert.deepEqual(
      record.attempts.map((attempt) => [attempt.call, attempt.outcome, attempt.costUsd]),
      [
        [1, 'lost_in_crash', 0],
        [2, 'ok', 0.0008],
      ],
    );
  });

  test('a valid answer over the safety thresholds is filtered, with the ratings that filtered it', () => {
    const filteredBy = [{ category: 'HARM_CATEGORY_HARASSMENT', probability: 'HIGH', threshold: 'MEDIUM' }];
    const record = validFirstAnswerRecord(
      { batchId: 'b', itemId: 'i7' },
      finish,
      answer({ filteredBy } as Partial<CallModelOutput>),
      '2026-12-02T10:00:01.500Z',
    );
    assert.equal(record.status, 'filtered');
    assert.deepEqual(record.filteredBy, filteredBy);
  });

  test("a failed item's record carries its error and no output, and costs what its attempts cost", () => {
    const record = itemRecord({
      batchId: 'b',
      itemId: 'i7',
      index: 7,
      model: 'm',
      status: 'failed',
      error: { category: 'validation_error', message: 'label: expected string' },
      usage: emptyUsage(),
      modelCalls: 0,
      attempts: [],
      startedAt: '2026-12-02T10:00:00.000Z',
      finishedAt: '2026-12-02T10:00:00.250Z',
    });
    assert.deepEqual(
      [record.status, record.error?.category, 'output' in record, record.costUsd, record.durationMs],
      ['failed', 'validation_error', false, 0, 250],
    );
  });
});
