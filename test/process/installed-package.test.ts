/**
 * The package as a user installs it: `npm pack`, `npm install` of the tarball into a fresh project,
 * then `npx batch-llm` there, loading the project's own TypeScript and JavaScript task modules.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { GeminiEmulator } from '@durable-batch-llm/gemini-emulator';
import { startDevServer } from '../../src/temporal/dev-server';
import { cliEnv, REPO_ROOT } from '../helpers/cli';
import { freePort } from '../helpers/ports';

const run = promisify(execFile);

describe('an installed copy of the package', () => {
  let project: string;
  let emulator: GeminiEmulator;
  before(async () => {
    project = mkdtempSync(path.join(os.tmpdir(), 'batch-llm-installed-'));
    emulator = await GeminiEmulator.start({ latency: { baseMs: 0, jitterMs: 0 } });
    const { stdout } = await run('npm', ['pack', REPO_ROOT, '--silent'], { cwd: project });
    const tarball = stdout.trim().split('\n').pop() ?? '';
    writeFileSync(
      path.join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }),
    );
    // From npm's cache where it can (the repository's own install filled it): no registry round trips needed.
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', `./${tarball}`], {
      cwd: project,
      timeout: 240_000,
    });
  });
  after(async () => {
    await emulator?.stop();
    rmSync(project, { recursive: true, force: true });
  });

  const npx = (args: string[]) =>
    run('npx', ['--no-install', 'batch-llm', ...args], {
      cwd: project,
      env: cliEnv({ GOOGLE_GEMINI_BASE_URL: emulator.url }),
      timeout: 60_000,
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code?: number; stdout?: string; stderr?: string }) => ({
        code: error.code ?? -1,
        stdout: error.stdout ?? '',
        stderr: error.stderr ?? '',
      }),
    );

  test('npx batch-llm answers --help', async () => {
    const help = await npx(['--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^Usage: batch-llm <command>/m);
  });

  test('the emulator comes bundled: the bin lists its fault kinds, and the package export starts one', async () => {
    const help = await npx(['emulator', '--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /--fault KIND=RATE.*overloaded/);
    writeFileSync(
      path.join(project, 'start-emulator.mts'),
      [
        "import { GeminiEmulator } from 'durable-batch-llm';",
        'const emulator = await GeminiEmulator.start();',
        'console.log(`emulator at ${emulator.url}`);',
        'await emulator.stop();',
      ].join('\n'),
    );
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'start-emulator.mts'], {
      cwd: project,
      timeout: 60_000,
    });
    assert.match(stdout, /^emulator at http:\/\/127\.0\.0\.1:\d+$/m);
  });

  test("the project's .ts (ESM) and .cjs task modules load through the installed bin", async () => {
    writeFileSync(
      path.join(project, 'my-tasks.ts'),
      [
        "import { z } from 'zod';",
        "import { defineTask } from 'durable-batch-llm';",
        'export const tasks = [defineTask({ name: "installed-ts", outputSchema: z.object({ label: z.string() }), prompt: (item: Record<string, unknown>) => `Label ${JSON.stringify(item)}` })];',
      ].join('\n'),
    );
    writeFileSync(
      path.join(project, 'more-tasks.cjs'),
      [
        "const { z } = require('zod');",
        "const { defineTask } = require('durable-batch-llm/task');",
        'module.exports = defineTask({ name: "installed-cjs", outputSchema: z.object({ label: z.string() }), prompt: (item) => `Label ${JSON.stringify(item)}` });',
      ].join('\n'),
    );
    writeFileSync(path.join(project, 'items.jsonl'), '{"id":"a"}\n{"id":"b"}\n');
    for (const [module, task] of [
      ['./my-tasks.ts', 'installed-ts'],
      ['./more-tasks.cjs', 'installed-cjs'],
    ] as const) {
      const dryRun = await npx([
        'start',
        '--dry-run',
        '--input',
        'items.jsonl',
        '--task',
        task,
        '--tasks',
        module,
        '--sample',
        '2',
      ]);
      assert.equal(dryRun.code, 0, `${module}: ${dryRun.stderr}`);
      assert.match(dryRun.stdout, /2 items valid, 2 prompts rendered; nothing was started/);
    }
  });

  test("an installed copy runs a batch: its worker compiles the package's workflows from node_modules", async () => {
    // The SDK's bundler compiles .ts files only outside node_modules unless told (src/worker.ts).
    const port = await freePort();
    const server = await startDevServer({ port });
    const env = {
      TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
      TEMPORAL_TASK_QUEUE: 'installed',
      GOOGLE_GEMINI_BASE_URL: emulator.url,
      BATCH_LLM_RESULTS_DIR: path.join(project, 'results'),
    };
    // The installed bin itself (node_modules/.bin/batch-llm), not through npx: killing npx would
    // leave its node child, the worker, running after the test.
    const worker = spawn(process.execPath, [path.join(project, 'node_modules', '.bin', 'batch-llm'), 'worker'], {
      cwd: project,
      env: cliEnv(env),
      stdio: 'ignore',
    });
    try {
      writeFileSync(
        path.join(project, 'products.jsonl'),
        '{"id":"p1","name":"Kettle","description":"Boils water."}\n{"id":"p2","name":"Lamp","description":"A desk lamp."}\n',
      );
      const started = await run(
        'npx',
        [
          '--no-install',
          'batch-llm',
          'start',
          '--input',
          'products.jsonl',
          '--task',
          'demo-enrichment',
          '--batch-id',
          'installed',
          '--wait',
        ],
        { cwd: project, env: cliEnv(env), timeout: 240_000 },
      ).then(
        ({ stdout }) => ({ code: 0, stdout, stderr: '' }),
        (error: { code?: number; stdout?: string; stderr?: string }) => ({
          code: error.code ?? -1,
          stdout: error.stdout ?? '',
          stderr: error.stderr ?? '',
        }),
      );
      assert.equal(started.code, 0, `${started.stdout}\n${started.stderr}`);
      assert.match(started.stdout, /items: +2 total: 2 succeeded/);
    } finally {
      worker.kill('SIGKILL');
      await server.teardown();
    }
  });
});
