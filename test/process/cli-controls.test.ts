/**
 * The batch controls through the bin: `batch-llm pause | resume | set-concurrency | cancel` on a
 * batch started elsewhere, and what they say to a batch that has ended or does not exist. (The
 * controls themselves are in test/integration/controls.test.ts.)
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EXIT_CODES } from '../../src/client/errors';
import { runCli } from '../helpers/cli';
import { uniqueName, useStackWithWorker, type TestStack } from '../helpers/stack';

function records(count: number): Array<{ id: string }> {
  return Array.from({ length: count }, (_, index) => ({ id: `r${String(index).padStart(2, '0')}` }));
}

describe('batch controls through the CLI', () => {
  let stack!: TestStack;
  const taskQueue = useStackWithWorker((started) => (stack = started), { latency: { baseMs: 200, jitterMs: 0 } });

  async function start(count: number, extra: Record<string, unknown> = {}) {
    const batchId = uniqueName('ctl');
    const batchClient = stack.batchClient(taskQueue);
    await batchClient.start({ taskName: 'test-echo', batchId, records: records(count), concurrency: 3, ...extra });
    return { batchId, batchClient };
  }

  test('the CLI pauses, resumes, changes concurrency and cancels a batch started elsewhere, and says when a batch has already ended', async () => {
    // Long enough to outlast five CLI starts (about 1.5 s each).
    const { batchId, batchClient } = await start(200, { concurrency: 2 });
    const env = { TEMPORAL_ADDRESS: stack.address, TEMPORAL_TASK_QUEUE: taskQueue };
    const pause = await runCli(['pause', batchId], env);
    assert.equal(pause.code, 0, pause.stderr);
    assert.match(pause.stdout, /paused/);
    assert.equal((await batchClient.progress(batchId)).control.paused, true);
    const resume = await runCli(['resume', batchId], env);
    assert.equal(resume.code, 0, resume.stderr);
    assert.equal((await batchClient.progress(batchId)).control.paused, false);
    const widen = await runCli(['set-concurrency', batchId, '5'], env);
    assert.equal(widen.code, 0, widen.stderr);
    assert.equal((await batchClient.progress(batchId)).control.concurrency, 5);
    const bad = await runCli(['set-concurrency', batchId, 'lots'], env);
    assert.equal(bad.code, EXIT_CODES.usage);
    const cancel = await runCli(['cancel', batchId, '--reason', 'test over'], env);
    assert.equal(cancel.code, 0, cancel.stderr);
    const summary = await batchClient.summary(batchId);
    assert.deepEqual(summary.control.stop, { kind: 'cancelled', reason: 'test over' });
    const late = await runCli(['pause', batchId], env);
    assert.equal(late.code, EXIT_CODES.notFound);
    assert.match(
      late.stderr,
      new RegExp(`batch "${batchId}" has already ended \\(COMPLETED\\); there is nothing to pause`),
    );
    const unknown = await runCli(['resume', `${batchId}-nope`], env);
    assert.equal(unknown.code, EXIT_CODES.notFound);
    assert.match(unknown.stderr, /no batch ".*-nope" in namespace default/);
  });
});
