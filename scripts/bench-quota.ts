/**
 * Quota benchmark (a script, not a test): the emulator enforces per-minute quotas like Google; a
 * batch runs (a) with `--rpm R` on the workers (admission by the quota-scope workflow plus the
 * coordinated 429 cooldown), (b) with the cooldown alone, and (c) with `--tpm T` against an
 * input-token quota. Prints the share of the limit each used and the share of calls answered 429.
 *   npm run bench:quota -- [--rpm 120] [--tpm 12000] [--items 300] [--latency-ms 200]
 *
 * "Share used" is admitted calls (or prompt tokens) per minute over the span from the first to
 * the last admitted call, divided by the limit. A run shorter than a few minutes can exceed 100 %
 * when it bursts: the quota is a sliding 60-second window, so a burst at the start and another a
 * minute later both fit.
 */
import { parseArgs } from 'node:util';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { BatchClient } from '../src/client/batch-client';
import { GeminiEmulator, type QuotaLimits } from '@durable-batch-llm/gemini-emulator';
import { createGeminiClient } from '../src/providers/gemini/client';
import { createTaskRegistry } from '../src/tasks/registry';
import { startDevServer } from '../src/temporal/dev-server';
import { createBatchWorker } from '../src/worker';

Runtime.install({ logger: new DefaultLogger('ERROR') });

interface Run {
  label: string;
  /** What the emulator enforces. */
  quota: QuotaLimits;
  /** What the workers are told. */
  limits: { requestsPerMinute?: number; tokensPerMinute?: number };
  /** Padding per record, to make prompts big enough for a token quota to bind. */
  padding: string;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rpm: { type: 'string' },
      tpm: { type: 'string' },
      items: { type: 'string' },
      'latency-ms': { type: 'string' },
    },
  });
  const rpm = Number(values.rpm ?? 120);
  const tpm = Number(values.tpm ?? 12_000);
  const items = Number(values.items ?? 300);
  const latencyMs = Number(values['latency-ms'] ?? 200);
  const env = await startDevServer();
  const emulator = await GeminiEmulator.start({ latency: { baseMs: latencyMs, jitterMs: latencyMs / 2 } });
  const tasks = await createTaskRegistry([path.join(__dirname, '..', 'test', 'fixtures', 'tasks.ts')]);
  // ~100 prompt tokens a call: T = 12,000 a minute binds at ~2 calls a second.
  const padding = 'lorem ipsum '.repeat(30);
  const runs: Run[] = [
    {
      label: `--rpm ${rpm} + cooldown`,
      quota: { requestsPerMinute: rpm },
      limits: { requestsPerMinute: rpm },
      padding: '',
    },
    { label: 'cooldown only', quota: { requestsPerMinute: rpm }, limits: {}, padding: '' },
    { label: `--tpm ${tpm} + cooldown`, quota: { tokensPerMinute: tpm }, limits: { tokensPerMinute: tpm }, padding },
  ];
  const rows: string[][] = [];
  try {
    for (const run of runs) {
      emulator.reset();
      emulator.configure({ quota: run.quota });
      const taskQueue = `bench-${run.label.replace(/\W+/g, '-')}-${Date.now()}`;
      const worker = await createBatchWorker({
        connection: env.nativeConnection,
        namespace: 'default',
        taskQueue,
        tasks,
        gemini: createGeminiClient({ apiKey: 'bench', baseUrl: emulator.url }),
        resultsDirectory: mkdtempSync(path.join(os.tmpdir(), 'bench-quota-')),
        ...run.limits,
      });
      const running = worker.run();
      const batchClient = new BatchClient(env.client, { taskQueue, namespace: 'default', webUiUrl: '' });
      const batchId = `bench-${Date.now()}`;
      await batchClient.start({
        taskName: 'test-echo',
        batchId,
        records: Array.from({ length: items }, (_, index) => ({
          id: `r${index}`,
          ...(run.padding ? { text: run.padding } : {}),
        })),
        concurrency: 50,
        options: { maxModelCalls: 20 },
      });
      const summary = await batchClient.summary(batchId);
      worker.shutdown();
      await running;
      const stats = emulator.quotaStats();
      const admitted = emulator.generateCalls().filter((call) => call.status === 200);
      const starts = admitted.map((call) => call.startedAtMs);
      const minutes = (Math.max(...starts) - Math.min(...starts)) / 60_000;
      const byTokens = run.quota.tokensPerMinute !== undefined;
      const used = byTokens
        ? admitted.reduce((sum, call) => sum + call.promptTokens, 0) / minutes / run.quota.tokensPerMinute!
        : admitted.length / minutes / run.quota.requestsPerMinute!;
      const rejectedShare = stats.rejected / (stats.admitted + stats.rejected);
      rows.push([
        run.label,
        String(summary.succeeded),
        `${(summary.durationMs / 1000).toFixed(1)} s`,
        `${(used * 100).toFixed(1)} % of ${byTokens ? `T=${run.quota.tokensPerMinute} tokens` : `R=${run.quota.requestsPerMinute} requests`}/min`,
        `${(rejectedShare * 100).toFixed(2)} %`,
      ]);
    }
  } finally {
    await emulator.stop();
    await env.teardown();
  }
  const header = ['run', 'succeeded', 'wall time', 'share of the quota used', 'calls answered 429'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  for (const row of [header, ...rows]) console.log(row.map((cell, column) => cell.padEnd(widths[column]!)).join('  '));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
