import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { FileResultStore } from '../../src/results';
import { hashOf, ResultLineIndex } from '../../src/results-line-index';
import { sampleResult } from '../helpers/result-records';

/** Two different ids with the same 32-bit hash (found once by trying `c0`, `c1`, …; a test checks they still collide). */
const collidingIds = (): [string, string] => ['c693596', 'c1170850'];

/** An index over `ids` as lines 0, 1, 2, … of a file, and the reader of that "file". */
function indexOf(ids: readonly string[]): { index: ResultLineIndex; idAt: (offset: number) => string | undefined } {
  const index = new ResultLineIndex(16);
  ids.forEach((id, line) => index.add(id, line));
  return { index, idAt: (offset) => ids[offset] };
}

function resultsLines(store: FileResultStore, batchId: string): string[] {
  return readFileSync(store.resultsFile(batchId), 'utf8').trimEnd().split('\n');
}

describe('the results line index', () => {
  test('finds every id added, through many growths, and none that was not', () => {
    const ids = Array.from({ length: 50_000 }, (_, number) => `r${number}`);
    const { index, idAt } = indexOf(ids);
    assert.equal(index.size, 50_000);
    assert.ok(
      ids.every((id) => index.has(id, idAt)),
      'every added id is found',
    );
    assert.ok(!index.has('r50000', idAt) && !index.has('', idAt) && !index.has('R1', idAt));
  });

  test('costs at most 32 bytes an item at any size, however long the ids', () => {
    const { index } = indexOf(Array.from({ length: 100_000 }, (_, number) => `ticket-${number}-${'x'.repeat(40)}`));
    assert.ok(index.bytes / index.size <= 32, `${index.bytes / index.size} bytes an item`);
  });

  test('two ids with the same hash are told apart by the line the file holds', () => {
    const [first, second] = collidingIds();
    assert.equal(hashOf(first), hashOf(second));
    const { index, idAt } = indexOf([first]);
    assert.ok(index.has(first, idAt));
    assert.ok(!index.has(second, idAt), 'an id whose hash matches another line is not taken for it');
    index.add(second, 1);
    assert.ok(indexOf([first, second]).index.has(second, (offset) => [first, second][offset]));
  });

  test('an id on two lines (a file edited by hand) is found at its first line, as readers take it', () => {
    const { index, idAt } = indexOf(['a', 'b', 'a']);
    assert.equal(index.offsetOf('a', idAt), 0);
    assert.equal(index.offsetOf('b', idAt), 1);
  });

  test('clear forgets every line', () => {
    const { index, idAt } = indexOf(['a', 'b']);
    index.clear();
    assert.equal(index.size, 0);
    assert.ok(!index.has('a', idAt));
  });
});

describe('the results file writer, deduplicating through the index', () => {
  test('a re-delivered result adds no line, in the same writer and in a restarted one', async () => {
    const directory = mkdtempSync(path.join(os.tmpdir(), 'batch-llm-line-index-'));
    const writer = new FileResultStore(directory);
    for (let index = 0; index < 1000; index += 1) await writer.write(sampleResult('b', index, 'first'));
    assert.equal((await writer.writeMany('b', [sampleResult('b', 7, 'again')])).added, 0);

    const inSameWriter = await writer.write(sampleResult('b', 500, 'again'));
    assert.match(JSON.stringify(inSameWriter.kept), /first/, 'the stored record is handed back');

    const restarted = new FileResultStore(directory);
    const again = await restarted.write(sampleResult('b', 999, 'after restart'));
    assert.match(JSON.stringify(again.kept), /first/, 'the first record stays and is handed back');
    assert.equal((await restarted.writeMany('b', [sampleResult('b', 1000, 'new')])).added, 1);
    assert.equal(resultsLines(restarted, 'b').length, 1001);
  });

  test('items whose ids share a hash, or are longer than a line head, are each written once', async () => {
    const directory = mkdtempSync(path.join(os.tmpdir(), 'batch-llm-line-index-'));
    const writer = new FileResultStore(directory);
    const [first, second] = collidingIds();
    const long = `long-${'x'.repeat(6000)}`;
    const records = [first, second, long].map((itemId, index) => ({ ...sampleResult('c', index, ''), itemId }));
    for (const record of records) await writer.write(record);
    for (const record of records) {
      const again = await new FileResultStore(directory).write({ ...record, finishedAt: 'later' });
      assert.equal(again.kept?.itemId, record.itemId, 'the record kept is the one of this item');
      assert.notEqual(again.kept?.finishedAt, 'later');
    }
    assert.deepEqual(
      resultsLines(writer, 'c').map((line) => (JSON.parse(line) as { itemId: string }).itemId),
      [first, second, long],
    );
  });
});
