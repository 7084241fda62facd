/**
 * Scale run (a script, not a test): N items (default 100,000) from a JSONL file through the dev
 * server (its history in a SQLite file, as `dev` runs it; `--in-memory` for the tests' kind), one
 * worker process and a fast emulator. Prints wall time, items/s, the worker's and the server's
 * peak RSS and CPU, the database size, the largest batch-run history, the number of runs, and
 * checks results count = input count.
 *   npm run scale -- [--items 100000] [--concurrency 200] [--latency-ms 5] [--events-per-run 7000] [--in-memory]
 */
import { mkdtempSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { BatchClient } from '../src/client/batch-client';
import { GeminiEmulator } from '@durable-batch-llm/gemini-emulator';
import { startDevServer } from '../src/temporal/dev-server';
import { cpuMsOf, devServerPid, peakRssMiB } from './process-stats';
import { countResultLines, startWorkerProcess, writeItemsFile } from './run-support';

Runtime.install({ logger: new DefaultLogger('ERROR') });

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      items: { type: 'string' },
      concurrency: { type: 'string' },
      'latency-ms': { type: 'string' },
      'events-per-run': { type: 'string' },
      'in-memory': { type: 'boolean', default: false },
    },
  });
  const total = Number(values.items ?? 100_000);
  const concurrency = Number(values.concurrency ?? 200);
  const latencyMs = Number(values['latency-ms'] ?? 5);
  const eventsPerRun = values['events-per-run'] ? Number(values['events-per-run']) : undefined;
  const work = mkdtempSync(path.join(os.tmpdir(), 'scale-run-'));
  const inputFile = writeItemsFile(work, total);
  const resultsDirectory = path.join(work, 'results');

  // In memory, the dev server keeps every closed item's history, state and visibility rows in its
  // own heap (~0.1 MB an item, more with the Go heap's headroom): 100,000 items outgrow 24 GiB.
  const dbFilename = values['in-memory'] ? undefined : path.join(work, 'temporal.db');
  const env = await startDevServer(dbFilename ? { dbFilename } : {});
  const server = devServerPid();
  const emulator = await GeminiEmulator.start({ latency: { baseMs: latencyMs, jitterMs: latencyMs / 2 } });
  const taskQueue = `scale-${Date.now()}`;
  const worker = await startWorkerProcess({
    address: env.connection.options.address,
    taskQueue,
    emulatorUrl: emulator.url,
    resultsDirectory,
  });
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, peakRssMiB(worker.pid) ?? 0)), 1_000);
  const cpuBefore = { worker: cpuMsOf(worker.pid) ?? 0, server: cpuMsOf(server) ?? 0 };
  try {
    const batchClient = new BatchClient(env.client, { taskQueue, namespace: 'default', webUiUrl: '' });
    const batchId = `scale-${total}-${Date.now()}`;
    const began = Date.now();
    await batchClient.start({
      taskName: 'test-echo',
      batchId,
      inputFile,
      concurrency,
      ...(eventsPerRun ? { historyEventsPerRun: eventsPerRun } : {}),
    });
    const progressTimer = setInterval(() => {
      batchClient.progress(batchId).then(
        (progress) =>
          console.error(
            `  ${progress.succeeded + progress.failed}/${total} finished, run ${progress.runs} (largest finished run ${progress.largestRunEvents} events), ${((progress.succeeded + progress.failed) / ((Date.now() - began) / 1000)).toFixed(1)} items/s, worker peak RSS ${peak.toFixed(0)} MiB, server peak RSS ${(peakRssMiB(server) ?? 0).toFixed(0)} MiB`,
          ),
        (error: unknown) => console.error(`  progress unavailable: ${String(error)}`),
      );
    }, 30_000);
    const summary = await batchClient.summary(batchId);
    clearInterval(progressTimer);
    const wallSeconds = (Date.now() - began) / 1000;
    let largest = 0;
    let runs = 0;
    for await (const execution of env.client.workflow.list({ query: `WorkflowId = "${batchId}"` })) {
      runs += 1;
      largest = Math.max(largest, execution.historyLength);
    }
    const results = await countResultLines(path.join(resultsDirectory, batchId, 'results.jsonl'));
    peak = Math.max(peak, peakRssMiB(worker.pid) ?? 0);
    const cpuPerItem = (pid: number | undefined, before: number) =>
      `${(((cpuMsOf(pid) ?? before) - before) / total).toFixed(1)} ms`;
    const rows: Array<[string, string]> = [
      ['items', String(total)],
      ['succeeded / failed', `${summary.succeeded} / ${summary.failed}`],
      ['concurrency, emulator latency', `${concurrency}, ${latencyMs} ± ${latencyMs / 2} ms`],
      ['wall time (start → summary)', `${wallSeconds.toFixed(1)} s`],
      ['items/s', (total / wallSeconds).toFixed(1)],
      ['worker peak RSS, CPU per item', `${peak.toFixed(0)} MiB, ${cpuPerItem(worker.pid, cpuBefore.worker)}`],
      [
        'dev server peak RSS, CPU per item',
        `${(peakRssMiB(server) ?? 0).toFixed(0)} MiB, ${cpuPerItem(server, cpuBefore.server)}`,
      ],
      [
        'dev server database',
        dbFilename ? `${(statSync(dbFilename).size / 2 ** 20).toFixed(0)} MiB (SQLite file)` : 'in memory',
      ],
      ['batch runs (continue-as-new)', `${runs} (summary says ${summary.runs})`],
      ['largest batch-run history', `${largest} events`],
      [
        'results lines / distinct items',
        `${results.lines} / ${results.ids}${results.lines === total && results.ids === total ? ' = input count' : ' — MISMATCH'}`,
      ],
    ];
    const width = Math.max(...rows.map(([name]) => name.length)) + 2;
    for (const [name, value] of rows) console.log(`${name.padEnd(width)}${value}`);
    if (results.lines !== total || results.ids !== total) process.exitCode = 1;
  } finally {
    clearInterval(sampler);
    worker.kill('SIGTERM');
    await emulator.stop();
    await env.teardown();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
