/**
 * Batch Mode run (a script, not a test): N items (default 10,000) from a JSONL file through
 * `--batch-api` on the dev server (SQLite file, as `dev` runs it), one worker process and the
 * emulator's Batch Mode, some requests answered schema-invalid or with an error inside the jobs.
 * Prints the jobs, the provider's turnaround, the Temporal time and CPU per item, the online
 * calls the repairs needed, and the cost against the online path for the same tokens; checks
 * results count = input count and one job per group.
 *   npm run batch-mode-run -- [--items 10000] [--job-size 1000] [--concurrency 200]
 *     [--invalid-rate 0.02] [--error-rate 0.01] [--pending-ms 2000] [--running-ms 8000] [--poll-ms 1000]
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { GeminiEmulator } from '@durable-batch-llm/gemini-emulator';
import { BatchClient } from '../src/client/batch-client';
import { startDevServer } from '../src/temporal/dev-server';
import { cpuMsOf, devServerPid, peakRssMiB } from './process-stats';
import { countResultLines, startWorkerProcess, writeItemsFile } from './run-support';

Runtime.install({ logger: new DefaultLogger('ERROR') });

/** A priced model, so the run has a cost to compare (the emulator answers any model name). */
const MODEL = 'gemini-2.5-flash';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      items: { type: 'string' },
      'job-size': { type: 'string' },
      concurrency: { type: 'string' },
      'invalid-rate': { type: 'string' },
      'error-rate': { type: 'string' },
      'pending-ms': { type: 'string' },
      'running-ms': { type: 'string' },
      'poll-ms': { type: 'string' },
    },
  });
  const total = Number(values.items ?? 10_000);
  const jobSize = Number(values['job-size'] ?? 1_000);
  const concurrency = Number(values.concurrency ?? 200);
  const invalidRate = Number(values['invalid-rate'] ?? 0.02);
  const errorRate = Number(values['error-rate'] ?? 0.01);
  const pendingMs = Number(values['pending-ms'] ?? 2_000);
  const runningMs = Number(values['running-ms'] ?? 8_000);
  const pollMs = Number(values['poll-ms'] ?? 1_000);

  const work = mkdtempSync(path.join(os.tmpdir(), 'batch-mode-run-'));
  const inputFile = writeItemsFile(work, total);
  const resultsDirectory = path.join(work, 'results');
  const env = await startDevServer({ dbFilename: path.join(work, 'temporal.db') });
  const server = devServerPid();
  const emulator = await GeminiEmulator.start({
    latency: { baseMs: 5, jitterMs: 5 },
    batch: {
      pendingMs,
      runningMs,
      requestFaults: [
        { fault: 'schema_invalid', rate: invalidRate },
        { fault: 'error', rate: errorRate / (1 - invalidRate), code: 503, status: 'UNAVAILABLE' },
      ],
    },
  });
  const taskQueue = `batch-mode-${Date.now()}`;
  const worker = await startWorkerProcess({
    address: env.connection.options.address,
    taskQueue,
    emulatorUrl: emulator.url,
    resultsDirectory,
  });
  const cpuBefore = { worker: cpuMsOf(worker.pid) ?? 0, server: cpuMsOf(server) ?? 0 };
  try {
    const batchClient = new BatchClient(env.client, { taskQueue, namespace: 'default', webUiUrl: '' });
    const batchId = `batch-mode-${total}-${Date.now()}`;
    const began = Date.now();
    await batchClient.start({
      taskName: 'test-echo',
      batchId,
      inputFile,
      concurrency,
      options: { model: MODEL },
      batchApi: { jobSize, pollIntervalMs: pollMs, maxPollIntervalMs: pollMs * 4 },
    });
    const summary = await batchClient.summary(batchId);
    const wallSeconds = (Date.now() - began) / 1000;
    const api = summary.batchApi;
    if (!api) throw new Error('the summary has no Batch Mode section');
    const results = await countResultLines(path.join(resultsDirectory, batchId, 'results.jsonl'));
    const jobs = emulator.batchJobs().filter((job) => job.displayName?.startsWith(`${batchId}/`));
    const times = (key: 'submittedAt' | 'endedAt') => api.jobs.map((job) => Date.parse(job[key] ?? ''));
    const firstSubmit = Math.min(...times('submittedAt'));
    const lastEnd = Math.max(...times('endedAt'));
    const firstEnd = Math.min(...times('endedAt'));
    const finished = Date.parse(summary.finishedAt);
    const cpuPerItem = (pid: number | undefined, before: number) =>
      `${(((cpuMsOf(pid) ?? before) - before) / total).toFixed(1)} ms`;
    const onlineEstimate = summary.costUsd + api.savedUsd;
    const rows: Array<[string, string]> = [
      ['items', String(total)],
      ['succeeded / failed', `${summary.succeeded} / ${summary.failed}`],
      [
        'provider jobs (emulator: created / sizes)',
        `${jobs.length} / ${[...new Set(jobs.map((job) => job.requestCount))].join(', ')}`,
      ],
      [
        'emulated turnaround per job, request faults',
        `${pendingMs} ms pending + ${runningMs} ms running; ${invalidRate * 100}% schema-invalid, ${errorRate * 100}% errors`,
      ],
      ['wall time (start → summary)', `${wallSeconds.toFixed(1)} s`],
      ['jobs window (first submit → last job ended)', `${((lastEnd - firstSubmit) / 1000).toFixed(1)} s`],
      [
        'item phase (first job ended → batch done)',
        `${((finished - firstEnd) / 1000).toFixed(1)} s, ${((finished - firstEnd) / total).toFixed(2)} ms per item`,
      ],
      ['worker CPU per item', cpuPerItem(worker.pid, cpuBefore.worker)],
      ['dev server CPU per item', cpuPerItem(server, cpuBefore.server)],
      [
        'worker / server peak RSS',
        `${(peakRssMiB(worker.pid) ?? 0).toFixed(0)} / ${(peakRssMiB(server) ?? 0).toFixed(0)} MiB`,
      ],
      ['answered by batch alone / needed online', `${api.answeredByBatch} / ${api.neededOnline} items`],
      ['requests: batch / online', `${api.batchCalls} / ${api.onlineCalls}`],
      [
        `cost at ${MODEL} prices: batch run / same tokens online`,
        `$${summary.costUsd.toFixed(4)} / $${onlineEstimate.toFixed(4)} (saved $${api.savedUsd.toFixed(4)}, ${((100 * api.savedUsd) / onlineEstimate).toFixed(1)}%)`,
      ],
      [
        'results lines / distinct items',
        `${results.lines} / ${results.ids}${results.lines === total && results.ids === total ? ' = input count' : ' — MISMATCH'}`,
      ],
    ];
    const width = Math.max(...rows.map(([name]) => name.length)) + 2;
    for (const [name, value] of rows) console.log(`${name.padEnd(width)}${value}`);
    if (results.lines !== total || results.ids !== total || jobs.length !== Math.ceil(total / jobSize))
      process.exitCode = 1;
  } finally {
    worker.kill('SIGTERM');
    await emulator.stop();
    await env.teardown();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
