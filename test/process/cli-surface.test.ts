/**
 * The command line as users run it: every test spawns bin/batch-llm.js (tsx's CommonJS hook, as
 * `npx batch-llm` does), from the repository or from another directory.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EXIT_CODES } from '../../src/client/errors';
import { GeminiEmulator } from '@durable-batch-llm/gemini-emulator';
import { REPO_ROOT, runCli, type CliRun } from '../helpers/cli';
import { freePort } from '../helpers/ports';
import { startTestStack, uniqueName, type TestStack } from '../helpers/stack';

/** A directory outside the repository, with the package and zod installed as a user would have them. */
function userProject(): string {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'batch-llm-user-'));
  mkdirSync(path.join(directory, 'node_modules'));
  symlinkSync(REPO_ROOT, path.join(directory, 'node_modules', 'durable-batch-llm'), 'dir');
  symlinkSync(path.join(REPO_ROOT, 'node_modules', 'zod'), path.join(directory, 'node_modules', 'zod'), 'dir');
  return directory;
}

const ESM_BODY = (name: string, typed: boolean) => `import { z } from 'zod';
import { defineTask } from 'durable-batch-llm/task';
export const tasks = [defineTask({ name: '${name}', outputSchema: z.object({ label: z.string() }), prompt: (item${typed ? ': Record<string, unknown>' : ''}) => 'Label ' + JSON.stringify(item) })];
`;
const CJS_BODY = (name: string, typed: boolean) => `const { z } = require('zod');
const { defineTask } = require('durable-batch-llm/task');
module.exports = defineTask({ name: '${name}', outputSchema: z.object({ label: z.string() }), prompt: (item${typed ? ': Record<string, unknown>' : ''}) => 'Label ' + JSON.stringify(item) });
`;

/** One task module of each kind: TypeScript or JavaScript, ESM or CommonJS. */
const TASK_MODULES = [
  { file: 'esm.ts', task: 'user-esm-ts', body: ESM_BODY('user-esm-ts', true) },
  { file: 'commonjs.ts', task: 'user-cjs-ts', body: CJS_BODY('user-cjs-ts', true) },
  { file: 'module.mts', task: 'user-mts', body: ESM_BODY('user-mts', true) },
  { file: 'commonjs.js', task: 'user-cjs-js', body: CJS_BODY('user-cjs-js', false) },
  { file: 'module.mjs', task: 'user-mjs', body: ESM_BODY('user-mjs', false) },
  { file: 'commonjs.cjs', task: 'user-cjs', body: CJS_BODY('user-cjs', false) },
  // Top-level await: cannot be required, so it takes the import path.
  { file: 'awaits.mts', task: 'user-tla', body: `${ESM_BODY('user-tla', true)}await Promise.resolve();\n` },
];

/** stderr as lines, without the trailing newline. */
const stderrLines = (run: CliRun) => run.stderr.trimEnd().split('\n');

describe('custom task modules through the bin', () => {
  let emulator: GeminiEmulator;
  let project: string;
  before(async () => {
    emulator = await GeminiEmulator.start();
    project = userProject();
    mkdirSync(path.join(project, 'tasks'));
    for (const module of TASK_MODULES) writeFileSync(path.join(project, 'tasks', module.file), module.body);
    writeFileSync(path.join(project, 'items.jsonl'), '{"id":"a","text":"kettle"}\n{"id":"b","text":"lamp"}\n');
  });
  after(async () => {
    await emulator?.stop();
  });

  test('TypeScript and JavaScript modules, ESM or CommonJS, load by a path relative to a working directory outside the repository', async () => {
    assert.equal(TASK_MODULES.length, 7);
    for (const module of TASK_MODULES) {
      const run = await runCli(
        [
          'start',
          '--dry-run',
          '--tasks',
          `./tasks/${module.file}`,
          '--task',
          module.task,
          '--input',
          'items.jsonl',
          '--sample',
          '1',
        ],
        { GOOGLE_GEMINI_BASE_URL: emulator.url, TEMPORAL_ADDRESS: '127.0.0.1:1' },
        60_000,
        project,
      );
      assert.equal(run.code, EXIT_CODES.ok, `${module.file}: ${run.stderr}`);
      assert.match(run.stdout, new RegExp(`Dry run of task ${module.task} on items.jsonl: 2 items valid`), module.file);
    }
  });

  test('a worker loads a TypeScript task module before it connects (here: to nothing)', async () => {
    const port = await freePort();
    const run = await runCli(
      ['worker', '--tasks', './tasks/module.mts'],
      { TEMPORAL_ADDRESS: `127.0.0.1:${port}`, GOOGLE_GEMINI_BASE_URL: emulator.url },
      60_000,
      project,
    );
    assert.equal(run.code, EXIT_CODES.connection, run.stderr);
    assert.doesNotMatch(run.stderr, /Unknown file extension/);
  });

  test('a missing task module is named, with the path it was looked for at', async () => {
    const run = await runCli(
      ['start', '--dry-run', '--tasks', './tasks/nope.ts', '--task', 'x', '--input', 'items.jsonl'],
      { GOOGLE_GEMINI_BASE_URL: emulator.url },
      60_000,
      project,
    );
    assert.equal(run.code, EXIT_CODES.error);
    assert.deepEqual(stderrLines(run), [
      `batch-llm start: cannot load tasks from ${path.join(project, 'tasks', 'nope.ts')}: no such file`,
    ]);
  });
});

