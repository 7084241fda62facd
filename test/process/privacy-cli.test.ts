/**
 * Encryption as a user meets it, through the bin: a key from `encryption-key`, an encrypting
 * worker process and `start --wait`, `status` with and without the key, and `codec-server` serving
 * the Temporal CLI's `--codec-endpoint` (what the Web UI calls) behind a bearer token.
 */
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { EXIT_CODES } from '../../src/client/errors';
import { locateTemporalCli } from '../../src/temporal/dev-server';
import { itemWorkflowId } from '../../workflows/batch';
import { chromiumPath } from '../helpers/chromium';
import { runCli, spawnCli, waitForOutput } from '../helpers/cli';
import { freePort } from '../helpers/ports';
import { startTestStack, uniqueName, type TestStack } from '../helpers/stack';

const run = promisify(execFile);
const MARKER = 'PRIVATE-CONTRACT-CLAUSE-4417';

describe('encryption through the bin', () => {
  let stack: TestStack;
  let directory: string;
  let keys: string;
  let worker: ChildProcess;
  const taskQueue = uniqueName('tq-cli-private');
  const batchId = uniqueName('cli-private');
  const env = () => ({
    TEMPORAL_ADDRESS: stack.address,
    TEMPORAL_TASK_QUEUE: taskQueue,
    BATCH_LLM_ENCRYPTION_KEYS: keys,
    BATCH_LLM_BLOB_DIR: path.join(directory, 'blobs'),
  });

  before(async () => {
    stack = await startTestStack();
    directory = mkdtempSync(path.join(os.tmpdir(), 'privacy-cli-'));
    const made = await runCli(['encryption-key', '--id', 'k1']);
    assert.equal(made.code, EXIT_CODES.ok, made.stderr);
    keys = made.stdout.trim();
    assert.match(keys, /^k1:[A-Za-z0-9+/]{43}=$/, 'one id:base64 line of 32 bytes');
    assert.match(made.stderr, /Put it first in BATCH_LLM_ENCRYPTION_KEYS/);
    worker = stack.spawnWorkerProcess(taskQueue, env());
  });
  after(async () => {
    worker?.kill('SIGKILL');
    await stack?.teardown();
    rmSync(directory, { recursive: true, force: true });
  });

  test('start --wait and status work with the key; without it status exits 2 naming the key id', async () => {
    const input = path.join(directory, 'items.jsonl');
    writeFileSync(input, ['a', 'b', 'c'].map((id) => JSON.stringify({ id, note: MARKER })).join('\n'));
    const started = await runCli(
      [
        'start',
        '--input',
        input,
        '--task',
        'test-echo',
        '--tasks',
        'test/fixtures/tasks.ts',
        '--batch-id',
        batchId,
        '--wait',
      ],
      env(),
    );
    assert.equal(started.code, EXIT_CODES.ok, started.stderr);
    const status = await runCli(['status', batchId, '-o', 'json'], env());
    assert.equal(status.code, EXIT_CODES.ok, status.stderr);
    assert.equal((JSON.parse(status.stdout) as { succeeded: number }).succeeded, 3);

    const { BATCH_LLM_ENCRYPTION_KEYS: _dropped, ...withoutKeys } = env();
    const refused = await runCli(['status', batchId, '-o', 'json'], withoutKeys);
    assert.equal(refused.code, EXIT_CODES.usage, refused.stderr);
    assert.match(
      refused.stderr,
      /^batch-llm status: a payload is encrypted with key "k1", which this process does not hold: BATCH_LLM_ENCRYPTION_KEYS is not set/m,
    );
    assert.ok(!refused.stderr.includes(keys.slice(3)), 'no key material in the message');
  });

  test('codec-server decodes for `temporal workflow show --codec-endpoint`, behind its bearer token', async () => {
    const port = await freePort();
    const server = spawnCli(['codec-server', '--port', String(port), '--cors-origin', 'http://localhost:8233'], {
      ...env(),
      BATCH_LLM_CODEC_AUTH_TOKEN: 'secret-token',
    });
    try {
      const banner = await waitForOutput(server, 'Codec server at', 30_000);
      assert.match(banner, new RegExp(`Codec server at http://127\\.0\\.0\\.1:${port}`));
      assert.match(banner, /payloads encrypted with key "k1"/);

      const temporal = locateTemporalCli();
      const show = (...extra: string[]) =>
        run(
          temporal,
          [
            'workflow',
            'show',
            '--workflow-id',
            itemWorkflowId(batchId, 'a'),
            '--address',
            stack.address,
            '--output',
            'json',
            ...extra,
          ],
          {
            maxBuffer: 16 * 1024 * 1024,
          },
        );
      // The CLI's JSON shows each payload's data in base64: read them all.
      const payloadTexts = (json: string) =>
        [...json.matchAll(/"data": "([A-Za-z0-9+/=]+)"/g)].map((match) =>
          Buffer.from(match[1] ?? '', 'base64').toString(),
        );
      const raw = payloadTexts((await show()).stdout);
      assert.ok(raw.length > 0, 'the history has payloads');
      assert.ok(!raw.some((text) => text.includes(MARKER)), 'the history as the server keeps it');
      const decoded = payloadTexts(
        (await show('--codec-endpoint', `http://127.0.0.1:${port}`, '--codec-auth', 'Bearer secret-token')).stdout,
      );
      assert.equal(decoded.length, raw.length);
      assert.ok(
        decoded.some((text) => text.includes(MARKER)),
        'decoded through the codec server',
      );
      // A wrong token is refused (the Temporal CLI only retries then, until its deadline).
      const refused = await fetch(`http://127.0.0.1:${port}/decode`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default', Authorization: 'Bearer wrong' },
        body: JSON.stringify({ payloads: [] }),
      });
      assert.equal(refused.status, 401);
    } finally {
      server.kill('SIGTERM');
    }
  });

  test('dev --encrypt: a key made once and kept owner-only, a codec server, the Web UI wired to it, batches encrypted', async () => {
    const stateDirectory = path.join(directory, 'dev-state');
    const [port, uiPort, codecPort] = [await freePort(), await freePort(), await freePort()];
    const devArgs = [
      'dev',
      '--encrypt',
      '--state-dir',
      stateDirectory,
      '--port',
      String(port),
      '--ui-port',
      String(uiPort),
      '--codec-port',
      String(codecPort),
      '--latency-ms',
      '10',
      '--jitter-ms',
      '10',
    ];
    const dev = spawnCli(devArgs, { BATCH_LLM_BLOB_DIR: path.join(directory, 'dev-blobs') });
    let devOut = '';
    let devErr = '';
    dev.stdout?.on('data', (chunk: Buffer) => (devOut += chunk.toString()));
    dev.stderr?.on('data', (chunk: Buffer) => (devErr += chunk.toString()));
    try {
      for (let waited = 0; !devOut.includes('Start a batch'); waited += 100) {
        assert.ok(waited < 90_000 && dev.exitCode === null, `dev did not come up: ${devOut}\n${devErr}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const keyFile = path.join(stateDirectory, 'encryption-keys');
      assert.match(devErr, /No BATCH_LLM_ENCRYPTION_KEYS: made a key, kept in/);
      assert.equal(statSync(keyFile).mode & 0o777, 0o600, 'the key file is readable by its owner only');
      const devKeys = readFileSync(keyFile, 'utf8').trim();
      assert.match(devKeys, /^dev1:/);
      assert.ok(!devOut.includes(devKeys.slice(5)) && !devErr.includes(devKeys.slice(5)), 'the key is never printed');
      assert.match(devOut, new RegExp(`Codec server: http://127\\.0\\.0\\.1:${codecPort}`));
      assert.match(devOut, /export BATCH_LLM_ENCRYPTION_KEYS=\$\(cat .*encryption-keys\)/);

      // The Web UI was started with the codec endpoint: its settings tell the browser where to decode.
      const settings = (await (await fetch(`http://localhost:${uiPort}/api/v1/settings`)).json()) as {
        Codec?: { Endpoint?: string };
      };
      assert.equal(settings.Codec?.Endpoint, `http://127.0.0.1:${codecPort}`);
      // …and the codec server lets that origin call it.
      const preflight = await fetch(`http://127.0.0.1:${codecPort}/decode`, {
        method: 'OPTIONS',
        headers: { Origin: `http://localhost:${uiPort}`, 'Access-Control-Request-Method': 'POST' },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get('access-control-allow-origin'), `http://localhost:${uiPort}`);

      const input = path.join(directory, 'dev-items.jsonl');
      writeFileSync(input, JSON.stringify({ id: 'a', name: MARKER, description: 'A kettle.' }));
      const devEnv = { TEMPORAL_ADDRESS: `127.0.0.1:${port}`, BATCH_LLM_ENCRYPTION_KEYS: devKeys };
      const started = await runCli(
        ['start', '--input', input, '--task', 'demo-enrichment', '--batch-id', 'dev-private', '--wait'],
        devEnv,
      );
      assert.equal(started.code, EXIT_CODES.ok, started.stderr);
      const temporal = locateTemporalCli();
      const { stdout } = await run(
        temporal,
        [
          'workflow',
          'show',
          '--workflow-id',
          'dev-private/a',
          '--address',
          devEnv.TEMPORAL_ADDRESS,
          '--output',
          'json',
        ],
        { maxBuffer: 16 * 1024 * 1024 },
      );
      assert.match(stdout, /YmluYXJ5L2VuY3J5cHRlZA==/, 'payloads are binary/encrypted in history');

      // As a person would see it: the Web UI's page of the item, rendered by Chromium, shows the
      // record decrypted (its browser called the codec server).
      const chromium = chromiumPath();
      if (!chromium) {
        console.log('# no chromium: the Web UI page of the decrypted item was not rendered');
        return;
      }
      const runId = (
        JSON.parse(
          (
            await run(temporal, [
              'workflow',
              'describe',
              '--workflow-id',
              'dev-private/a',
              '--address',
              devEnv.TEMPORAL_ADDRESS,
              '-o',
              'json',
            ])
          ).stdout,
        ) as { workflowExecutionInfo: { execution: { runId: string } } }
      ).workflowExecutionInfo.execution.runId;
      const page = `http://localhost:${uiPort}/namespaces/default/workflows/${encodeURIComponent('dev-private/a')}/${runId}/history`;
      const { stdout: dom } = await run(
        chromium,
        ['--headless', '--no-sandbox', '--disable-gpu', '--virtual-time-budget=20000', '--dump-dom', page],
        { timeout: 90_000, maxBuffer: 64 * 1024 * 1024 },
      );
      assert.ok(dom.includes('Event History'), 'the Web UI rendered the workflow page');
      assert.ok(dom.includes(MARKER), 'the Web UI shows the item decrypted');
    } finally {
      dev.kill('SIGINT');
      await new Promise((resolve) => dev.once('exit', resolve));
    }
  });
});
