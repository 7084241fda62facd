import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { findDuplicateIds, InputError, itemsFromRecords, parseJsonlItems } from '../../src/input';

function problemsOf(run: () => unknown): InputError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof InputError, `expected InputError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected an InputError');
}

describe('JSONL input', () => {
  test('items keep input order, integer ids become strings, blank lines are skipped but counted', () => {
    const parsed = parseJsonlItems('{"id":"a","x":1}\n\n{"id":7}\r\n', 'in.jsonl');
    assert.deepEqual(
      parsed.items.map((item) => [item.id, item.index]),
      [
        ['a', 0],
        ['7', 1],
      ],
    );
    assert.deepEqual(parsed.lines, [1, 3]);
    assert.deepEqual(parsed.items[0]?.data, { id: 'a', x: 1 });
  });

  test('a malformed line is named by its line number, with every other problem', () => {
    const error = problemsOf(() =>
      parseJsonlItems('{"id":"a"}\n{"id": "b",\n[1,2]\n{"name":"no id"}\n{"id": 1.5}', 'bad.jsonl'),
    );
    assert.deepEqual(
      error.problems.map((problem) => problem.line),
      [2, 3, 4, 5],
    );
    assert.match(error.message, /bad\.jsonl/);
    assert.match(error.message, /line 2: not valid JSON/);
    assert.match(error.message, /line 3: each line must be a JSON object/);
    assert.match(error.message, /line 4, field "id": missing "id"/);
    assert.match(error.message, /line 5, field "id": id must be a string or an integer/);
    assert.match(error.message, /nothing was started/);
  });

  test('duplicate ids name both lines', () => {
    const error = problemsOf(() => parseJsonlItems('{"id":"a"}\n{"id":"b"}\n{"id":"a"}', 'dup.jsonl'));
    assert.equal(error.problems.length, 1);
    assert.match(error.message, /line 3, item "a": duplicate id \(first seen on line 1\)/);
  });

  test('an empty input is an error, not an empty batch', () => {
    problemsOf(() => parseJsonlItems('\n\n', 'empty.jsonl'));
  });

  test('ids with control characters or over 256 characters are refused', () => {
    problemsOf(() => parseJsonlItems(JSON.stringify({ id: 'a\u0001b' }), 'ctl.jsonl'));
    problemsOf(() => parseJsonlItems(JSON.stringify({ id: 'x'.repeat(257) }), 'long.jsonl'));
  });

  test('inline records follow the same rules', () => {
    assert.deepEqual(
      itemsFromRecords([{ id: 'a' }, { id: 'b' }]).map((item) => item.id),
      ['a', 'b'],
    );
    const error = problemsOf(() => itemsFromRecords([{ id: 'a' }, { id: 'a' }]));
    assert.match(error.message, /inline items/);
  });

  test('findDuplicateIds reports positions of repeated ids', () => {
    assert.deepEqual(findDuplicateIds([{ id: 'a' }, { id: 'b' }]), []);
    assert.equal(
      findDuplicateIds([{ id: 'a' }, { id: 'b' }, { id: 'a' }])[0]?.message,
      'duplicate id (items[0] and items[2])',
    );
  });
});
