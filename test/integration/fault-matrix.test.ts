import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FaultRule } from '@durable-batch-llm/gemini-emulator';
import { PROVIDERS_UNDER_TEST } from '../helpers/providers';
import { CATEGORY_TABLE, type ErrorCategory } from '../../src/errors/categories';
import type { ItemResult } from '../../src/schemas';
import { runBatch, withFaults } from '../helpers/batch';
import { startTestStack, uniqueName, type RunningWorker, type TestStack } from '../helpers/stack';

interface Scenario {
  /** The condition the emulator produces. */
  fault: Omit<FaultRule, 'itemKey'>;
  /** Category of the first call's failure. */
  category: ErrorCategory;
  status: 'succeeded' | 'failed' | 'blocked';
  /** Category the item ends with, when it fails. */
  finalCategory?: ErrorCategory;
  calls: number;
  /** [temperature, prompt mode] of each call. */
  plan: Array<[number, 'full' | 'partial']>;
}

const t0: [number, 'full'] = [0, 'full'];
const SCENARIOS: Record<string, Scenario> = {
  rate_limit: {
    fault: { fault: 'rate_limit', attempts: [1], retryDelaySeconds: 1 },
    category: 'rate_limit',
    status: 'succeeded',
    calls: 2,
    plan: [t0, t0],
  },
  quota_exhausted: {
    fault: { fault: 'quota_exhausted' },
    category: 'quota_exhausted',
    status: 'failed',
    finalCategory: 'quota_exhausted',
    calls: 1,
    plan: [t0],
  },
  authentication: {
    fault: { fault: 'unauthenticated' },
    category: 'authentication',
    status: 'failed',
    finalCategory: 'authentication',
    calls: 1,
    plan: [t0],
  },
  permission_denied: {
    fault: { fault: 'permission_denied' },
    category: 'permission_denied',
    status: 'failed',
    finalCategory: 'permission_denied',
    calls: 1,
    plan: [t0],
  },
  invalid_request: {
    fault: { fault: 'invalid_request' },
    category: 'invalid_request',
    status: 'failed',
    finalCategory: 'invalid_request',
    calls: 1,
    plan: [t0],
  },
  context_too_long: {
    fault: { fault: 'context_too_long' },
    category: 'context_too_long',
    status: 'failed',
    finalCategory: 'context_too_long',
    calls: 1,
    plan: [t0],
  },
  not_found: {
    fault: { fault: 'not_found' },
    category: 'not_found',
    status: 'failed',
    finalCategory: 'not_found',
    calls: 1,
    plan: [t0],
  },
  server_error: {
    fault: { fault: 'server_error', attempts: [1] },
    category: 'server_error',
    status: 'succeeded',
    calls: 2,
    plan: [t0, t0],
  },
  malformed_json: {
    fault: { fault: 'malformed_json', attempts: [1] },
    category: 'server_error',
    status: 'succeeded',
    calls: 2,
    plan: [t0, t0],
  },
  server_overload: {
    fault: { fault: 'overloaded', attempts: [1] },
    category: 'server_overload',
    status: 'succeeded',
    calls: 2,
    plan: [t0, t0],
  },
  server_timeout: {
    fault: { fault: 'deadline', attempts: [1] },
    category: 'server_timeout',
    status: 'succeeded',
    calls: 2,
    plan: [t0, t0],
  },
  network_error: {
    fault: { fault: 'reset', attempts: [1] },
    category: 'network_error',
    status: 'succeeded',
    calls: 2,
    plan: [t0, t0],
  },
  timeout: {
    fault: { fault: 'hang', attempts: [1] },
    category: 'timeout',
    status: 'succeeded',
    calls: 2,
    plan: [t0, t0],
  },
  validation_error: {
    fault: { fault: 'schema_invalid', attempts: [1] },
    category: 'validation_error',
    status: 'succeeded',
    calls: 2,
    plan: [t0, [0, 'partial']],
  },
  empty_response: {
    fault: { fault: 'empty_response', attempts: [1] },
    category: 'empty_response',
    status: 'succeeded',
    calls: 2,
    plan: [t0, t0],
  },
  recitation: {
    fault: { fault: 'recitation', attempts: [1] },
    category: 'recitation',
    status: 'succeeded',
    calls: 2,
    plan: [t0, t0],
  },
  truncated: {
    fault: { fault: 'max_tokens', attempts: [1] },
    category: 'truncated',
    status: 'succeeded',
    calls: 2,
    plan: [t0, t0],
  },
  safety_blocked: {
    fault: { fault: 'safety' },
    category: 'safety_blocked',
    status: 'blocked',
    finalCategory: 'safety_blocked',
    calls: 1,
    plan: [t0],
  },
  prompt_blocked: {
    fault: { fault: 'blocked_prompt' },
    category: 'safety_blocked',
    status: 'blocked',
    finalCategory: 'safety_blocked',
    calls: 1,
    plan: [t0],
  },
  // Before context caching exists no item sends a cachedContent; until then the category ends the item.
  cache_expired: {
    fault: { fault: 'cache_expired' },
    category: 'cache_expired',
    status: 'failed',
    finalCategory: 'cache_expired',
    calls: 1,
    plan: [t0],
  },
  prompt_budget_exhausted: {
    fault: { fault: 'overloaded' },
    category: 'server_overload',
    status: 'failed',
    finalCategory: 'prompt_budget_exhausted',
    calls: 3,
    plan: [t0, t0, t0],
  },
};

