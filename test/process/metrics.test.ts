import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import type { FaultRule } from '@durable-batch-llm/gemini-emulator';
import { runBatch, withFaults } from '../helpers/batch';
import { freePort } from '../helpers/ports';
import { startTestStack, uniqueName, type TestStack } from '../helpers/stack';

/**
 * The sum of the samples of `name` whose labels include all of `labels` (as `sum(…)` in PromQL:
 * a call run as a local activity and one run as a regular activity carry different task queues).
 */
function sample(metrics: string, name: string, labels: Record<string, string>): number | undefined {
  let sum: number | undefined;
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`)))
      sum = (sum ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

describe('Prometheus metrics from the worker', () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack();
  });
  after(async () => {
    await stack?.teardown();
  });

  test('items by status, model calls by outcome, tokens, and Temporal runtime metrics on the configured port', async () => {
    const port = await freePort();
    const taskQueue = uniqueName('tq');
    const worker = stack.spawnWorkerProcess(taskQueue, { BATCH_LLM_METRICS_PORT: String(port) });
    try {
      const batchId = uniqueName('metrics');
      const faults: FaultRule[] = [
        { fault: 'schema_invalid', itemKey: `${batchId}/b`, attempts: [1] },
        { fault: 'invalid_request', itemKey: `${batchId}/c` },
      ];
      await withFaults(stack.emulator, faults, async () => {
        await runBatch(stack, taskQueue, { batchId, records: [{ id: 'a' }, { id: 'b' }, { id: 'c' }] });
        let metrics = '';
        for (
          let tries = 0;
          tries < 50 && sample(metrics, 'batch_llm_items_total', { status: 'failed' }) === undefined;
          tries += 1
        ) {
          await new Promise((resolve) => setTimeout(resolve, 200));
          metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        }
        assert.equal(sample(metrics, 'batch_llm_items_total', { status: 'succeeded', task: 'test-echo' }), 2);
        assert.equal(sample(metrics, 'batch_llm_items_total', { status: 'failed', category: 'invalid_request' }), 1);
        assert.equal(sample(metrics, 'batch_llm_model_calls_total', { outcome: 'ok', model: 'gemini-test-model' }), 2);
        assert.equal(sample(metrics, 'batch_llm_model_calls_total', { outcome: 'validation_error' }), 1);
        assert.equal(sample(metrics, 'batch_llm_model_calls_total', { outcome: 'invalid_request' }), 1);
        assert.ok((sample(metrics, 'batch_llm_tokens_total', { kind: 'input' }) ?? 0) > 0);
        assert.match(metrics, /^temporal_\w+/m, "Temporal's runtime metrics are exported too");
      });
    } finally {
      worker.kill('SIGTERM');
      await once(worker, 'exit');
    }
  });
});
