import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { FileResultStore } from '../../src/results';
import type { BatchProgress } from '../../src/schemas';
import { runBatch } from '../helpers/batch';
import { uniqueName, useStackWithWorker, type TestStack } from '../helpers/stack';

/** A JSONL input file of `count` records, so the batch reads it by page (nothing inline). */
function inputFileOf(count: number): string {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'can-input-')), 'items.jsonl');
  writeFileSync(
    file,
    Array.from({ length: count }, (_, index) => JSON.stringify({ id: `r${index}`, n: index })).join('\n') + '\n',
  );
  return file;
}

const finishedOf = (progress: BatchProgress) =>
  progress.succeeded +
  progress.failed +
  progress.blocked +
  progress.filtered +
  progress.cancelled +
  progress.deadline_exceeded;

describe('a batch continues as new to keep every history bounded', () => {
  let stack!: TestStack;
  const taskQueue = useStackWithWorker((started) => (stack = started), { latency: { baseMs: 5, jitterMs: 5 } });

  test('2,000 items, 600 events a run: several runs, exact counts, progress monotonic, controls carried across runs', async () => {
    const total = 2_000;
    const eventsPerRun = 600;
    const concurrency = 40;
    const batchId = uniqueName('can');
    const batchClient = stack.batchClient(taskQueue);
    await batchClient.start({
      taskName: 'test-echo',
      batchId,
      inputFile: inputFileOf(total),
      concurrency,
      historyEventsPerRun: eventsPerRun,
      options: { maxModelCalls: 3 },
    });

    // Follow the progress query across the runs, changing concurrency on the way.
    const seen: BatchProgress[] = [];
    let concurrencyChanged = false;
    for (;;) {
      const progress = await batchClient.progress(batchId);
      seen.push(progress);
      if (!concurrencyChanged && finishedOf(progress) >= 300) {
        await batchClient.client.workflow.getHandle(batchId).executeUpdate('setConcurrency', { args: [25] });
        concurrencyChanged = true;
      }
      if (progress.done) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const summary = await batchClient.summary(batchId);

    assert.equal(summary.total, total);
    assert.equal(summary.succeeded, total);
    assert.equal(summary.pending + summary.running, 0);
    assert.equal(summary.modelCalls, total, 'one call per item: no item ran twice across the runs');
    assert.equal(summary.control.concurrency, 25, 'the concurrency set in an early run holds in the last one');
    // Queries answered while the first run still checks the input say total 0 (preparing); from
    // the first answer that knows the total, it stays the same in every run.
    const preparing = seen.findIndex((progress) => progress.total > 0);
    assert.ok(preparing >= 0, 'some progress knew the total');
    const counted = seen.slice(preparing);
    assert.ok(counted.length >= 2, `progress seen ${counted.length} times after preparing`);
    assert.equal(counted[0]?.total, total);
    for (let index = 1; index < counted.length; index += 1) {
      const [before, now] = [counted[index - 1]!, counted[index]!];
      assert.equal(now.total, total, 'total stays the same in every run');
      assert.ok(
        finishedOf(now) >= finishedOf(before),
        `finished went back from ${finishedOf(before)} to ${finishedOf(now)}`,
      );
      assert.ok(now.runs >= before.runs, 'runs never go back');
    }
    assert.ok(
      seen.some((progress) => progress.runs > 1 && !progress.done),
      'progress was answered by a continued run while items remained',
    );

    const runs: number[] = [];
    for await (const execution of stack.client.workflow.list({ query: `WorkflowId = "${batchId}"` }))
      runs.push(execution.historyLength);
    assert.ok(runs.length >= 5, `only ${runs.length} runs for ${total} items`);
    assert.equal(runs.length, summary.runs, 'the summary counts every run');
    // Past the threshold a run drains its items in flight: a few events each.
    const bound = eventsPerRun + concurrency * 5;
    assert.ok(
      runs.every((events) => events <= bound),
      `run histories ${runs.join(', ')} exceed ${bound} events`,
    );
    // Measured just before a run closes: its last few events (task completion, close) come after.
    assert.ok(
      Math.abs(summary.largestRunEvents - Math.max(...runs)) <= 5,
      `largest run ${summary.largestRunEvents} reported, ${Math.max(...runs)} measured`,
    );

    const results = await new FileResultStore(stack.resultsDirectory).readAll(batchId);
    assert.equal(results.length, total);
    assert.deepEqual(
      results.map((result) => result.index),
      Array.from({ length: total }, (_, index) => index),
      'one result per item, in input order',
    );
    console.log(
      `continue-as-new: ${total} items in ${summary.runs} runs (largest ${summary.largestRunEvents} events), ${summary.itemsPerSecond.toFixed(1)} items/s`,
    );
  });

  test('inline items: every run dispatches from the carried items, none twice, none lost', async () => {
    const total = 150;
    const records = Array.from({ length: total }, (_, index) => ({ id: `i${index}` }));
    const { summary, results } = await runBatch(stack, taskQueue, {
      batchId: uniqueName('can-inline'),
      records,
      concurrency: 10,
      historyEventsPerRun: 200,
    });
    assert.equal(summary.succeeded, total);
    assert.equal(summary.modelCalls, total);
    assert.ok(summary.runs >= 3, `${summary.runs} runs`);
    assert.deepEqual(
      results.map((result) => result.itemId),
      Array.from({ length: total }, (_, index) => `i${index}`),
    );
  });
});
