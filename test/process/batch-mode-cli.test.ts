/**
 * Batch Mode through the bin: `start --batch-api --job-size N --batch-poll-interval D --wait`
 * against a dev server, an in-process worker and the emulator's Batch Mode (short turnaround), then
 * `status` in text and JSON; the dry run's batch-price estimate; the job flags' usage errors.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { EXIT_CODES } from '../../src/client/errors';
import type { BatchApiProgress } from '../../src/schemas';
import { REPO_ROOT, runCli } from '../helpers/cli';
import { uniqueName, useStackWithWorker, type TestStack } from '../helpers/stack';

const DEMO = path.join(REPO_ROOT, 'data', 'demo-products.jsonl');

/** The first `count` demo products, as a JSONL file of their own. */
function demoInput(count: number): string {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'batch-llm-batch-cli-')), 'items.jsonl');
  writeFileSync(file, `${readFileSync(DEMO, 'utf8').trim().split('\n').slice(0, count).join('\n')}\n`);
  return file;
}

describe('Batch Mode through the CLI', () => {
  let stack!: TestStack;
  const taskQueue = useStackWithWorker((started) => (stack = started), {
    latency: { baseMs: 5, jitterMs: 5 },
    batch: { pendingMs: 100, runningMs: 200 },
  });

  test('start --batch-api --job-size 5 --wait: 12 items in 3 jobs, all answered by batch; status shows the jobs in text and JSON', async () => {
    const env = { TEMPORAL_ADDRESS: stack.address, TEMPORAL_TASK_QUEUE: taskQueue };
    const batchId = uniqueName('batch-cli');
    const started = await runCli(
      [
        'start',
        '--input',
        demoInput(12),
        '--task',
        'demo-enrichment',
        '--batch-id',
        batchId,
        '--batch-api',
        '--job-size',
        '5',
        '--batch-poll-interval',
        '150ms',
        '--deadline',
        '12h',
        '--wait',
      ],
      env,
    );
    assert.equal(started.code, EXIT_CODES.ok, started.stderr);
    // A deadline under 24 h is said at start, and the batch still runs.
    assert.match(
      started.stderr,
      /^batch-llm start: warning: the batch deadline is 1[12]\.\d h away, less than the 24 h/m,
    );
    assert.match(started.stdout, /items: +12 total: 12 succeeded/);
    assert.match(started.stdout, /batch api: +3 jobs of up to 5 items/);
    assert.match(
      started.stdout,
      /answered by batch jobs: 12 items; needed online calls: 0 items; batch requests 12, online requests 0; saved \$0\.\d{4} against online prices/,
    );
    assert.equal(stack.emulator.generateCalls({ itemKeyPrefix: `${batchId}/` }).length, 0, 'no online call');

    const [json, text] = await Promise.all([
      runCli(['status', batchId, '-o', 'json'], env),
      runCli(['status', batchId], env),
    ]);
    assert.equal(json.code, EXIT_CODES.ok, json.stderr);
    const { batchApi } = JSON.parse(json.stdout) as { batchApi: BatchApiProgress };
    assert.equal(batchApi.jobSize, 5);
    assert.deepEqual(
      batchApi.jobs.map((job) => [job.number, job.state, job.end - job.start]),
      [
        [1, 'downloaded', 5],
        [2, 'downloaded', 5],
        [3, 'downloaded', 2],
      ],
    );
    assert.ok(
      batchApi.jobs.every((job) => job.name?.startsWith('batches/')),
      'each job has its provider name',
    );
    assert.equal(batchApi.answeredByBatch, 12);
    assert.ok(batchApi.savedUsd > 0, 'batch prices saved money');
    assert.ok(batchApi.warning?.includes('less than the 24 h'), 'the warning is kept in the summary');

    assert.equal(text.code, EXIT_CODES.ok, text.stderr);
    assert.match(text.stdout, new RegExp(`^Batch ${batchId}: succeeded`, 'm'));
    assert.match(text.stdout, /^ {4}JOB +PROVIDER NAME +STATE +ITEMS +SUCCEEDED +FAILED +PENDING$/m);
    for (const [index, job] of batchApi.jobs.entries()) {
      const items = index < 2 ? 5 : 2;
      assert.match(
        text.stdout,
        new RegExp(`^ {4}${job.number} +${job.name ?? ''} +downloaded +${items} +${items} +0 +0$`, 'm'),
      );
    }
    assert.match(text.stdout, /answered by batch jobs: 12 items; needed online calls: 0 items/);
  });
});

describe('Batch Mode flags without a server', () => {
  // Nothing listens on port 1: neither command may need Temporal.
  const env = { TEMPORAL_ADDRESS: '127.0.0.1:1' };

  test('start --dry-run --batch-api shows the batch-price estimate next to the online one, and the jobs; --job-size without --batch-api is a usage error naming it', async () => {
    const [dry, stray] = await Promise.all([
      runCli(['start', '--dry-run', '-i', DEMO, '-t', 'demo-enrichment', '--batch-api', '--job-size', '20'], env),
      runCli(['start', '-i', DEMO, '-t', 'demo-enrichment', '--job-size', '5'], env),
    ]);
    assert.equal(stray.code, EXIT_CODES.usage, stray.stderr);
    assert.match(stray.stderr, /^batch-llm start: --job-size applies to Batch Mode only: add --batch-api$/m);

    assert.equal(dry.code, EXIT_CODES.ok, dry.stderr);
    const cost =
      /estimated cost: \$(\d+\.\d{4}) online, \$(\d+\.\d{4}) at batch prices \(--batch-api: online × 0\.5/.exec(
        dry.stdout,
      );
    assert.ok(cost, dry.stdout);
    assert.ok(Math.abs(Number(cost[2]) - Number(cost[1]) / 2) <= 0.0001, `${cost[2]} is half of ${cost[1]}`);
    assert.match(dry.stdout, /batch jobs: 3 of up to 20 items/);
  });
});
