/**
 * Workers writing results to PostgreSQL: `batch-llm worker` processes with BATCH_LLM_RESULTS_URL
 * serve one batch against the emulator, one of them SIGKILLed mid-batch; the table holds exactly
 * one row per item, and `results` through the bin (from the database, not a directory) agrees with
 * `status`. The password in the URL appears in no output.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { EXIT_CODES } from '../../src/client/errors';
import { RESULTS_TABLE } from '../../src/results-postgres';
import type { BatchSummary, ItemResult } from '../../src/schemas';
import { runCli, spawnCli } from '../helpers/cli';
import { PG_PASSWORD, postgresUnavailable, startTestPostgres, type TestPostgres } from '../helpers/postgres';
import { startTestStack, uniqueName, type TestStack } from '../helpers/stack';

const skip = postgresUnavailable();

describe('workers on a PostgreSQL results store', skip ? { skip } : {}, () => {
  let stack: TestStack;
  let postgres: TestPostgres;
  let url: string;
  let sql: pg.Client;
  const workers = new Set<ChildProcess>();
  /** Everything the workers printed, to check no password leaks. */
  let workerOutput = '';
  const work = mkdtempSync(path.join(os.tmpdir(), 'batch-llm-pg-workers-'));
  /** One task queue and two worker processes for both tests (a worker takes seconds to start). */
  const taskQueue = uniqueName('tq');
  let serving: ChildProcess[] = [];

  before(async () => {
    [stack, postgres] = await Promise.all([
      startTestStack({ latency: { baseMs: 150, jitterMs: 100 } }),
      startTestPostgres(),
    ]);
    url = await postgres.createDatabase('workers');
    sql = new pg.Client({ connectionString: url });
    await sql.connect();
    serving = await Promise.all([startWorker(taskQueue), startWorker(taskQueue)]);
  });
  after(async () => {
    for (const worker of workers) worker.kill('SIGKILL');
    await sql?.end();
    await stack?.teardown();
    await postgres?.teardown();
    rmSync(work, { recursive: true, force: true });
  });

  const env = (queue: string) => ({ TEMPORAL_ADDRESS: stack.address, TEMPORAL_TASK_QUEUE: queue });

  /** `batch-llm worker` writing to the database; resolves once it polls. */
  async function startWorker(queue: string): Promise<ChildProcess> {
    const child = spawnCli(['worker', '--tasks', 'test/fixtures/tasks.ts'], {
      ...env(queue),
      GOOGLE_GEMINI_BASE_URL: stack.emulator.url,
      BATCH_LLM_RESULTS_URL: url,
      BATCH_LLM_LOG_LEVEL: 'INFO',
    });
    workers.add(child);
    child.once('exit', () => workers.delete(child));
    let printed = '';
    const record = (chunk: Buffer) => {
      printed += chunk.toString();
      workerOutput += chunk.toString();
    };
    child.stdout?.on('data', record);
    child.stderr?.on('data', record);
    while (!printed.includes('Worker on ')) {
      if (child.exitCode !== null) throw new Error(`the worker exited: ${printed}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.match(printed, /results in postgres:\/\/batchllm:\*\*\*@127\.0\.0\.1:\d+\/workers/);
    return child;
  }

  async function rowsOf(batchId: string): Promise<{ rows: number; items: number }> {
    const { rows } = await sql.query<{ rows: string; items: string }>(
      `SELECT count(*) AS rows, count(DISTINCT item_id) AS items FROM ${RESULTS_TABLE} WHERE batch_id = $1`,
      [batchId],
    );
    return { rows: Number(rows[0]?.rows), items: Number(rows[0]?.items) };
  }

  /** `results` through the bin, from the database. */
  async function exported(batchId: string, extra: string[] = []): Promise<ItemResult[]> {
    const run = await runCli(['results', batchId, '--address', stack.address, ...extra], {
      BATCH_LLM_RESULTS_URL: url,
    });
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stdout + run.stderr, new RegExp(PG_PASSWORD));
    return run.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as ItemResult);
  }

  test(
    'two worker processes serve one batch: one row per item; `results` and `status` agree',
    { timeout: 240_000 },
    async () => {
      const batchId = uniqueName('pg-two');
      const total = 80;
      // Every fifth item lacks what test-buggy's prompt needs: it fails (category unknown), the rest succeed.
      const inputFile = path.join(work, 'two.jsonl');
      const records = Array.from({ length: total }, (_, index) =>
        index % 5 === 0 ? { id: `r${index}` } : { id: `r${index}`, missing: { code: index } },
      );
      writeFileSync(inputFile, records.map((record) => JSON.stringify(record)).join('\n') + '\n');
      const started = await runCli(
        [
          'start',
          '--tasks',
          'test/fixtures/tasks.ts',
          '--input',
          inputFile,
          '--task',
          'test-buggy',
          '--batch-id',
          batchId,
          '--concurrency',
          '16',
          '--wait',
        ],
        env(taskQueue),
        180_000,
      );
      assert.equal(started.code, EXIT_CODES.itemsUnsuccessful, `items failed, as arranged: ${started.stderr}`);

      assert.deepEqual(await rowsOf(batchId), { rows: total, items: total });
      const status = await runCli(['status', batchId, '-o', 'json'], env(taskQueue));
      const summary = JSON.parse(status.stdout) as BatchSummary;
      assert.equal(summary.total, total);
      const results = await exported(batchId, ['--full']);
      assert.equal(results.length, total);
      assert.deepEqual(
        results.map((result) => result.index),
        Array.from({ length: total }, (_, index) => index),
        'input order',
      );
      const count = (status: ItemResult['status']) => results.filter((result) => result.status === status).length;
      assert.equal(count('succeeded'), summary.succeeded);
      assert.equal(count('failed'), summary.failed);
      assert.equal(summary.failed, total / 5);
      assert.deepEqual(summary.byCategory, { unknown: total / 5 });

      const failed = await exported(batchId, [
        '--status',
        'failed',
        '--with-input',
        '--fields',
        'itemId,error.category,input',
      ]);
      assert.equal(failed.length, total / 5);
      for (const line of failed as unknown as Array<Record<string, unknown>>) {
        assert.equal(line['error.category'], 'unknown');
        assert.deepEqual(line['input'], { id: line['itemId'] }, 'the input record joined back');
      }
      assert.doesNotMatch(workerOutput, new RegExp(PG_PASSWORD));
    },
  );

  test('a worker SIGKILLed mid-batch and replaced: still exactly one row per item', { timeout: 240_000 }, async () => {
    const batchId = uniqueName('pg-kill');
    const total = 120;
    const [victim] = serving;
    const start = await runCli(
      [
        'start',
        '--tasks',
        'test/fixtures/tasks.ts',
        '--task',
        'test-echo',
        '--batch-id',
        batchId,
        '--concurrency',
        '20',
        '--call-timeout-ms',
        '2000',
        '--input',
        writeInput('kill.jsonl', total),
      ],
      env(taskQueue),
    );
    assert.equal(start.code, 0, start.stderr);
    // Kill once rows are being written and calls are in flight.
    let rowsAtKill = 0;
    while (rowsAtKill < 25 || stack.emulator.inFlight === 0) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (rowsAtKill < 25) rowsAtKill = (await rowsOf(batchId)).rows;
    }
    victim?.kill('SIGKILL');
    if (victim) await once(victim, 'exit');
    assert.ok(rowsAtKill < total - 25, `the batch was far from done at the kill (${rowsAtKill} rows)`);
    await startWorker(taskQueue);

    const status = await runCli(['status', batchId, '--watch', '-o', 'json'], env(taskQueue), 180_000);
    const summary = JSON.parse(status.stdout) as BatchSummary;
    assert.equal(summary.total, total);
    assert.equal(summary.succeeded, total, status.stderr);
    assert.deepEqual(await rowsOf(batchId), { rows: total, items: total });
    const results = await exported(batchId, ['--order', 'finish']);
    assert.equal(results.length, total);
    assert.equal(new Set(results.map((result) => result.itemId)).size, total);
    console.log(`pg kill test: ${rowsAtKill}/${total} rows at SIGKILL`);
  });

  test('a worker with a wrong password stops at start, saying why, without the password', async () => {
    const wrong = url.replace(encodeURIComponent(PG_PASSWORD), 'wrong-Pa55word');
    const run = await runCli(['worker', '--tasks', 'test/fixtures/tasks.ts', '--results-url', wrong], {
      ...env(uniqueName('tq')),
      GOOGLE_GEMINI_BASE_URL: stack.emulator.url,
    });
    assert.equal(run.code, 1, run.stderr);
    assert.match(
      run.stderr,
      /PostgreSQL results store postgres:\/\/batchllm:\*\*\*@127\.0\.0\.1:\d+\/workers: password authentication failed/,
    );
    assert.doesNotMatch(run.stdout + run.stderr, /wrong-Pa55word/);
  });

  function writeInput(name: string, total: number): string {
    const file = path.join(work, name);
    writeFileSync(
      file,
      Array.from({ length: total }, (_, index) => JSON.stringify({ id: `r${index}` })).join('\n') + '\n',
    );
    return file;
  }
});
