import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { countTextTokens, GeminiEmulator } from '@durable-batch-llm/gemini-emulator';
import { REPO_ROOT, runCli } from '../helpers/cli';

const NO_NETWORK = path.join(REPO_ROOT, 'test', 'helpers', 'no-network.js');
const DEMO = ['start', '--dry-run', '--input', 'data/demo-products.jsonl', '--task', 'demo-enrichment'];

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
        new RegExp(`measured: ${mean.toFixed(1).replace('.', '\\.')} output \\+ 0\\.0 thinking tokens per answer`),
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
