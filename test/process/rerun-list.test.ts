/**
 * The operator's commands around a batch, driven through the bin: `rerun` (a follow-up batch of an
 * ended batch's unsuccessful items, linked to it), `list`, `-o json` on status and the controls,
 * and `--address` / `--namespace` over the environment.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EXIT_CODES } from '../../src/client/errors';
import { FileResultStore } from '../../src/results';
import type { BatchSummary } from '../../src/schemas';
import { withFaults } from '../helpers/batch';
import { runCli } from '../helpers/cli';
import { startTestStack, uniqueName, type RunningWorker, type TestStack } from '../helpers/stack';

describe('rerun, list and machine-readable output, through the bin', () => {
  let stack: TestStack;
  let worker: RunningWorker;
  let directory: string;
  const taskQueue = uniqueName('tq');
  before(async () => {
    stack = await startTestStack({ latency: { baseMs: 5, jitterMs: 5 } });
    worker = await stack.startWorker(taskQueue);
    directory = mkdtempSync(path.join(os.tmpdir(), 'batch-llm-rerun-'));
  });
  after(async () => {
    await worker?.stop();
    await stack?.teardown();
  });

  /** The environment names the task queue and results; the address comes from --address unless given. */
  const env = (withAddress = true) => ({
    ...(withAddress ? { TEMPORAL_ADDRESS: stack.address } : { TEMPORAL_ADDRESS: '127.0.0.1:1' }),
    TEMPORAL_TASK_QUEUE: taskQueue,
    BATCH_LLM_RESULTS_DIR: stack.resultsDirectory,
  });
  const cli = (args: string[]) => runCli(args, env());
  const json = <T>(stdout: string): T => JSON.parse(stdout) as T;
  const inputFile = (count: number) => {
    const file = path.join(directory, `${uniqueName('input')}.jsonl`);
    writeFileSync(file, Array.from({ length: count }, (_, index) => JSON.stringify({ id: `r${index}` })).join('\n'));
    return file;
  };
  const start = (file: string, batchId: string, extra: string[] = []) =>
    cli([
      'start',
      '--input',
      file,
      '--task',
      'test-echo',
      '--tasks',
      'test/fixtures/tasks.ts',
      '--batch-id',
      batchId,
      '--no-fail-fast',
      ...extra,
    ]);

  test('a rerun runs exactly the failed items again, is linked to its origin, and reports as JSON', async () => {
    const origin = uniqueName('origin');
    const file = inputFile(6);
    // r1 and r4 are refused for good (a 400 is not retried): they end failed, invalid_request.
    const first = await withFaults(
      stack.emulator,
      [`${origin}/r1`, `${origin}/r4`].map((itemKey) => ({ fault: 'invalid_request' as const, itemKey })),
      () => start(file, origin, ['--wait']),
    );
    assert.equal(first.code, EXIT_CODES.itemsUnsuccessful, first.stderr);

    const rerun = await cli(['rerun', origin, '--json']);
    assert.equal(rerun.code, 0, rerun.stderr);
    const started = json<{ batchId: string; itemCount: number; rerunOf: { batchId: string; statuses: string[] } }>(
      rerun.stdout,
    );
    assert.equal(started.batchId, `${origin}-rerun-1`, 'the default id numbers reruns of the origin');
    assert.equal(started.itemCount, 2);
    assert.equal(started.rerunOf.batchId, origin);
    assert.deepEqual(started.rerunOf.statuses, ['failed', 'blocked', 'cancelled', 'deadline_exceeded']);

    const watched = await cli(['status', started.batchId, '--watch', '-o', 'json']);
    assert.equal(watched.code, 0, watched.stderr);
    const summary = json<BatchSummary & { state: string }>(watched.stdout);
    assert.equal(summary.state, 'succeeded');
    assert.equal(summary.total, 2);
    assert.equal(summary.succeeded, 2);
    assert.equal(summary.rerunOf?.batchId, origin);

    // The results: the rerun holds exactly r1 and r4; only they were sent to the model again.
    const results = await new FileResultStore(stack.resultsDirectory).readAll(started.batchId);
    assert.equal(results.length, 2);
    assert.deepEqual(
      results.map((result) => result.itemId),
      ['r1', 'r4'],
    );
    const calls = stack.emulator.generateCalls({ itemKeyPrefix: `${started.batchId}/` });
    assert.equal(calls.length, 2);
    assert.deepEqual(calls.map((entry) => entry.itemKey).sort(), [`${started.batchId}/r1`, `${started.batchId}/r4`]);

    // `results --latest`: the origin and its rerun as one line per item, each its latest outcome.
    const merged = await cli(['results', origin, '--latest', '--fields', 'itemId,status,batchId']);
    assert.equal(merged.code, 0, merged.stderr);
    assert.match(merged.stderr, new RegExp(`and its reruns ${started.batchId}: each item's latest result`));
    const lines = merged.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, string>);
    assert.equal(lines.length, 6);
    assert.deepEqual(
      lines.map((line) => [line['itemId'], line['status'], line['batchId']]),
      ['r0', 'r1', 'r2', 'r3', 'r4', 'r5'].map((id) => [
        id,
        'succeeded',
        id === 'r1' || id === 'r4' ? started.batchId : origin,
      ]),
    );
    const stillFailed = await cli(['results', origin, '--latest', '--status', 'failed']);
    assert.equal(stillFailed.code, 0, stillFailed.stderr);
    assert.equal(stillFailed.stdout, '', 'no item is failed any more, once its rerun succeeded');
    const own = await cli(['results', origin, '--status', 'failed', '--fields', 'itemId']);
    assert.deepEqual(
      own.stdout.trim().split('\n'),
      ['{"itemId":"r1"}', '{"itemId":"r4"}'],
      "without --latest, the batch's own",
    );

    // Temporal knows the link: a search attribute the Web UI filters on, shown by `status` and `list`.
    const linked = [];
    for await (const execution of stack.client.workflow.list({ query: `RerunOf = "${origin}"` }))
      linked.push(execution.workflowId);
    assert.deepEqual(linked, [started.batchId]);
    const status = await cli(['status', started.batchId]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(
      status.stdout,
      new RegExp(`rerun of failed or blocked or cancelled or deadline_exceeded items of batch "${origin}"`),
    );

    const listed = await cli(['list', '--json', '--limit', '50']);
    assert.equal(listed.code, 0, listed.stderr);
    const batches = json<Array<{ batchId: string; state: string; rerunOf?: string; progress?: BatchSummary }>>(
      listed.stdout,
    );
    const mine = batches.filter((batch) => batch.batchId.startsWith(origin));
    assert.equal(mine.length, 2);
    assert.deepEqual(
      mine.map((batch) => [batch.batchId, batch.state, batch.rerunOf, batch.progress?.total]),
      [
        [started.batchId, 'succeeded', origin, 2],
        [origin, 'completed_with_failures', undefined, 6],
      ],
      'newest first, each with its state and counts',
    );
    const table = await cli(['list', '--limit', '50']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^BATCH +STATE +DONE +NOT OK +COST +STARTED \(UTC\) +TASK/m);
    assert.match(table.stdout, new RegExp(`^${origin} +completed_with_failures +6/6 +2 unsuccessful`, 'm'));
    assert.match(table.stdout, new RegExp(`^${started.batchId} +succeeded +2/2 .* rerun of ${origin}$`, 'm'));

    // Nothing matches: the rerun is refused by its worker, naming the selection; nothing is called.
    const callsBefore = stack.emulator.generateCalls().length;
    const none = await cli(['rerun', origin, '--status', 'blocked', '--batch-id', `${origin}-none`]);
    assert.equal(none.code, EXIT_CODES.input, none.stdout);
    assert.match(none.stderr, new RegExp(`no blocked items of batch "${origin}"`));
    assert.equal(stack.emulator.generateCalls().length, callsBefore);

    // Bad selections are usage errors before anything connects.
    const badStatus = await cli(['rerun', origin, '--status', 'faild']);
    assert.equal(badStatus.code, EXIT_CODES.usage);
    assert.match(badStatus.stderr, /unknown status "faild"; known: succeeded, failed/);
    const badCategory = await cli(['rerun', origin, '--category', 'quota']);
    assert.equal(badCategory.code, EXIT_CODES.usage);
    assert.match(badCategory.stderr, /unknown error category "quota"/);
  });

  test('a rerun by category picks only those items; a running origin is refused (exit 5); --address beats the environment', async () => {
    const origin = uniqueName('origin');
    const file = inputFile(4);
    const first = await withFaults(
      stack.emulator,
      [
        { fault: 'invalid_request' as const, itemKey: `${origin}/r0` },
        { fault: 'permission_denied' as const, itemKey: `${origin}/r2` },
      ],
      () => start(file, origin, ['--wait']),
    );
    assert.equal(first.code, EXIT_CODES.itemsUnsuccessful, first.stderr);
    const rerun = await cli([
      'rerun',
      origin,
      '--category',
      'permission_denied',
      '--batch-id',
      `${origin}-perm`,
      '--wait',
      '--json',
    ]);
    assert.equal(rerun.code, 0, rerun.stderr);
    const summary = json<BatchSummary>(rerun.stdout);
    assert.equal(summary.total, 1);
    assert.deepEqual(
      (await new FileResultStore(stack.resultsDirectory).readAll(`${origin}-perm`)).map((result) => result.itemId),
      ['r2'],
    );

    // A batch whose calls hang is still running (and then paused): its items cannot be rerun yet.
    const running = uniqueName('running');
    await withFaults(stack.emulator, [{ fault: 'hang' as const, itemKeyPrefix: `${running}/` }], async () => {
      assert.equal((await start(inputFile(3), running, ['--concurrency', '1'])).code, 0);
      const paused = await runCli(['pause', running, '-o', 'json', '--address', stack.address], env(false));
      assert.equal(paused.code, 0, paused.stderr);
      assert.deepEqual(json<{ batchId: string; paused: boolean; concurrency: number }>(paused.stdout), {
        batchId: running,
        paused: true,
        concurrency: 1,
      });
      const refused = await cli(['rerun', running]);
      assert.equal(refused.code, EXIT_CODES.conflict, refused.stderr);
      assert.match(refused.stderr, new RegExp(`batch "${running}" is still running`));
      const runningOnly = await cli(['list', '--running', '--json']);
      const runningIds = json<Array<{ batchId: string; state: string }>>(runningOnly.stdout).map((batch) => [
        batch.batchId,
        batch.state,
      ]);
      assert.deepEqual(runningIds, [[running, 'paused']]);

      // Without --address the environment's (dead) address is used: exit 6, naming it.
      const unreachable = await runCli(['status', running], env(false));
      assert.equal(unreachable.code, EXIT_CODES.connection);
      assert.match(unreachable.stderr, /127\.0\.0\.1:1/);
      const wrongNamespace = await runCli(
        ['status', running, '--address', stack.address, '--namespace', 'nowhere'],
        env(false),
      );
      assert.notEqual(wrongNamespace.code, 0);
      const cancelled = await runCli(['cancel', running, '--json', '--address', stack.address], env(false));
      assert.equal(cancelled.code, 0, cancelled.stderr);
      assert.equal(json<{ stop?: { kind: string } }>(cancelled.stdout).stop?.kind, 'cancelled');
    });
  });
});
