import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { countTextTokens, GeminiEmulator } from '@durable-batch-llm/gemini-emulator';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { parseJsonlItems } from '../../src/input';
import type { AnyTask } from '../../src/tasks/registry';
import { fullPrompt } from '../../src/providers/prompts';
import { countPromptTokens } from '../../src/providers/openai/tokens';
import { openaiEchoTask } from '../fixtures/openai-tasks';
import { REPO_ROOT, runCli } from '../helpers/cli';

const NO_NETWORK = path.join(REPO_ROOT, 'test', 'helpers', 'no-network.js');
const DEMO = ['start', '--dry-run', '--input', 'data/demo-products.jsonl', '--task', 'demo-enrichment'];
/** The same 50 records, for the OpenAI-compatible fixture task. */
const ON_OPENAI = [
  'start',
  '--dry-run',
  '--input',
  'data/demo-products.jsonl',
  '--task',
  'test-openai-echo',
  '--tasks',
  'test/fixtures/openai-tasks.ts',
];

/** What OpenAI's tokenizer counts for every demo record's full prompt to the fixture task, on `model`. */
function countedPrompts(model: string): number[] {
  const file = path.join(REPO_ROOT, 'data', 'demo-products.jsonl');
  const { items } = parseJsonlItems(readFileSync(file, 'utf8'), file);
  return items.map((item) => countPromptTokens({ ...fullPrompt(openaiEchoTask as unknown as AnyTask, item), model }));
}
const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

