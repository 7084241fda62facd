import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { BatchSummary } from '../src/schemas';
import { FileResultStore } from '../src/results';
import { useStackWithWorker, uniqueName, type TestStack } from './helpers/stack';

describe('a big input file is read page by page', () => {
  let stack!: TestStack;
  const taskQueue = useStackWithWorker((started) => (stack = started));

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
    const pageReads = (history.events ?? []).filter((event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'readInputPage');
    assert.equal(pageReads.length, 4);
    const prepared = (history.events ?? []).filter((event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'prepareBatch');
    assert.equal(prepared.length, 1);
    const results = await new FileResultStore(stack.resultsDirectory).readAll(batchId);
    assert.deepEqual(results.map((result) => result.itemId), ids);
  });
});
