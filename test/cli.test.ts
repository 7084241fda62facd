import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { ItemResult } from '../src/schemas';
import { runCli } from './helpers/cli';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

describe('the batch-llm command line', () => {
  test('every command answers --help with its usage', async () => {
    const main = await runCli(['--help']);
    assert.equal(main.code, 0);
    for (const command of ['dev', 'demo', 'worker', 'emulator', 'start', 'status', 'results', 'cache', 'pause', 'resume', 'set-concurrency', 'cancel']) {
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
  });

  test('the demo (npm start -- --exit-when-done) runs 50 items on a fresh stack and exits 0 with a summary; results export in input order', async () => {
    const stateDirectory = mkdtempSync(path.join(os.tmpdir(), 'batch-llm-demo-'));
    const [port, uiPort] = [await freePort(), await freePort()];
    const demo = await runCli(
      ['demo', '--exit-when-done', '--state-dir', stateDirectory, '--port', String(port), '--ui-port', String(uiPort), '--latency-ms', '50', '--jitter-ms', '50'],
      {},
      180_000,
    );
    assert.equal(demo.code, 0, demo.stderr);
    assert.match(demo.stdout, /items: +50 total, 50 succeeded, 0 failed/);
    assert.match(demo.stdout, new RegExp(`http://localhost:${uiPort}/namespaces/default/workflows/demo-enrichment-`));
    assert.match(demo.stderr, /started the Gemini emulator/);
    const batchId = /Started demo batch (\S+):/.exec(demo.stdout)?.[1];
    assert.ok(batchId, demo.stdout);

    const out = path.join(stateDirectory, 'export.jsonl');
    const exported = await runCli(['results', batchId, '--results-dir', path.join(stateDirectory, 'results'), '--out', out]);
    assert.equal(exported.code, 0, exported.stderr);
    const results = readFileSync(out, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as ItemResult);
    assert.equal(results.length, 50);
    assert.deepEqual(results.map((result) => result.itemId), Array.from({ length: 50 }, (_, index) => `p${String(index + 1).padStart(3, '0')}`));
    assert.ok(results.every((result) => result.status === 'succeeded' && result.attempts.length === 1));
  });
});
