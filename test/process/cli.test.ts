import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { once } from 'node:events';
import type { ItemResult } from '../../src/schemas';
import { connectTemporalClient } from '../../src/temporal/connection';
import { runCli, spawnCli } from '../helpers/cli';
import { freePort } from '../helpers/ports';

describe('the batch-llm command line', () => {
  test('every command answers --help with its usage', async () => {
    const main = await runCli(['--help']);
    assert.equal(main.code, 0);
    for (const command of [
      'dev',
      'demo',
      'worker',
      'emulator',
      'start',
      'status',
      'results',
      'cache',
      'pause',
      'resume',
      'set-concurrency',
      'cancel',
    ]) {
      assert.match(main.stdout, new RegExp(`^  ${command} `, 'm'), `main help lists ${command}`);
      const help = await runCli([command, '--help']);
      assert.equal(help.code, 0, `${command} --help: ${help.stderr}`);
      assert.match(help.stdout, new RegExp(`^Usage: batch-llm ${command}`, 'm'));
    }
  });

  test('unknown commands and flags are usage errors (exit 2) that say what was wrong', async () => {
    const unknownCommand = await runCli(['launch']);
    assert.equal(unknownCommand.code, 2);
    assert.match(unknownCommand.stderr, /unknown command "launch"/);
    const unknownFlag = await runCli(['start', '--inptu', 'x.jsonl']);
    assert.equal(unknownFlag.code, 2);
    assert.match(unknownFlag.stderr, /--inptu/);
    const badNumber = await runCli(['emulator', '--port', 'eighty']);
    assert.equal(badNumber.code, 2);
    assert.match(badNumber.stderr, /--port/);
    const badMode = await runCli([
      'start',
      '--input',
      'x.jsonl',
      '--task',
      'demo-enrichment',
      '--call-mode',
      'sideways',
    ]);
    assert.equal(badMode.code, 2);
    assert.match(badMode.stderr, /--call-mode: .*local-first.*activity/);
    const shortRetention = await runCli(['dev', '--retention', '10m']);
    assert.equal(shortRetention.code, 2);
    assert.match(shortRetention.stderr, /--retention must be at least 1h/);
  });

  test('the demo (npm start -- --exit-when-done) runs 50 items on a fresh stack and exits 0 with a summary; results export in input order', async () => {
    const stateDirectory = mkdtempSync(path.join(os.tmpdir(), 'batch-llm-demo-'));
    const [port, uiPort] = [await freePort(), await freePort()];
    const demo = await runCli(
      [
        'demo',
        '--exit-when-done',
        '--state-dir',
        stateDirectory,
        '--port',
        String(port),
        '--ui-port',
        String(uiPort),
        '--latency-ms',
        '50',
        '--jitter-ms',
        '50',
      ],
      {},
      180_000,
    );
    assert.equal(demo.code, 0, demo.stderr);
    assert.match(demo.stdout, /items: +50 total: 50 succeeded, 0 failed/);
    assert.match(demo.stdout, new RegExp(`http://localhost:${uiPort}/namespaces/default/workflows/demo-enrichment-`));
    assert.match(demo.stderr, /started the Gemini emulator/);
    const batchId = /Started demo batch (\S+):/.exec(demo.stdout)?.[1];
    assert.ok(batchId, demo.stdout);

    const out = path.join(stateDirectory, 'export.jsonl');
    const exported = await runCli([
      'results',
      batchId,
      '--results-dir',
      path.join(stateDirectory, 'results'),
      '--out',
      out,
    ]);
    assert.equal(exported.code, 0, exported.stderr);
    const results = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as ItemResult);
    assert.equal(results.length, 50);
    assert.deepEqual(
      results.map((result) => result.itemId),
      Array.from({ length: 50 }, (_, index) => `p${String(index + 1).padStart(3, '0')}`),
    );
    assert.ok(results.every((result) => result.status === 'succeeded' && result.attempts.length === 1));
  });

  test('dev serves the Web UI and a worker, keeping closed workflows for --retention; start --wait runs a batch against it; Ctrl-C stops everything', async () => {
    const stateDirectory = mkdtempSync(path.join(os.tmpdir(), 'batch-llm-dev-'));
    const [port, uiPort] = [await freePort(), await freePort()];
    const dev = spawnCli(
      [
        'dev',
        '--state-dir',
        stateDirectory,
        '--port',
        String(port),
        '--ui-port',
        String(uiPort),
        '--latency-ms',
        '10',
        '--jitter-ms',
        '10',
        '--retention',
        '36h',
        // A task on the OpenAI-compatible provider: dev points it at the emulator's /v1 too.
        '--tasks',
        'test/fixtures/openai-tasks.ts',
      ],
      {},
    );
    let devOut = '';
    let devErr = '';
    dev.stdout?.on('data', (chunk: Buffer) => (devOut += chunk.toString()));
    dev.stderr?.on('data', (chunk: Buffer) => (devErr += chunk.toString()));
    try {
      for (let waited = 0; !devOut.includes('Web UI:'); waited += 100) {
        assert.ok(waited < 60_000, `dev did not come up: ${devOut}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const ui = await fetch(`http://localhost:${uiPort}/namespaces/default/workflows`);
      assert.equal(ui.status, 200, 'the Web UI answers');
      assert.match(await ui.text(), /<html/i);

      const input = path.join(stateDirectory, 'items.jsonl');
      writeFileSync(
        input,
        [
          '{"id":"a","name":"Kettle","description":"Boils water in two minutes."}',
          '{"id":"b","name":"Lamp","description":"A desk lamp with a dimmer."}',
        ].join('\n'),
      );
      const env = { TEMPORAL_ADDRESS: `127.0.0.1:${port}`, TEMPORAL_UI_URL: `http://localhost:${uiPort}` };
      const started = await runCli(
        [
          'start',
          '--input',
          input,
          '--task',
          'demo-enrichment',
          '--batch-id',
          'dev-batch',
          '--call-mode',
          'activity',
          '--wait',
        ],
        env,
      );
      assert.equal(started.code, 0, started.stderr);
      assert.match(started.stdout, /items: +2 total: 2 succeeded/);
      const client = await connectTemporalClient({
        address: env.TEMPORAL_ADDRESS,
        namespace: 'default',
        taskQueue: 'batch-llm',
        webUiUrl: '',
      });
      try {
        const namespace = await client.workflowService.describeNamespace({ namespace: 'default' });
        assert.equal(
          Number(namespace.config?.workflowExecutionRetentionTtl?.seconds),
          36 * 3600,
          'the retention asked for',
        );
        const events = (await client.workflow.getHandle('dev-batch/a').fetchHistory()).events ?? [];
        assert.deepEqual(
          events
            .filter((event) => event.activityTaskScheduledEventAttributes)
            .map((event) => event.activityTaskScheduledEventAttributes?.activityType?.name),
          ['callModel'],
          '--call-mode activity: the call is a regular activity',
        );
      } finally {
        await client.connection.close();
      }
      assert.ok(
        started.stdout.includes(`http://localhost:${uiPort}/namespaces/default/workflows/dev-batch`),
        started.stdout,
      );
      const status = await runCli(['status', 'dev-batch'], env);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /Batch dev-batch: succeeded/);
      assert.match(devErr, /the openai-compatible provider calls the emulator at http:\/\/127\.0\.0\.1:\d+\/v1/);
      const onOpenAI = await runCli(
        [
          'start',
          '--input',
          input,
          '--task',
          'test-openai-echo',
          '--tasks',
          'test/fixtures/openai-tasks.ts',
          '--batch-id',
          'dev-openai',
          '--wait',
        ],
        env,
      );
      assert.equal(onOpenAI.code, 0, onOpenAI.stderr);
      assert.match(onOpenAI.stdout, /items: +2 total: 2 succeeded/);
    } finally {
      dev.kill('SIGINT');
      const [code] = (await once(dev, 'exit')) as [number | null];
      assert.equal(code, 0, 'dev exits cleanly on Ctrl-C');
    }
  });
});

describe('BATCH_LLM_* settings through the bin', () => {
  test('a misspelt setting stops any command with exit 2, and --help still answers', async () => {
    const run = await runCli(['status', 'some-batch'], { BATCH_LLM_RPMM: '60' });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /^batch-llm status: unknown setting BATCH_LLM_RPMM/);
    const help = await runCli(['status', '--help'], { BATCH_LLM_RPMM: '60' });
    assert.equal(help.code, 0, help.stderr);
  });
});
