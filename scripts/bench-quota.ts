/**
 * Quota benchmark (a script, not a test): the emulator enforces per-minute quotas like Google; a
 * batch runs (a) with `--rpm R` on the workers (admission by the quota-scope workflow plus the
 * coordinated 429 cooldown), (b) with the cooldown alone, and (c) with `--tpm T` against an
 * input-token quota. Prints the share of the limit each used and the share of calls answered 429.
 *   npm run bench:quota -- [--rpm 120] [--tpm 12000] [--items 300] [--latency-ms 200]
 * With `--auto` it runs instead one batch with `--concurrency auto` against a quota the workers
 * are not told (`--rpm`, default 300), halved for the middle of three phases (`--phase-s`, default
 * 120 s each): the share of the quota used in the first two minutes and in each phase's second
 * half, and the share of calls answered 429.
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
import { quotaScopeQuery } from '../src/contract/messages';
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
      auto: { type: 'boolean' },
      'phase-s': { type: 'string' },
    },
  });
  if (values.auto)
    return benchAuto(Number(values.rpm ?? 300), Number(values['latency-ms'] ?? 200), Number(values['phase-s'] ?? 120));
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
      const worker = await benchWorker(env, emulator, tasks, taskQueue, run.limits);
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

/** `--concurrency auto` against an untold quota of `rpm`, halved in the middle phase. */
async function benchAuto(rpm: number, latencyMs: number, phaseS: number): Promise<void> {
  const env = await startDevServer();
  const emulator = await GeminiEmulator.start({ latency: { baseMs: latencyMs, jitterMs: latencyMs / 2 } });
  const tasks = await createTaskRegistry([path.join(__dirname, '..', 'test', 'fixtures', 'tasks.ts')]);
  const phases = [rpm, Math.round(rpm / 2), rpm];
  try {
    emulator.configure({ quota: { requestsPerMinute: phases[0]! } });
    const taskQueue = `bench-auto-${Date.now()}`;
    const worker = await benchWorker(env, emulator, tasks, taskQueue, {});
    const running = worker.run();
    const batchClient = new BatchClient(env.client, { taskQueue, namespace: 'default', webUiUrl: '' });
    const batchId = `bench-auto-${Date.now()}`;
    // More items than the phases can take: the batch is cancelled at the end.
    const items = Math.ceil((phases.reduce((sum, limit) => sum + limit, 0) * phaseS) / 60) + 200;
    const startedAt = Date.now();
    await batchClient.start({
      taskName: 'test-echo',
      batchId,
      records: Array.from({ length: items }, (_, index) => ({ id: `r${index}` })),
      concurrency: 'auto',
      options: { maxModelCalls: 20 },
    });
    // The scope's learned rate, every 30 s (the task's model; the worker's key fingerprint is `default`).
    const scope = env.client.workflow.getHandle(`quota/${taskQueue}/gemini-test-model/default`);
    const learned: string[] = [];
    for (let second = 30; second <= phases.length * phaseS; second += 30) {
      const phase = Math.floor((second - 1) / phaseS);
      if (second - 30 === phase * phaseS && phase > 0)
        emulator.configure({ quota: { requestsPerMinute: phases[phase]! } });
      await sleep(startedAt + second * 1000 - Date.now());
      const rate = await scope.query(quotaScopeQuery).then(
        (state) => state.adaptive,
        () => undefined,
      );
      learned.push(`${second}s:${rate ? Math.round(rate.rpm) : '?'}`);
    }
    const calls = emulator.generateCalls();
    await batchClient.cancel(batchId, 'bench over');
    // The items still queued are recorded `cancelled`; the counts above are what matters.
    await Promise.race([batchClient.summary(batchId), sleep(60_000)]);
    worker.shutdown();
    // The server stops only once the worker has let go of the connection.
    await running;
    const first = startedAt;
    const count = (fromS: number, toS: number, status?: number) =>
      calls.filter(
        (call) =>
          call.startedAtMs >= first + fromS * 1000 &&
          call.startedAtMs < first + toS * 1000 &&
          (status === undefined || call.status === status),
      ).length;
    const percent = (part: number, whole: number) => `${((part / whole) * 100).toFixed(1)} %`;
    const rows = [
      ['span', 'quota', 'calls admitted', 'share of the quota used', 'calls answered 429'],
      [
        'first two minutes',
        `${rpm}/min`,
        String(count(0, 120, 200)),
        percent(count(0, 120, 200), 2 * rpm),
        percent(count(0, 120, 429), count(0, 120)),
      ],
      [
        'second minute',
        `${rpm}/min`,
        String(count(60, 120, 200)),
        percent(count(60, 120, 200), rpm),
        percent(count(60, 120, 429), count(60, 120)),
      ],
      ...phases.map((limit, index) => {
        const from = index * phaseS + phaseS / 2;
        const to = (index + 1) * phaseS;
        const minutes = (to - from) / 60;
        return [
          `phase ${index + 1}, ${from}–${to} s`,
          `${limit}/min`,
          String(count(from, to, 200)),
          percent(count(from, to, 200), limit * minutes),
          percent(count(from, to, 429), count(from, to)),
        ];
      }),
      ['whole run', '', String(count(0, Infinity, 200)), '', percent(count(0, Infinity, 429), calls.length)],
    ];
    console.log(
      `--concurrency auto (cap 200), untold quota ${phases.join(' → ')} RPM, ${phaseS} s per phase, latency ${latencyMs} ms; ${calls.length} calls`,
    );
    console.log(`learned rate (RPM) by time since start: ${learned.join(' ')}`);
    const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
    for (const row of rows) console.log(row.map((cell, column) => cell.padEnd(widths[column]!)).join('  '));
  } finally {
    await emulator.stop();
    await env.teardown();
  }
}

/** One worker on the bench's server, calling the emulator, told `limits` (or none). */
function benchWorker(
  env: Awaited<ReturnType<typeof startDevServer>>,
  emulator: GeminiEmulator,
  tasks: Awaited<ReturnType<typeof createTaskRegistry>>,
  taskQueue: string,
  limits: Run['limits'],
) {
  return createBatchWorker({
    connection: env.nativeConnection,
    namespace: 'default',
    taskQueue,
    tasks,
    gemini: createGeminiClient({ apiKey: 'bench', baseUrl: emulator.url }),
    resultsDirectory: mkdtempSync(path.join(os.tmpdir(), 'bench-quota-')),
    ...limits,
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