describe('no Temporal server', () => {
  let address: string;
  let project: string;
  before(async () => {
    address = `127.0.0.1:${await freePort()}`;
    project = mkdtempSync(path.join(os.tmpdir(), 'batch-llm-noserver-'));
    writeFileSync(path.join(project, 'items.jsonl'), '{"id":"a","name":"Kettle","description":"Boils water."}\n');
    writeFileSync(
      path.join(project, 'broken.jsonl'),
      '{"id":"a","name":"Kettle","description":"Boils water."}\n{"id":"b",\n',
    );
  });

  test('start, status, worker and pause say at once, in one line, which address they tried and what to do', async () => {
    const commands = [
      ['start', '--input', 'items.jsonl', '--task', 'demo-enrichment'],
      ['status', 'some-batch'],
      ['worker'],
      ['pause', 'some-batch'],
    ];
    assert.equal(commands.length, 4);
    for (const args of commands) {
      const started = Date.now();
      const run = await runCli(
        args,
        { TEMPORAL_ADDRESS: address, GOOGLE_GEMINI_BASE_URL: 'http://127.0.0.1:1' },
        30_000,
        project,
      );
      const seconds = (Date.now() - started) / 1000;
      assert.equal(run.code, EXIT_CODES.connection, `${args[0]}: ${run.stderr}`);
      const lines = stderrLines(run);
      assert.equal(lines.length, 1, run.stderr);
      assert.match(
        lines[0]!,
        new RegExp(
          `^batch-llm ${args[0]}: cannot reach Temporal at ${address.replace(/\./g, '\\.')} .*connection refused.*\`batch-llm dev\``,
        ),
      );
      // A hang guard, not a benchmark: it used to take 11–13 s.
      assert.ok(seconds < 8, `${args[0]} took ${seconds} s`);
    }
  });

  test('start checks its input before connecting: a malformed line is reported with its number, exit 3', async () => {
    const run = await runCli(
      ['start', '--input', 'broken.jsonl', '--task', 'demo-enrichment'],
      { TEMPORAL_ADDRESS: address },
      30_000,
      project,
    );
    assert.equal(run.code, EXIT_CODES.input, run.stderr);
    assert.match(stderrLines(run)[0]!, /^batch-llm start: invalid input in broken\.jsonl/);
    assert.match(run.stderr, /line 2: not valid JSON/);
    assert.doesNotMatch(run.stderr, /cannot reach Temporal|See: /);
  });

  test('start checks the task name before connecting, exit 3', async () => {
    const run = await runCli(
      ['start', '--input', 'items.jsonl', '--task', 'no-such-task'],
      { TEMPORAL_ADDRESS: address },
      30_000,
      project,
    );
    assert.equal(run.code, EXIT_CODES.input, run.stderr);
    assert.match(run.stderr, /unknown task "no-such-task"; known tasks: demo-enrichment/);
  });

  test('set-concurrency checks N before connecting and names the positional', async () => {
    const run = await runCli(['set-concurrency', 'some-batch', '0'], { TEMPORAL_ADDRESS: address });
    assert.equal(run.code, EXIT_CODES.usage, run.stderr);
    assert.deepEqual(stderrLines(run), [
      'batch-llm set-concurrency: N must be at least 1 (got "0")',
      'See: batch-llm set-concurrency --help',
    ]);
  });

  test('pause, resume and cancel take the batch id alone, checked before connecting', async () => {
    const commands = ['pause', 'resume', 'cancel'];
    assert.equal(commands.length, 3);
    for (const command of commands) {
      const run = await runCli([command, 'some-batch', 'other-batch'], { TEMPORAL_ADDRESS: address });
      assert.equal(run.code, EXIT_CODES.usage, `${command}: ${run.stderr}`);
      assert.match(
        stderrLines(run)[0] ?? '',
        new RegExp(`^batch-llm ${command}: expected BATCH_ID alone, got also "other-batch"`),
      );
    }
    const unquoted = await runCli(['cancel', 'some-batch', 'too', 'slow'], { TEMPORAL_ADDRESS: address });
    assert.match(unquoted.stderr, /quote a reason: --reason/);
  });
});