describe('start --dry-run estimates', () => {
  test('with no key and no emulator it works offline: prompt tokens estimated locally and labelled so, no network', async () => {
    // No GEMINI_API_KEY / GOOGLE_GEMINI_BASE_URL (cliEnv drops them); every socket and fetch fails loudly.
    const run = await runCli(
      DEMO,
      { NODE_OPTIONS: `--require ${NO_NETWORK}`, TEMPORAL_ADDRESS: '127.0.0.1:1' },
      60_000,
    );
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /NETWORK USE ATTEMPTED/);
    assert.match(run.stdout, /50 items valid, 50 prompts rendered; nothing was started/);
    assert.match(
      run.stdout,
      /prompt tokens: \d+\.\d on average \(estimated locally: ~chars\/4, no endpoint; all 50 prompts/,
    );
    // The answer length is the schema's typical answer, said to be an assumption (not a fixed 150).
    const answer = /answer tokens: (\d+) per answer \(assumed: a typical JSON answer to the output schema/.exec(
      run.stdout,
    );
    assert.ok(answer, run.stdout);
    assert.notEqual(Number(answer[1]), 150);
    assert.match(run.stdout, /estimated cost: \$\d+\.\d{4}/);
  });

  test('--calibrate without an endpoint is a usage error naming what to set', async () => {
    const run = await runCli([...DEMO, '--calibrate', '3'], { TEMPORAL_ADDRESS: '127.0.0.1:1' }, 60_000);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--calibrate .*needs an endpoint: set GEMINI_API_KEY, or GOOGLE_GEMINI_BASE_URL/);
  });

  test("an OpenAI-compatible task, offline: every prompt counted with OpenAI's tokenizer, priced from --prices", async () => {
    const prices = path.join(tmpdir(), `prices-${process.pid}.json`);
    writeFileSync(prices, JSON.stringify({ 'gpt-4.1-mini': { input: 0.4, output: 1.6, cachedInput: 0.1 } }));
    const env = { NODE_OPTIONS: `--require ${NO_NETWORK}`, TEMPORAL_ADDRESS: '127.0.0.1:1' };
    const exact = await runCli([...ON_OPENAI, '--model', 'gpt-4.1-mini', '--prices', prices], env, 60_000);
    assert.equal(exact.code, 0, exact.stderr);
    assert.doesNotMatch(exact.stderr, /NETWORK USE ATTEMPTED/);
    const counted = countedPrompts('gpt-4.1-mini');
    assert.equal(counted.length, 50);
    assert.match(exact.stdout, /Dry run of task test-openai-echo \(provider openai-compatible\)/);
    assert.match(
      exact.stdout,
      new RegExp(
        `prompt tokens: ${mean(counted).toFixed(1).replace('.', '\\.')} on average \\(counted locally with o200k_base, the tokenizer of gpt-4\\.1-mini; messages and schema, all 50 prompts`,
      ),
    );
    const cost = /estimated cost: \$(\d+\.\d{4})/.exec(exact.stdout);
    assert.ok(cost, exact.stdout);
    const answer = Number(/answer tokens: (\d+) per answer/.exec(exact.stdout)?.[1]);
    const expected = (Math.round(mean(counted) * 50) * 0.4 + Math.round(answer * 50) * 1.6) / 1e6;
    assert.equal(Number(cost[1]), Number(expected.toFixed(4)));

    // A model that is not OpenAI's: the same tokenizer, said to be an approximation; no price, said so.
    const other = await runCli(ON_OPENAI, env, 60_000);
    assert.equal(other.code, 0, other.stderr);
    assert.match(
      other.stdout,
      /counted locally with o200k_base, OpenAI's tokenizer: gpt-test-mini's own may count differently/,
    );
    assert.match(other.stdout, /estimated cost: unknown \(no price for gpt-test-mini\)/);

    // A Gemini task sent to the OpenAI-compatible provider for this batch: counted the same way.
    const overridden = await runCli(
      [...DEMO, '--provider', 'openai-compatible', '--model', 'gpt-4.1-mini'],
      env,
      60_000,
    );
    assert.equal(overridden.code, 0, overridden.stderr);
    assert.match(overridden.stdout, /Dry run of task demo-enrichment \(provider openai-compatible\)/);
    assert.match(overridden.stdout, /counted locally with o200k_base, the tokenizer of gpt-4\.1-mini/);
    const badName = await runCli([...DEMO, '--provider', 'Open AI'], env, 60_000);
    assert.equal(badName.code, 2);
    assert.match(badName.stderr, /--provider.*must be a provider name/);

    const batchApi = await runCli([...ON_OPENAI, '--batch-api'], env, 60_000);
    assert.equal(batchApi.code, 2);
    assert.match(
      batchApi.stderr,
      /--batch-api is Gemini's Batch Mode; task test-openai-echo calls provider "openai-compatible", which has none/,
    );

    const calibrate = await runCli([...ON_OPENAI, '--calibrate', '2'], env, 60_000);
    assert.equal(calibrate.code, 2);
    assert.match(
      calibrate.stderr,
      /--calibrate sends real model calls and needs an endpoint: task test-openai-echo calls the OpenAI-compatible provider: set OPENAI_API_KEY and\/or OPENAI_BASE_URL/,
    );

    writeFileSync(prices, JSON.stringify({ 'gpt-4.1-mini': { input: '0.4', output: 1.6 } }));
    const bad = await runCli([...ON_OPENAI, '--prices', prices], env, 60_000);
    assert.equal(bad.code, 3, bad.stderr);
    assert.match(
      bad.stderr,
      new RegExp(
        `${prices.replace(/[.]/g, '\\.')}.*\\n.*field "gpt-4\\.1-mini\\.input": must be a number of USD per 1M tokens`,
      ),
    );
  });

  test('an OpenAI-compatible task with --calibrate: the local count scaled by what the endpoint charged', async () => {
    const emulator = await GeminiEmulator.start();
    try {
      const run = await runCli([...ON_OPENAI, '--calibrate', '4'], {
        OPENAI_BASE_URL: `${emulator.url}/v1`,
        TEMPORAL_ADDRESS: '127.0.0.1:1',
      });
      assert.equal(run.code, 0, run.stderr);
      const calls = emulator.chatCompletionCalls();
      assert.equal(calls.length, 4);
      assert.equal(emulator.generateCalls().length + emulator.log.filter((e) => e.route === 'countTokens').length, 0);
      const counted = countedPrompts('gpt-test-mini');
      assert.equal(counted.length, 50);
      // The sample is evenly spaced: items 0, 13, 26, 39.
      const sampleCounted = [0, 13, 26, 39].map((index) => counted[index] ?? 0);
      const charged = calls.map((call) => call.promptTokens);
      const ratio = charged.reduce((a, b) => a + b, 0) / sampleCounted.reduce((a, b) => a + b, 0);
      assert.notEqual(ratio.toFixed(3), '1.000', 'the emulator counts otherwise than the tokenizer');
      assert.match(
        run.stdout,
        new RegExp(
          `prompt tokens: ${(mean(counted) * ratio).toFixed(1).replace('.', '\\.')} on average \\(${mean(counted).toFixed(1).replace('.', '\\.')} counted locally with o200k_base over all 50 prompts, × ${ratio.toFixed(3).replace('.', '\\.')}: what openai-compatible charged`,
        ),
      );
      assert.match(
        run.stdout,
        /calibration: 4 stage-1 calls sent \(model gpt-test-mini, not a batch\): 4 answered, 4 valid/,
      );
    } finally {
      await emulator.stop();
    }
  });

  describe('with the emulator', () => {
    let emulator: GeminiEmulator;
    before(async () => {
      // Answers of different lengths per item, so the measured mean is the emulator's, not a coincidence.
      emulator = await GeminiEmulator.start({
        responder: (request) =>
          JSON.stringify({
            category: 'kitchen',
            summary: `A useful product for ${'everyday '.repeat(Number(request.itemKey?.slice(-2, -1) ?? 0))}tasks.`,
            keywords: ['kettle', 'tea'],
            audience: 'consumer',
            priceTier: 'mid',
          }),
      });
    });
    after(async () => {
      await emulator?.stop();
    });

    test("--calibrate 5 sends 5 sample items' first calls and uses their measured answer length", async () => {
      emulator.reset();
      const run = await runCli([...DEMO, '--calibrate', '5', '--sample', '10'], {
        GOOGLE_GEMINI_BASE_URL: emulator.url,
        TEMPORAL_ADDRESS: '127.0.0.1:1',
      });
      assert.equal(run.code, 0, run.stderr);
      const calls = emulator.generateCalls();
      assert.equal(calls.length, 5);
      assert.ok(
        calls.every((call) => call.itemKey?.startsWith('dry-run/') && call.temperature === 0),
        JSON.stringify(calls),
      );
      assert.equal(emulator.log.filter((entry) => entry.route === 'countTokens').length, 10);
      const outputTokens = calls.map((call) => countTextTokens(call.outputText ?? ''));
      assert.equal(new Set(outputTokens).size > 1, true, 'the answers differ in length');
      const mean = outputTokens.reduce((sum, tokens) => sum + tokens, 0) / outputTokens.length;
      assert.match(
        run.stdout,
        /calibration: 5 stage-1 calls sent \(model gemini-3\.5-flash, not a batch\): 5 answered, 5 valid/,
      );
      assert.match(
        run.stdout,
        new RegExp(
          `measured: [\\d.]+ prompt tokens charged per call; ${mean.toFixed(1).replace('.', '\\.')} output \\+ 0\\.0 thinking tokens per answer`,
        ),
      );
      assert.match(
        run.stdout,
        new RegExp(`answer tokens: ${mean.toFixed(1).replace('.', '\\.')} per answer \\(measured by --calibrate`),
      );
      assert.match(run.stdout, new RegExp(`estimated tokens: \\d+ in, ${Math.round(mean * 50)} out`));
      assert.match(run.stdout, /calibration: .*cost \$\d+\.\d{4}/);
    });
  });
});
