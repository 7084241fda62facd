import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeSelection, latestRecords, selectedItemIds, selectsRecord } from '../../src/rerun';
import type { ItemResult } from '../../src/schemas';

const record = (batchId: string, itemId: string, status: ItemResult['status'], category?: string): ItemResult =>
  ({
    batchId,
    itemId,
    index: Number(itemId.slice(1)),
    status,
    ...(category ? { error: { category, message: category } } : {}),
  }) as ItemResult;

async function* stream<T>(values: T[]): AsyncGenerator<T> {
  for (const value of values) yield value;
}
async function collect<T>(values: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const value of values) all.push(value);
  return all;
}

describe('rerun selection and merging', () => {
  test('statuses, then categories (an item without an error has no category)', () => {
    const selection = { statuses: ['failed' as const, 'cancelled' as const] };
    assert.equal(selectsRecord(selection, record('b', 'r0', 'failed', 'server_error')), true);
    assert.equal(selectsRecord(selection, record('b', 'r0', 'cancelled')), true);
    assert.equal(selectsRecord(selection, record('b', 'r0', 'succeeded')), false);
    const byCategory = { ...selection, categories: ['quota_exhausted' as const] };
    assert.equal(selectsRecord(byCategory, record('b', 'r0', 'failed', 'quota_exhausted')), true);
    assert.equal(selectsRecord(byCategory, record('b', 'r0', 'failed', 'server_error')), false);
    assert.equal(selectsRecord(byCategory, record('b', 'r0', 'cancelled')), false);
  });

  test('selected ids come from the records; the selection reads as words', async () => {
    const records = [
      record('b', 'r0', 'succeeded'),
      record('b', 'r1', 'failed', 'timeout'),
      record('b', 'r2', 'blocked', 'safety_blocked'),
    ];
    const ids = await selectedItemIds(stream(records), { batchId: 'b', statuses: ['failed', 'blocked'] });
    assert.equal(ids.size, 2);
    assert.deepEqual([...ids], ['r1', 'r2']);
    assert.equal(
      describeSelection({ batchId: 'b', statuses: ['failed'], categories: ['timeout'] }),
      'failed items (category timeout) of batch "b"',
    );
  });

  test('latest: each item from the newest batch that has it, in the origin order', async () => {
    const origin = [
      record('o', 'r0', 'succeeded'),
      record('o', 'r1', 'failed', 'x'),
      record('o', 'r2', 'failed', 'x'),
      record('o', 'r3', 'cancelled'),
    ];
    const first = [
      record('o-rerun-1', 'r1', 'succeeded'),
      record('o-rerun-1', 'r2', 'failed', 'y'),
      record('o-rerun-1', 'r3', 'succeeded'),
    ];
    const second = [record('o-rerun-2', 'r2', 'succeeded')];
    const merged = await collect(latestRecords(stream(origin), [stream(first), stream(second)]));
    assert.equal(merged.length, 4);
    assert.deepEqual(
      merged.map((result) => [result.itemId, result.batchId, result.status]),
      [
        ['r0', 'o', 'succeeded'],
        ['r1', 'o-rerun-1', 'succeeded'],
        ['r2', 'o-rerun-2', 'succeeded'],
        ['r3', 'o-rerun-1', 'succeeded'],
      ],
    );
  });
});
