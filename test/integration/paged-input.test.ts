import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { BatchSummary } from '../../src/schemas';
import { FileResultStore } from '../../src/results';
import { parseJsonlItems } from '../../src/input';
import { prepareBatchInput, readInputPage } from '../../activities/batch-input';
import { createTaskRegistry } from '../../src/tasks/registry';
import { useStackWithWorker, uniqueName, type TestStack } from '../helpers/stack';

describe('a big input file is read page by page', () => {
  let stack!: TestStack;
  const taskQueue = useStackWithWorker((started) => (stack = started));

  test('a page read from its own bytes is exactly that slice of the whole file, blank lines, CRLF and non-ASCII text included', async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'batch-llm-pages-')), 'items.jsonl');
    const lines = Array.from({ length: 23 }, (_, index) =>
      JSON.stringify({ id: `q${index}`, text: index % 3 === 0 ? `café ☕ ${index}` : `plain ${index}` }),
    );
    // Blank lines of every kind the whole-file parser skips: empty, spaces and tabs, a no-break space.
    const text =
      ['', ...lines.slice(0, 5), '   \t', ...lines.slice(5, 12), '\u00a0', '', ...lines.slice(12)].join('\r\n') +
      '\n\n';
    writeFileSync(file, text);
    const whole = parseJsonlItems(text, file).items;
    const tasks = await createTaskRegistry([path.join(__dirname, '..', 'fixtures', 'tasks.ts')]);
    const prepared = await prepareBatchInput(
      { batchId: 'b', taskName: 'test-echo', inputFile: file, pageSize: 5 },
      tasks,
      'gemini-test-model',
    );
    assert.equal(prepared.itemCount, 23);
    for (const limit of [1, 5, 7, 23, 40]) {
      const pages = [];
      for (let offset = 0; offset < 23; offset += limit)
        pages.push(...(await readInputPage({ inputFile: file, inputVersion: prepared.inputVersion!, offset, limit })));
      assert.deepEqual(pages, whole, `pages of ${limit}`);
    }
    assert.deepEqual(
      await readInputPage({ inputFile: file, inputVersion: prepared.inputVersion!, offset: 23, limit: 5 }),
      [],
      'past the end: an empty page',
    );
    await assert.rejects(
      readInputPage({ inputFile: file, inputVersion: 'stale', offset: 0, limit: 5 }),
      /changed after the batch checked it/,
    );
  });

  test('35 items with a page size of 10: four page reads, every item once, in input order', async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'batch-llm-paged-')), 'items.jsonl');
    const ids = Array.from({ length: 35 }, (_, index) => `p${String(index).padStart(2, '0')}`);
    writeFileSync(file, ids.map((id) => JSON.stringify({ id })).join('\n'));
    const batchId = uniqueName('paged');
    const handle = await stack.client.workflow.start('batchWorkflow', {
      workflowId: batchId,
      taskQueue,
      args: [{ batchId, taskName: 'test-echo', inputFile: file, inputPageSize: 10, concurrency: 8 }],
    });
    const summary = (await handle.result()) as BatchSummary;
    assert.equal(summary.succeeded, 35);
    const history = await handle.fetchHistory();
    const pageReads = (history.events ?? []).filter(
      (event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'readInputPage',
    );
    assert.equal(pageReads.length, 4);
    const prepared = (history.events ?? []).filter(
      (event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'prepareBatch',
    );
    assert.equal(prepared.length, 1);
    const results = await new FileResultStore(stack.resultsDirectory).readAll(batchId);
    assert.deepEqual(
      results.map((result) => result.itemId),
      ids,
    );
  });
});
