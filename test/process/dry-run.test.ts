import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GeminiEmulator } from '@durable-batch-llm/gemini-emulator';
import { EXIT_CODES } from '../../src/client/errors';
import { runCli } from '../helpers/cli';

describe('start --dry-run', () => {
  let emulator: GeminiEmulator;
  before(async () => {
    emulator = await GeminiEmulator.start();
  });
  after(async () => {
    await emulator?.stop();
  });

  // Nothing listens on port 1: a dry run must not need Temporal at all.
  const env = () => ({ GOOGLE_GEMINI_BASE_URL: emulator.url, TEMPORAL_ADDRESS: '127.0.0.1:1' });

  test('checks the input, renders every prompt, counts a sample of them and estimates cost and time, calling no model', async () => {
    emulator.reset();
    const run = await runCli(
      [
        'start',
        '--dry-run',
        '--input',
        'data/demo-products.jsonl',
        '--task',
        'demo-enrichment',
        '--sample',
        '10',
        '--rpm',
        '60',
        '--concurrency',
        '10',
      ],
      env(),
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /50 items valid, 50 prompts rendered; nothing was started/);
    assert.match(run.stdout, /countTokens on 10 of 50 prompts, model gemini-3\.5-flash/);
    assert.match(run.stdout, /estimated cost: \$\d+\.\d{4}/);
    // 50 items at min(10 calls / 2 s, 60 rpm = 1/s) = 50 s.
    assert.match(run.stdout, /estimated time: 50\.0 s at concurrency 10 and 60 rpm/);
    assert.deepEqual([...new Set(emulator.log.map((entry) => entry.route))], ['countTokens']);
    assert.equal(emulator.log.length, 10);
  });

  test('a record the task refuses is named by line, and nothing is counted', async () => {
    emulator.reset();
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'batch-llm-dry-')), 'bad.jsonl');
    writeFileSync(
      file,
      ['{"id":"a","name":"Kettle","description":"Boils water."}', '{"id":"b","name":"Lamp"}'].join('\n'),
    );
    const run = await runCli(['start', '--dry-run', '--input', file, '--task', 'demo-enrichment'], env());
    assert.equal(run.code, EXIT_CODES.input);
    assert.match(run.stderr, /line 2, item "b", field "description"/);
    assert.equal(emulator.log.length, 0);
  });
});
