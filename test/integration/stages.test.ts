import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { countTextTokens, type FaultRule } from '@durable-batch-llm/gemini-emulator';
import { runBatch, withFaults } from '../helpers/batch';
import { PROVIDERS_UNDER_TEST } from '../helpers/providers';
import { startTestStack, uniqueName, type RunningWorker, type TestStack } from '../helpers/stack';

const PRODUCT = {
  id: 'kettle',
  name: 'Stillwater Gooseneck Kettle',
  description:
    'A 0.9 litre electric gooseneck kettle with variable temperature from 40 to 100 °C, a hold-warm mode, a flow-restricting spout for pour-over coffee and a matte steel body.',
};

for (const provider of PROVIDERS_UNDER_TEST)
  describe(`the item stage machine on ${provider.name}`, () => {
    let stack!: TestStack;
    let worker: RunningWorker | undefined;
    const taskQueue = uniqueName('tq-stages');
    before(async () => {
      stack = await startTestStack();
      worker = await provider.startWorker(stack, taskQueue);
    });
    after(async () => {
      await worker?.stop();
      await stack?.teardown();
    });

    /** One item through the stage machine, with `faults` on its calls; its result and the calls the emulator saw. */
    async function runOne(
      faults: Array<Omit<FaultRule, 'itemKey'>>,
      options: Record<string, unknown> = {},
      taskName = provider.taskName,
      record: Record<string, unknown> = { id: 'x' },
    ) {
      const batchId = uniqueName('stage');
      const itemId = String(record['id']);
      const rules = faults.map((rule) => ({ itemKey: `${batchId}/${itemId}`, ...rule }));
      const run = await withFaults(stack.emulator, rules, () =>
        runBatch(stack, taskQueue, { taskName, records: [record], batchId, options }),
      );
      assert.equal(run.results.length, 1, 'the item has one result');
      return { summary: run.summary, result: run.result(itemId), calls: provider.calls(stack, `${batchId}/${itemId}`) };
    }

    test('invalid twice, then valid: full t0, partial t0, full t0.25, and the item succeeds', async () => {
      const { result, calls } = await runOne([{ fault: 'schema_invalid', attempts: [1, 2] }]);
      assert.equal(result.status, 'succeeded');
      assert.deepEqual(
        calls.map((call) => call.temperature),
        [0, 0, 0.25],
      );
      assert.deepEqual(
        result.attempts.map((attempt) => [attempt.stage, attempt.mode, attempt.temperature, attempt.outcome]),
        [
          [1, 'full', 0, 'validation_error'],
          [2, 'partial', 0, 'validation_error'],
          [3, 'full', 0.25, 'ok'],
        ],
      );
      assert.equal(calls[2]!.promptChars, calls[0]!.promptChars, 'stage 3 sends the full prompt again');
      assert.notEqual(calls[1]!.promptChars, calls[0]!.promptChars, 'stage 2 sends the repair prompt');
      assert.equal(result.modelCalls, 3);
      const tokens = calls.reduce((sum, call) => sum + call.promptTokens, 0);
      assert.equal(result.usage.inputTokens, tokens, "failed attempts' tokens count in the item's usage");
    });

    test('a partial re-prompt repairs only the failed field; the fields that validated are kept', async () => {
      const { result, calls } = await runOne([{ fault: 'schema_invalid', attempts: [1] }]);
      assert.equal(result.status, 'succeeded');
      assert.deepEqual(
        result.attempts.map((attempt) => attempt.mode),
        ['full', 'partial'],
      );
      const first = JSON.parse(calls[0]!.outputText ?? '{}') as Record<string, unknown>;
      const repair = JSON.parse(calls[1]!.outputText ?? '{}') as Record<string, unknown>;
      const output = result.output as Record<string, unknown>;
      const [failedField] = Object.keys(repair);
      assert.ok(failedField, 'the repair answer has the failed field');
      assert.deepEqual(Object.keys(repair), [failedField], 'the repair prompt asked for the failed field only');
      assert.deepEqual(output, { ...first, [failedField]: repair[failedField] });
    });

    if (provider.name === 'gemini')
      test('partial recovery on the demo task costs at most 30 % of a full retry, in tokens', async () => {
        const { result, calls } = await runOne(
          [{ fault: 'schema_invalid', attempts: [1] }],
          {},
          'demo-enrichment',
          PRODUCT,
        );
        assert.equal(result.status, 'succeeded');
        const tokensOf = (call: (typeof calls)[number]) => call.promptTokens + countTextTokens(call.outputText ?? '');
        const full = tokensOf(calls[0]!);
        const partial = tokensOf(calls[1]!);
        const ratio = partial / full;
        console.log(
          `partial vs full retry on demo-enrichment: ${partial} / ${full} tokens = ${(ratio * 100).toFixed(1)} %`,
        );
        assert.ok(ratio <= 0.3, `partial re-prompt costs ${(ratio * 100).toFixed(1)} % of a full retry`);
      });

    test('a 429 with retryDelay 2s: the next call comes no earlier than 2 s later, at the same stage', async () => {
      const { result, calls } = await runOne([{ fault: 'rate_limit', attempts: [1], retryDelaySeconds: 2 }]);
      assert.equal(result.status, 'succeeded');
      assert.deepEqual(
        calls.map((call) => call.status),
        [429, 200],
      );
      const gap = calls[1]!.startedAtMs - calls[0]!.endedAtMs!;
      assert.ok(gap >= 2000, `second call ${gap} ms after the 429`);
      assert.deepEqual(
        result.attempts.map((attempt) => [attempt.stage, attempt.mode, attempt.outcome]),
        [
          [1, 'full', 'rate_limit'],
          [1, 'full', 'ok'],
        ],
      );
    });

    test('a storm of 503s ends at the model-call cap with prompt_budget_exhausted', async () => {
      const { result, calls, summary } = await runOne([{ fault: 'overloaded' }], { maxModelCalls: 3 });
      assert.equal(result.status, 'failed');
      assert.equal(result.error?.category, 'prompt_budget_exhausted');
      assert.match(result.error?.message ?? '', /server_overload/);
      assert.equal(calls.length, 3);
      assert.equal(result.modelCalls, 3);
      assert.deepEqual(summary.byCategory, { prompt_budget_exhausted: 1 });
      assert.deepEqual(
        result.attempts.map((attempt) => attempt.outcome),
        ['server_overload', 'server_overload', 'server_overload'],
      );
    });

    test('the cap counts calls across stages too', async () => {
      const { result, calls } = await runOne([{ fault: 'schema_invalid' }], { maxModelCalls: 2 });
      assert.equal(result.error?.category, 'prompt_budget_exhausted');
      assert.equal(calls.length, 2);
      assert.ok((result.error?.validationIssues?.length ?? 0) > 0, 'the last validation errors are attached');
    });

    test('when the plan is exhausted the item fails with the last validation errors', async () => {
      const { result, calls } = await runOne([{ fault: 'schema_invalid' }], { maxModelCalls: 10 });
      assert.equal(calls.length, 4);
      assert.equal(result.status, 'failed');
      assert.equal(result.error?.category, 'validation_error');
      assert.ok((result.error?.validationIssues?.length ?? 0) > 0);
    });

    test('a stage may escalate to another model with its own settings', async () => {
      const stagePlan = [
        { mode: 'full', temperature: 0, model: provider.otherModels[0] },
        { mode: 'full', temperature: 0.5, model: provider.otherModels[1], generation: { maxOutputTokens: 512 } },
      ];
      const { result, calls } = await runOne([{ fault: 'schema_invalid', attempts: [1] }], { stagePlan });
      assert.equal(result.status, 'succeeded');
      assert.deepEqual(
        calls.map((call) => [call.model, call.temperature]),
        [
          [provider.otherModels[0], 0],
          [provider.otherModels[1], 0.5],
        ],
      );
      assert.deepEqual(
        result.attempts.map((attempt) => attempt.model),
        [...provider.otherModels],
      );
    });
  });
