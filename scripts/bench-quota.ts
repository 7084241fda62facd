/**
 * Quota benchmark (a script, not a test): the emulator enforces R requests per minute, like
 * Google; a batch runs (a) with `--rpm R` on the workers (server-side task-queue rate limit plus
 * the coordinated 429 cooldown) and (b) with the cooldown alone. Prints the share of R each used
 * and the share of calls answered 429.   npm run bench:quota -- [--rpm 120] [--items 240]
 *
 * "Share of R used" is admitted calls per minute over the span from the first to the last admitted
 * call, divided by R. A run shorter than a few minutes can exceed 100 % when it bursts: the quota
 * is a sliding 60-second window, so a burst at the start and another a minute later both fit.
 */
import { parseArgs } from 'node:util';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { BatchClient } from '../src/client/batch-client';
import { GeminiEmulator } from '../src/emulator';
import { createGeminiClient } from '../src/gemini';
import { createTaskRegistry } from '../src/tasks/registry';
import { startDevServer } from '../src/temporal/dev-server';
import { createBatchWorker } from '../src/worker';

Runtime.install({ logger: new DefaultLogger('ERROR') });

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rpm: { type: 'string' }, items: { type: 'string' }, 'latency-ms': { type: 'string' } } });
  const rpm = Number(values.rpm ?? 120);
  const items = Number(values.items ?? 240);
  const latencyMs = Number(values['latency-ms'] ?? 200);
  const env = await startDevServer();
  const emulator = await GeminiEmulator.start({ latency: { baseMs: latencyMs, jitterMs: latencyMs / 2 }, quota: { requestsPerMinute: rpm } });
  const tasks = await createTaskRegistry([path.join(__dirname, '..', 'test', 'fixtures', 'tasks.ts')]);
  const rows: string[][] = [];
  try {
    for (const [label, requestsPerMinute] of [
      [`--rpm ${rpm} + cooldown`, rpm],
      ['cooldown only', undefined],
    ] as const) {
      emulator.reset();
      const taskQueue = `bench-${label.replace(/\W+/g, '-')}`;
      const worker = await createBatchWorker({
        connection: env.nativeConnection,
        namespace: 'default',
        taskQueue,
        tasks,
        gemini: createGeminiClient({ apiKey: 'bench', baseUrl: emulator.url }),
        resultsDirectory: mkdtempSync(path.join(os.tmpdir(), 'bench-quota-')),
        ...(requestsPerMinute !== undefined ? { requestsPerMinute } : {}),
      });
      const running = worker.run();
      const batchClient = new BatchClient(env.client, { taskQueue, namespace: 'default', webUiUrl: '' });
      const batchId = `bench-${Date.now()}`;
      await batchClient.start({
        taskName: 'test-echo',
        batchId,
        records: Array.from({ length: items }, (_, index) => ({ id: `r${index}` })),
        concurrency: 50,
        options: { maxModelCalls: 20 },
      });
      const summary = await batchClient.summary(batchId);
      worker.shutdown();
      await running;
      const stats = emulator.quotaStats();
      const admitted = emulator.admittedTimestamps();
      const minutes = (Math.max(...admitted) - Math.min(...admitted)) / 60_000;
      const used = admitted.length / minutes / rpm;
      const rejectedShare = stats.rejected / (stats.admitted + stats.rejected);
      rows.push([label, String(summary.succeeded), `${(summary.durationMs / 1000).toFixed(1)} s`, `${(used * 100).toFixed(1)} %`, `${(rejectedShare * 100).toFixed(2)} %`]);
    }
  } finally {
    await emulator.stop();
    await env.teardown();
  }
  const header = ['run', 'succeeded', 'wall time', `share of R=${rpm}/min used`, 'calls answered 429'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  for (const row of [header, ...rows]) console.log(row.map((cell, column) => cell.padEnd(widths[column]!)).join('  '));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