/** Scenarios whose outcome differs by provider (OpenAI has no recitation: it filters content; nor context caches). */
const DIFFERS: Record<string, Record<string, Partial<Scenario>>> = {
  'openai-compatible': {
    recitation: {
      category: 'safety_blocked',
      status: 'blocked',
      finalCategory: 'safety_blocked',
      calls: 1,
      plan: [t0],
    },
    // No context caches there: the emulator answers a 404, which is what it is on that API.
    cache_expired: { category: 'not_found', finalCategory: 'not_found' },
  },
};

for (const provider of PROVIDERS_UNDER_TEST)
  describe(`fault matrix on ${provider.name}: every category from a real emulator condition, through the real dev server`, () => {
    let stack: TestStack;
    let worker: RunningWorker;
    const taskQueue = uniqueName('tq');
    let results: Map<string, ItemResult>;
    let batchId: string;
    const scenarios: Record<string, Scenario> = Object.fromEntries(
      Object.entries(SCENARIOS).map(([name, scenario]) => [name, { ...scenario, ...DIFFERS[provider.name]?.[name] }]),
    );

    before(async () => {
      stack = await startTestStack();
      worker = await provider.startWorker(stack, taskQueue);
      batchId = uniqueName('matrix');
      const faults = Object.entries(SCENARIOS).map(([name, scenario]) => ({
        ...scenario.fault,
        itemKey: `${batchId}/${name}`,
      }));
      const run = await withFaults(stack.emulator, faults, () =>
        runBatch(stack, taskQueue, {
          batchId,
          taskName: provider.taskName,
          records: Object.keys(SCENARIOS).map((name) => ({ id: name })),
          concurrency: Object.keys(SCENARIOS).length,
          // Every category side by side: no category may stop the batch here.
          failFast: [],
          options: { maxModelCalls: 3, callTimeoutMs: 1500 },
        }),
      );
      assert.equal(run.results.length, Object.keys(SCENARIOS).length, 'one result per scenario');
      results = new Map(run.results.map((result) => [result.itemId, result]));
    });
    after(async () => {
      await worker?.stop();
      await stack?.teardown();
    });

    for (const [name, scenario] of Object.entries(scenarios)) {
      const retried = CATEGORY_TABLE[scenario.category].decision;
      test(`${name}: ${scenario.category} is ${retried === 'retry' ? 'retried at the same stage' : retried === 'stage' ? 'handed to the stage logic' : 'not retried'} → ${scenario.status}${scenario.finalCategory ? ` (${scenario.finalCategory})` : ''}`, () => {
        const result = results.get(name);
        assert.ok(result, `${name} has a result`);
        assert.equal(result.status, scenario.status);
        assert.equal(result.error?.category, scenario.finalCategory);
        assert.equal(result.attempts[0]?.outcome, scenario.category, 'first call classified');
        assert.equal(result.modelCalls, scenario.calls);
        const calls = provider.calls(stack, `${batchId}/${name}`);
        assert.equal(calls.length, scenario.calls, 'calls the emulator saw');
        assert.deepEqual(
          calls.map((call) => call.temperature),
          scenario.plan.map(([temperature]) => temperature),
        );
        assert.deepEqual(
          result.attempts.map((attempt) => [attempt.temperature, attempt.mode]),
          scenario.plan,
        );
        assert.ok(calls.every((call) => call.model === provider.model));
        if (retried === 'retry' && scenario.calls > 1) {
          assert.ok(
            result.attempts.every((attempt) => attempt.stage === 1),
            'a transient failure never advances the stage',
          );
          // Each request its own start time, as the emulator saw them arrive: a retry starts after the failure before it.
          const starts = result.attempts.map((attempt) => Date.parse(attempt.startedAt));
          assert.equal(starts.length, scenario.calls);
          for (let index = 1; index < starts.length; index += 1) {
            const previous = result.attempts[index - 1];
            assert.ok(
              previous && (starts[index] as number) >= (starts[index - 1] as number) + previous.durationMs,
              `attempt ${index + 1} starts after attempt ${index} ended`,
            );
          }
        }
        if (retried === 'stage' && scenario.status === 'succeeded')
          assert.equal(result.attempts[1]?.stage, 2, 'an unusable answer moves to the next stage');
      });
    }

    if (provider.name === 'gemini')
      test("a task's own classifier runs first: its rule turns a 404 into a retried server_error", async () => {
        const lenientBatch = uniqueName('lenient');
        const { result } = await withFaults(
          stack.emulator,
          [{ fault: 'not_found', itemKey: `${lenientBatch}/a`, attempts: [1] }],
          () => runBatch(stack, taskQueue, { taskName: 'test-lenient', batchId: lenientBatch, records: [{ id: 'a' }] }),
        );
        assert.equal(result('a').status, 'succeeded');
        assert.deepEqual(
          result('a').attempts.map((attempt) => attempt.outcome),
          ['server_error', 'ok'],
        );
        assert.match(result('a').attempts[0]?.message ?? '', /flaky gateway/);
      });

    if (provider.name === 'gemini')
      test('unknown: a programming error is not mistaken for a rate limit even when its message says 429, and is not retried', async () => {
        const { summary, result, calls } = await runBatch(stack, taskQueue, {
          taskName: 'test-buggy',
          records: [{ id: 'bug' }],
        });
        const bug = result('bug');
        assert.equal(bug.status, 'failed');
        assert.equal(bug.error?.category, 'unknown');
        assert.match(bug.error?.message ?? '', /TypeError: cannot read "code"/);
        assert.equal(bug.modelCalls, 0, 'no request reached the model, and none is counted');
        assert.deepEqual(bug.attempts, [], 'no retries');
        assert.deepEqual(summary.byCategory, { unknown: 1 });
        assert.equal(calls().length, 0);
      });
  });
