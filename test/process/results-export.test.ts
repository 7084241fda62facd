/**
 * `batch-llm results` for data work, through the bin: the default leaves out per-attempt safety
 * ratings (smaller lines; `--full` is the stored line), CSV (RFC 4180), `--fields`, status and
 * category filters, and `--with-input` joining each item's input record back (inline items, or an
 * input file read from disk; a clear error when the file is not there).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FileResultStore } from '../../src/results';
import { DEFAULT_CSV_FIELDS } from '../../src/results-export';
import type { ItemResult } from '../../src/schemas';
import { runCli, type CliRun } from '../helpers/cli';
import { sampleResult, sampleResultWithStatus } from '../helpers/result-records';
import { startTestStack, uniqueName, type TestStack } from '../helpers/stack';

/** RFC 4180 records: quoted fields may hold commas, doubled quotes and line breaks; records end with CRLF. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let at = 0; at < text.length; at++) {
    const char = text[at];
    if (quoted) {
      if (char === '"' && text[at + 1] === '"') {
        field += '"';
        at++;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      row.push(field);
      field = '';
    } else if (char === '\r' && text[at + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      at++;
    } else field += char;
  }
  assert.equal(field + row.join(''), '', 'the text ends with a whole record');
  return rows;
}

const lines = (run: CliRun) => {
  assert.equal(run.code, 0, run.stderr);
  return run.stdout.split('\n').filter(Boolean);
};

const TOTAL = 40;
/** Item n: failed every 10th (a validation_error every 20th), blocked every 10th + 1, else succeeded. */
const statusOf = (index: number): ItemResult['status'] =>
  index % 10 === 0 ? 'failed' : index % 10 === 1 ? 'blocked' : 'succeeded';
const HOSTILE = 'says "hi", then\nbreaks the line';

