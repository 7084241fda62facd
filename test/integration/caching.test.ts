import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { priceFor, usageCost } from '../../src/pricing';
import type { cacheOwnerWorkflow } from '../../workflows/cache-owner';
import { batchOutcome, runBatch, withEmulatorSettings, type BatchRun } from '../helpers/batch';
import { uniqueName, useStackWithWorker, type TestStack } from '../helpers/stack';

function records(count: number): Array<{ id: string }> {
  return Array.from({ length: count }, (_, index) => ({ id: `r${index}` }));
}

describe('Gemini context caching', () => {
  let stack!: TestStack;
  const taskQueue = useStackWithWorker((started) => (stack = started));

  const creations = () => stack.emulator.cacheOperations('cacheCreate').filter((entry) => entry.status === 200).length;

  const runCached = (
    taskName: string,
    count: number,
    options: Record<string, unknown> = {},
    concurrency = 20,
  ): Promise<BatchRun> => runBatch(stack, taskQueue, { taskName, records: records(count), concurrency, options });

  /** Each test uses its own tags, so it owns its caches. */
  function tags(name: string) {
    return { cache: { tags: { run: uniqueName(name).replace(/[^A-Za-z0-9_.:-]/g, '') } } };
  }

  test('200 items sharing a large prefix: one cache, ≥ 90 % of input tokens cached, hit rate and cost in the summary', async () => {
    const before = creations();
    const { summary, results, calls } = await runCached('test-cached', 200, tags('big'));
    assert.equal(summary.succeeded, 200);
    assert.equal(creations() - before, 1, 'exactly one cache created');
    assert.equal(summary.cache?.status, 'ready');
    assert.ok(summary.cacheHitRate >= 0.9, `hit rate ${summary.cacheHitRate}`);
    assert.equal(calls().length, 200, 'one call per item');
    assert.ok(
      calls().every((call) => call.cachedContent === summary.cache?.name),
      'every call used the cache',
    );
    const price = priceFor('gemini-3.5-flash')!;
    const uncachedCost = usageCost({ ...summary.usage, cachedTokens: 0 }, price);
    assert.ok(
      summary.costUsd > 0 && summary.costUsd < uncachedCost,
      `cost ${summary.costUsd} vs ${uncachedCost} uncached`,
    );
    assert.ok(summary.effectiveInputTokens < summary.usage.inputTokens * 0.2);
    const [result] = results;
    assert.ok(
      (result?.usage.cachedTokens ?? 0) > 0 && result?.attempts[0]?.cachedContent === summary.cache?.name,
      'per-item usage shows cached tokens',
    );
    console.log(
      `200-item cached batch: hit rate ${(summary.cacheHitRate * 100).toFixed(1)} %, cost $${summary.costUsd.toFixed(5)} vs $${uncachedCost.toFixed(5)} uncached (saving ${((1 - summary.costUsd / uncachedCost) * 100).toFixed(1)} %)`,
    );
  });

  test('same spec reuses the cache across batches; other tags or other content get another cache', async () => {
    const options = tags('reuse');
    const before = creations();
    const first = await runCached('test-cached', 5, options);
    const again = await runCached('test-cached', 5, options);
    assert.equal(again.summary.cache?.name, first.summary.cache?.name, 'same model, tags and content: reused');
    assert.equal(creations() - before, 1);
    const otherTags = await runCached('test-cached', 5, {
      cache: { tags: { ...options.cache.tags, dataset: 'other' } },
    });
    assert.notEqual(otherTags.summary.cache?.name, first.summary.cache?.name);
    const otherContent = await runCached('test-cached-docs', 5, options);
    assert.notEqual(otherContent.summary.cache?.name, first.summary.cache?.name);
    assert.notEqual(otherContent.summary.cache?.displayName, first.summary.cache?.displayName);
    assert.equal(creations() - before, 3);
  });

  test('a TTL shorter than the batch is renewed before expiry: no expired-cache error is ever served', async () => {
    await withEmulatorSettings(stack.emulator, { latency: { baseMs: 250, jitterMs: 0 } }, async () => {
      const updatesBefore = stack.emulator.cacheOperations('cacheUpdate').length;
      const errorsBefore = stack.emulator.expiredCacheErrors().length;
      const { summary } = await runCached(
        'test-cached',
        48,
        { cache: { ...tags('ttl').cache, ttlSeconds: 3, renewBeforeSeconds: 1 } },
        3,
      );
      assert.equal(summary.succeeded, 48);
      assert.ok(summary.durationMs > 3000, `the batch (${summary.durationMs} ms) outlived one TTL`);
      assert.ok(stack.emulator.cacheOperations('cacheUpdate').length - updatesBefore >= 1, 'the TTL was renewed');
      assert.equal(stack.emulator.expiredCacheErrors().length - errorsBefore, 0);
    });
  });

  test('a cache deleted behind our back mid-batch: items get a fresh one and the batch succeeds', async () => {
    await withEmulatorSettings(stack.emulator, { latency: { baseMs: 50, jitterMs: 0 } }, async () => {
      const before = creations();
      const batchId = uniqueName('deleted');
      const batchClient = stack.batchClient(taskQueue);
      await batchClient.start({
        taskName: 'test-cached',
        batchId,
        records: records(60),
        concurrency: 4,
        options: tags('deleted'),
      });
      let progress = await batchClient.progress(batchId);
      while (progress.succeeded < 10 || !progress.cache?.name) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        progress = await batchClient.progress(batchId);
      }
      stack.emulator.deleteCacheBehindTheScenes(progress.cache.name);
      const summary = await batchClient.summary(batchId);
      assert.equal(summary.succeeded, 60);
      assert.equal(creations() - before, 2, 'recreated once, however many items noticed');
      assert.notEqual(summary.cache?.name, progress.cache.name, 'the batch learned the new name');
      const { calls, results } = await batchOutcome(stack, batchId);
      assert.ok(
        calls().some((call) => call.status === 404),
        'some items hit the deleted cache',
      );
      assert.equal(results.length, 60);
      assert.ok(
        results.every(
          (result) =>
            result.status === 'succeeded' &&
            result.attempts.length > 0 &&
            result.attempts.every((attempt) => attempt.stage === 1),
        ),
        'the same stage was retried',
      );
    });
  });

  test('at the end: "keep" leaves the cache for reuse, "delete" removes it', async () => {
    for (const onEnd of ['keep', 'delete'] as const) {
      const options = { cache: { ...tags(onEnd).cache, onEnd } };
      const { summary } = await runCached('test-cached', 3, options);
      const name = summary.cache?.name;
      assert.ok(name);
      const owner = stack.client.workflow.getHandle<typeof cacheOwnerWorkflow>((await ownerIdOf(name))!);
      const ended = await owner.result();
      assert.equal(ended.deleted, onEnd === 'delete');
      assert.equal(
        stack.emulator.caches().some((cache) => cache.name === name),
        onEnd === 'keep',
        `${onEnd}: cache still listed?`,
      );
    }
  });

  async function ownerIdOf(cacheName: string): Promise<string | undefined> {
    for await (const execution of stack.client.workflow.list({ query: 'WorkflowType = "cacheOwnerWorkflow"' })) {
      const result = await stack.client.workflow
        .getHandle<typeof cacheOwnerWorkflow>(execution.workflowId, execution.runId)
        .result()
        .catch(() => undefined);
      if (result?.lastName === cacheName) return execution.workflowId;
    }
    return undefined;
  }

  test('a prefix below the minimum cacheable size runs uncached, and the summary says why', async () => {
    const { summary, calls } = await runCached('test-cached-small', 4);
    assert.equal(summary.succeeded, 4);
    assert.equal(summary.cache?.status, 'uncached');
    assert.match(summary.cache?.reason ?? '', /minimum cacheable size/);
    assert.equal(calls().length, 4);
    assert.ok(calls().every((call) => call.cachedContent === undefined));
    assert.equal(summary.cacheHitRate, 0);
  });
});