describe('errors and exit codes', () => {
  test('usage errors name the command and point to its help; exit 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['status'], /^batch-llm status: expected exactly one BATCH_ID$/],
      [['status', 'a', '--watchh'], /^batch-llm status: .*--watchh/],
      [
        ['results', 'a', '--order', 'alphabetical'],
        /^batch-llm results: --order must be one of input, finish \(got "alphabetical"\)$/,
      ],
      [['emulator', '--port', 'eighty'], /^batch-llm emulator: --port must be a number \(got "eighty"\)$/],
      [
        ['demo', '--concurrency', 'fast'],
        /^batch-llm demo: --concurrency must be auto or a whole number from 1 to 10000 \(got "fast"\)$/,
      ],
    ];
    assert.equal(cases.length, 5);
    for (const [args, expected] of cases) {
      const run = await runCli(args);
      assert.equal(run.code, EXIT_CODES.usage, `${args.join(' ')}: ${run.stderr}`);
      const lines = stderrLines(run);
      assert.equal(lines.length, 2, run.stderr);
      assert.match(lines[0]!, expected);
      assert.equal(lines[1], `See: batch-llm ${args[0]} --help`);
    }
  });

  test('no results for a batch is "not found" (exit 4), without the usage hint', async () => {
    const directory = mkdtempSync(path.join(os.tmpdir(), 'batch-llm-noresults-'));
    const run = await runCli(['results', 'never-ran', '--results-dir', directory]);
    assert.equal(run.code, EXIT_CODES.notFound, run.stderr);
    assert.deepEqual(stderrLines(run), [
      `batch-llm results: no results for batch "never-ran" under ${directory} (wrong --results-dir, or nothing has finished yet)`,
    ]);
  });

  test('--help answers from the spec alone, even where the command would fail', async () => {
    const run = await runCli(['start', '--input', 'missing.jsonl', '--help'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    assert.equal(run.code, EXIT_CODES.ok, run.stderr);
    assert.match(run.stdout, /^Usage: batch-llm start /m);
    const main = await runCli(['--help']);
    assert.match(main.stdout, new RegExp(`^Exit codes: ${EXIT_CODES.ok} ok, `, 'm'));
  });
});

describe('docs/cli.md', () => {
  test('its exit-code table lists every code the command line uses, and no other', () => {
    const page = readFileSync(path.join(REPO_ROOT, 'docs', 'cli.md'), 'utf8');
    const start = page.indexOf('## Exit codes');
    assert.ok(start >= 0, 'docs/cli.md has an "Exit codes" section');
    const end = page.indexOf('\n## ', start + 1);
    const section = page.slice(start, end === -1 ? undefined : end);
    const documented = [...section.matchAll(/^\| (\d+) \|/gm)].map((match) => Number(match[1]));
    const codes = Object.values(EXIT_CODES);
    assert.equal(documented.length, codes.length);
    assert.deepEqual(
      documented,
      [...codes].sort((a, b) => a - b),
    );
  });
});

describe('errors that need a server to be known', () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack();
  });
  after(async () => {
    await stack?.teardown();
  });

  test('status of an unknown batch is "not found" (exit 4); starting a batch id again is a conflict (exit 5); neither shows the usage hint', async () => {
    const env = { TEMPORAL_ADDRESS: stack.address, TEMPORAL_TASK_QUEUE: uniqueName('tq') };
    const unknown = await runCli(['status', uniqueName('nope')], env);
    assert.equal(unknown.code, EXIT_CODES.notFound, unknown.stderr);
    assert.deepEqual(stderrLines(unknown).length, 1, unknown.stderr);
    assert.match(unknown.stderr, /^batch-llm status: no batch ".*nope.*"/);

    const batchId = uniqueName('twice');
    const first = await runCli(
      ['start', '--input', 'data/demo-products.jsonl', '--task', 'demo-enrichment', '--batch-id', batchId],
      env,
    );
    assert.equal(first.code, EXIT_CODES.ok, first.stderr);
    const second = await runCli(
      ['start', '--input', 'data/demo-products.jsonl', '--task', 'demo-enrichment', '--batch-id', batchId],
      env,
    );
    assert.equal(second.code, EXIT_CODES.conflict, second.stderr);
    assert.equal(stderrLines(second).length, 1, second.stderr);
    assert.match(second.stderr, new RegExp(`^batch-llm start: batch "${batchId}" is already running`));
    await stack.client.workflow.getHandle(batchId).terminate('test over');
  });
});