describe('results for data work, through the bin', () => {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'batch-llm-export-'));
  const store = new FileResultStore(directory);
  const results = (batchId: string, extra: string[], env: Record<string, string> = {}) =>
    runCli(['results', batchId, '--results-dir', directory, ...extra], env);

  before(async () => {
    await store.writeMany(
      'export',
      Array.from({ length: TOTAL }, (_, index) => sampleResultWithStatus('export', index, statusOf(index), HOSTILE)),
    );
  });
  after(() => rmSync(directory, { recursive: true, force: true }));

  test('by default each attempt’s safety ratings (and its copy of usage) are left out; --full is the stored line', async () => {
    const full = lines(await results('export', ['--full']));
    assert.equal(full.length, TOTAL);
    assert.equal(`${full.join('\n')}\n`, readFileSync(store.resultsFile('export'), 'utf8'));
    const compact = lines(await results('export', []));
    assert.equal(compact.length, TOTAL);
    for (const [position, line] of compact.entries()) {
      const record = JSON.parse(line) as ItemResult;
      const stored = JSON.parse(full[position] ?? '') as ItemResult;
      assert.equal(record.attempts.length, 1);
      assert.equal(record.attempts[0]?.metadata?.safetyRatings, undefined, 'no per-attempt ratings');
      assert.equal(record.attempts[0]?.metadata?.usage, undefined, 'no copy of the attempt’s usage');
      assert.deepEqual(record.attempts[0]?.usage, stored.attempts[0]?.usage);
      assert.equal(record.attempts[0]?.metadata?.responseId, stored.attempts[0]?.metadata?.responseId);
      assert.deepEqual(record.metadata?.safetyRatings, stored.metadata?.safetyRatings, 'the item’s own ratings stay');
      const { attempts: _a, ...rest } = record;
      const { attempts: _b, ...storedRest } = stored;
      assert.deepEqual(rest, storedRest, 'nothing else changes');
    }
    const perLine = (all: string[]) => Math.round(all.reduce((sum, line) => sum + line.length + 1, 0) / all.length);
    assert.ok(perLine(compact) < perLine(full) - 200, `${perLine(compact)} vs ${perLine(full)} bytes per line`);
    console.log(`results export: ${perLine(full)} bytes per line with --full, ${perLine(compact)} by default`);
  });

  test('--format csv: a header, one RFC 4180 record per item; nested values as JSON', async () => {
    const run = await results('export', ['--format', 'csv']);
    assert.equal(run.code, 0, run.stderr);
    const rows = parseCsv(run.stdout);
    assert.equal(rows.length, TOTAL + 1);
    assert.deepEqual(rows[0], [...DEFAULT_CSV_FIELDS]);
    const column = (name: string) => DEFAULT_CSV_FIELDS.indexOf(name as (typeof DEFAULT_CSV_FIELDS)[number]);
    for (const [position, row] of rows.slice(1).entries()) {
      assert.equal(row.length, DEFAULT_CSV_FIELDS.length);
      assert.equal(row[column('itemId')], `item-${position}`);
      assert.equal(row[column('status')], statusOf(position));
      if (statusOf(position) === 'succeeded') {
        const output = JSON.parse(row[column('output')] ?? '') as { summary: string };
        assert.ok(output.summary.endsWith(HOSTILE), 'quotes, commas and line breaks survive');
        assert.equal(row[column('error.category')], '');
      } else assert.equal(row[column('output')], '');
    }
    assert.equal(rows[1]?.[column('usage.inputTokens')], String(sampleResult('export', 0).usage.inputTokens));
  });

  test('--fields picks dotted paths: JSONL keys are the paths (null when absent), CSV columns likewise', async () => {
    const fields = 'itemId,status,output.title,error.category,attempts.0.durationMs';
    const jsonl = lines(await results('export', ['--fields', fields]));
    assert.equal(jsonl.length, TOTAL);
    assert.deepEqual(JSON.parse(jsonl[0] ?? ''), {
      itemId: 'item-0',
      status: 'failed',
      'output.title': null,
      'error.category': 'validation_error',
      'attempts.0.durationMs': 812,
    });
    assert.deepEqual(JSON.parse(jsonl[2] ?? ''), {
      itemId: 'item-2',
      status: 'succeeded',
      'output.title': 'Product 2 — stainless steel kettle, 1.7 l',
      'error.category': null,
      'attempts.0.durationMs': 812,
    });
    const csv = parseCsv((await results('export', ['--fields', fields, '--format', 'csv'])).stdout);
    assert.equal(csv.length, TOTAL + 1);
    assert.deepEqual(csv[0], fields.split(','));
    assert.deepEqual(csv[1], ['item-0', 'failed', '', 'validation_error', '812']);
  });

  test('--status and --category select items; no match is an empty export, not an error', async () => {
    const ids = async (extra: string[]) =>
      lines(await results('export', ['--fields', 'itemId', ...extra])).map(
        (line) => (JSON.parse(line) as { itemId: string }).itemId,
      );
    const failed = await ids(['--status', 'failed']);
    assert.equal(failed.length, TOTAL / 10);
    assert.deepEqual(failed, ['item-0', 'item-10', 'item-20', 'item-30']);
    const notSucceeded = await ids(['--status', 'failed,blocked', '--order', 'finish']);
    assert.equal(notSucceeded.length, (TOTAL / 10) * 2);
    assert.deepEqual(await ids(['--category', 'validation_error']), ['item-0', 'item-20']);
    assert.deepEqual(await ids(['--status', 'failed', '--category', 'server_error']), ['item-10', 'item-30']);
    const none = await results('export', ['--status', 'cancelled', '--format', 'csv', '--fields', 'itemId']);
    assert.equal(none.code, 0, none.stderr);
    assert.equal(none.stdout, 'itemId\r\n', 'a CSV of no items is its header');
  });

  test('bad flags are usage errors naming the flag', async () => {
    for (const [extra, named] of [
      [['--format', 'xml'], /--format must be one of jsonl, csv/],
      [['--status', 'failed,nope'], /--status must be one of succeeded, failed/],
      [['--category', 'oops'], /--category must be one of rate_limit/],
      [['--fields', 'a..b'], /--fields must be field names or dotted paths/],
      [['--fields', 'itemId,input.name'], /input fields need --with-input/],
      [['--status', ','], /--status: give at least one value/],
    ] as const) {
      const run = await results('export', [...extra]);
      assert.equal(run.code, 2, `${extra.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, named);
    }
  });

  describe('--with-input (the batch’s input, from Temporal and this machine’s disk)', () => {
    let stack: TestStack;
    const work = mkdtempSync(path.join(os.tmpdir(), 'batch-llm-with-input-'));
    before(async () => {
      stack = await startTestStack();
    });
    after(async () => {
      await stack?.teardown();
      rmSync(work, { recursive: true, force: true });
    });

    /** Starts a batch no worker serves (its start is all --with-input reads) and stores results for its items. */
    async function batchWithResults(count: number, input: { records: unknown[] } | { inputFile: string }) {
      const batchId = uniqueName('with-input');
      await stack.batchClient(uniqueName('no-worker')).start({ taskName: 'test-echo', batchId, ...input });
      const finishOrder = Array.from({ length: count }, (_, index) => index).reverse();
      await store.writeMany(
        batchId,
        finishOrder.map((index) => sampleResultWithStatus(batchId, index, statusOf(index))),
      );
      return batchId;
    }
    const joined = async (batchId: string, extra: string[]) =>
      lines(await results(batchId, ['--with-input', '--address', stack.address, ...extra])).map(
        (line) => JSON.parse(line) as Record<string, unknown>,
      );

    test('inline items: each line carries its input record', async () => {
      const records = Array.from({ length: 12 }, (_, index) => ({ id: `item-${index}`, name: `name ${index}` }));
      const batchId = await batchWithResults(12, { records });
      const all = await joined(batchId, []);
      assert.equal(all.length, 12);
      for (const [index, line] of all.entries()) {
        assert.equal(line['itemId'], `item-${index}`);
        assert.deepEqual(line['input'], records[index]);
      }
      const picked = await joined(batchId, ['--fields', 'itemId,input.name', '--status', 'failed']);
      assert.deepEqual(picked, [
        { itemId: 'item-0', 'input.name': 'name 0' },
        { itemId: 'item-10', 'input.name': 'name 10' },
      ]);
    });

    test('an input file (too big to travel inline) is read from disk, in either order; a missing file is a clear error', async () => {
      const count = 2500;
      const inputFile = path.join(work, 'big.jsonl');
      // Blank lines do not count as items; each record is ~150 bytes, so the file (~370 KB) stays a file.
      const text = Array.from(
        { length: count },
        (_, index) =>
          `${JSON.stringify({ id: `item-${index}`, text: `${'x'.repeat(120)} ${index}` })}\n${index % 7 === 0 ? '\n' : ''}`,
      ).join('');
      writeFileSync(inputFile, text);
      const batchId = await batchWithResults(count, { inputFile });
      const inInputOrder = await joined(batchId, ['--fields', 'itemId,input.id,input.text']);
      assert.equal(inInputOrder.length, count);
      for (const [index, line] of inInputOrder.entries()) {
        assert.equal(line['itemId'], `item-${index}`);
        assert.equal(line['input.id'], `item-${index}`);
        assert.ok(String(line['input.text']).endsWith(` ${index}`));
      }
      const csv = parseCsv(
        (
          await results(batchId, [
            '--with-input',
            '--address',
            stack.address,
            '--order',
            'finish',
            '--format',
            'csv',
            '--fields',
            'itemId,input.id',
          ])
        ).stdout,
      );
      assert.equal(csv.length, count + 1);
      assert.ok(csv.slice(1).every((row) => row[0] === row[1]));
      assert.equal(csv[1]?.[0], `item-${count - 1}`, 'finish order (written last to first)');

      renameSync(inputFile, `${inputFile}.moved`);
      const missing = await results(batchId, ['--with-input', '--address', stack.address]);
      assert.equal(missing.code, 1);
      assert.match(
        missing.stderr,
        /--with-input: the input file of batch ".*", .*big\.jsonl, is not readable from this machine \(ENOENT\)/,
      );

      writeFileSync(inputFile, text.replace('"item-5"', '"item-five"'));
      const changed = await results(batchId, ['--with-input', '--address', stack.address]);
      assert.equal(changed.code, 1);
      assert.match(changed.stderr, /no longer holds item "item-5" at position 5: the file changed/);
    });
  });
});
