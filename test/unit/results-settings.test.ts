/**
 * Which results store the settings name (no database here), and the export's shaping: masking a
 * URL's password, the precedence of flags and variables, CSV quoting, dotted paths, the default
 * trimming of per-attempt ratings.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { batchLlmSettings, ConfigError, withoutPassword } from '../../src/config';
import { compactRecord, csvField, csvRecord, recordFormatter, valueAt } from '../../src/results-export';
import { resultStoreLocation } from '../../src/results-store';
import { sampleResult } from '../helpers/result-records';

describe('the results store setting', () => {
  test('a URL is shown without its password, whatever its shape', () => {
    const cases: Array<[string, string]> = [
      ['postgres://u:p@ss@h:5432/d', 'postgres://u:***@h:5432/d'],
      ['postgresql://u:pw@[::1]:5432/d', 'postgresql://u:***@[::1]:5432/d'],
      ['postgres://u@h/d', 'postgres://u@h/d'],
      ['postgres://h:5432/d', 'postgres://h:5432/d'],
      ['postgres://u:pw@h/d?sslmode=require&password=zz', 'postgres://u:***@h/d?sslmode=require&password=***'],
      ['postgres//u:pw@h/d', '***@h/d'],
      ['hunter2', '***'],
    ];
    assert.equal(cases.length, 7);
    for (const [url, shown] of cases) assert.equal(withoutPassword(url), shown);
  });

  test('BATCH_LLM_RESULTS_URL must be a PostgreSQL URL; the error names it and masks the password', () => {
    assert.equal(
      batchLlmSettings({ BATCH_LLM_RESULTS_URL: 'postgres://u:pw@db:5432/llm' }).BATCH_LLM_RESULTS_URL,
      'postgres://u:pw@db:5432/llm',
    );
    for (const bad of ['mysql://u:hunter2@db/llm', 'postgres//u:hunter2@db/llm', 'hunter2']) {
      assert.throws(
        () => batchLlmSettings({ BATCH_LLM_RESULTS_URL: bad }),
        (error: Error) =>
          error instanceof ConfigError &&
          /^BATCH_LLM_RESULTS_URL=.*: must be a PostgreSQL URL/.test(error.message) &&
          !error.message.includes('hunter2'),
      );
    }
  });

  test('flags over variables, one store at a time, the state directory last', () => {
    const url = 'postgres://u@db/llm';
    assert.deepEqual(resultStoreLocation({}, {}, 'state/results'), {
      kind: 'directory',
      directory: path.resolve('state/results'),
    });
    assert.deepEqual(resultStoreLocation({}, { BATCH_LLM_RESULTS_URL: url }, 'x'), { kind: 'postgres', url });
    assert.deepEqual(resultStoreLocation({ directory: 'd' }, { BATCH_LLM_RESULTS_URL: url }, 'x'), {
      kind: 'directory',
      directory: path.resolve('d'),
    });
    assert.deepEqual(resultStoreLocation({ url }, { BATCH_LLM_RESULTS_DIR: 'r' }, 'x'), { kind: 'postgres', url });
    assert.throws(
      () => resultStoreLocation({ url, directory: 'd' }, {}, 'x'),
      /--results-url or --results-dir, not both/,
    );
    assert.throws(
      () => resultStoreLocation({}, { BATCH_LLM_RESULTS_URL: url, BATCH_LLM_RESULTS_DIR: 'r' }, 'x'),
      /both BATCH_LLM_RESULTS_URL and BATCH_LLM_RESULTS_DIR are set/,
    );
  });
});

describe('shaping exported records', () => {
  test('CSV fields are quoted only when they must be (RFC 4180); objects become JSON', () => {
    const cases: Array<[unknown, string]> = [
      ['plain', 'plain'],
      ['a,b', '"a,b"'],
      ['say "hi"', '"say ""hi"""'],
      ['two\nlines', '"two\nlines"'],
      ['cr\r', '"cr\r"'],
      [12.5, '12.5'],
      [false, 'false'],
      [null, ''],
      [undefined, ''],
      [{ a: [1, 'x,y'] }, '"{""a"":[1,""x,y""]}"'],
    ];
    assert.equal(cases.length, 10);
    for (const [value, field] of cases) assert.equal(csvField(value), field, JSON.stringify(value));
    assert.equal(csvRecord(['a', 1, null]), 'a,1,\r\n');
  });

  test('dotted paths reach into objects and arrays; a missing step is undefined', () => {
    const record = { a: { b: [{ c: 1 }, { c: 2 }] }, 'x.y': 3 };
    assert.equal(valueAt(record, 'a.b.1.c'), 2);
    assert.deepEqual(valueAt(record, 'a.b.0'), { c: 1 });
    assert.equal(valueAt(record, 'a.b.c'), undefined);
    assert.equal(valueAt(record, 'a.z.c'), undefined);
    assert.equal(valueAt(record, 'toString'), undefined, 'no inherited properties');
  });

  test('the default drops each attempt’s ratings and its copy of usage, and nothing else', () => {
    const record = sampleResult('b', 3);
    const compact = compactRecord(record);
    assert.equal(compact.attempts.length, 1);
    assert.deepEqual(Object.keys(compact.attempts[0]?.metadata ?? {}).sort(), [
      'blockedCategories',
      'finishReason',
      'modelVersion',
      'responseId',
    ]);
    assert.deepEqual(compact.metadata, record.metadata, 'the item’s own metadata stays whole');
    assert.ok(record.attempts[0]?.metadata?.safetyRatings, 'the record itself is not changed');
    const differentUsage = {
      ...record,
      attempts: [{ ...record.attempts[0]!, usage: { ...record.usage, inputTokens: 1 } }],
    };
    assert.deepEqual(
      compactRecord(differentUsage).attempts[0]?.metadata?.usage,
      record.usage,
      'a usage that differs stays',
    );
    const full = recordFormatter({ format: 'jsonl', full: true }).line(record);
    assert.equal(full, `${JSON.stringify(record)}\n`);
  });
});
