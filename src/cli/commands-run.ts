/** Long-running commands: dev, demo, worker, emulator. */
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { z } from 'zod';
import { BatchClient } from '../client/batch-client';
import { GeminiEmulator, FAULT_KINDS, type FaultRule, type EmulatorOptions } from '../emulator';
import { geminiOptionsFromEnv } from '../gemini';
import { createTaskRegistry } from '../tasks/registry';
import { connectionOptions, temporalConfigFromEnv } from '../temporal/config';
import { connectBatchWorker } from '../worker';
import { asStrings, commandHelp, flagValue, NonNegativeInt, parseCommandArgs, PortNumber, PositiveInt, UsageError, type CommandSpec } from './args';
import { DEFAULT_STATE_DIRECTORY, resultsDirectoryOf, startLocalStack } from './local-stack';
import { formatProgress, formatSummary, ProgressPrinter } from './progress-view';

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

const DEMO_DATA = path.resolve(__dirname, '..', '..', 'data', 'demo-products.jsonl');

const stackOptions = {
  port: { type: 'string' },
  'ui-port': { type: 'string' },
  'state-dir': { type: 'string' },
  tasks: { type: 'string', multiple: true },
  'latency-ms': { type: 'string' },
  'jitter-ms': { type: 'string' },
} as const;

const stackOptionHelp: Array<[string, string]> = [
  ['--port N', 'Temporal frontend port (default 7233; reused if a server already answers there)'],
  ['--ui-port N', 'Web UI port (default 8233)'],
  ['--state-dir DIR', `dev-server database and results (default ${DEFAULT_STATE_DIRECTORY}, or BATCH_LLM_STATE_DIR)`],
  ['--tasks MODULE', 'register the tasks a module exports (repeatable)'],
  ['--latency-ms N', 'emulator base latency when it runs (default 250)'],
  ['--jitter-ms N', 'emulator latency jitter (default 250)'],
];

export const devSpec = {
  name: 'dev',
  summary: 'run a local stack in the foreground: Temporal dev server with Web UI, the Gemini emulator (when GEMINI_API_KEY is unset) and a worker',
  usage: 'batch-llm dev [options]',
  options: stackOptions,
  optionHelp: stackOptionHelp,
} satisfies CommandSpec<typeof stackOptions>;

const demoOptions = { ...stackOptions, 'exit-when-done': { type: 'boolean' }, concurrency: { type: 'string' } } as const;
export const demoSpec = {
  name: 'demo',
  summary: 'bring up the local stack and run the bundled demo batch (50 products through the demo-enrichment task)',
  usage: 'batch-llm demo [--exit-when-done] [options]   (npm start)',
  options: demoOptions,
  optionHelp: [
    ['--exit-when-done', 'exit when the batch ends (status 0) instead of keeping the Web UI up until Ctrl-C'],
    ['--concurrency N', 'items in flight (default 10)'],
    ...stackOptionHelp,
  ],
} satisfies CommandSpec<typeof demoOptions>;

function stackSettings(values: Record<string, string | boolean | (string | boolean)[] | undefined>) {
  const port = flagValue('port', PortNumber, values['port'] ?? '7233');
  return {
    config: temporalConfigFromEnv(),
    stateDirectory: path.resolve(typeof values['state-dir'] === 'string' ? values['state-dir'] : DEFAULT_STATE_DIRECTORY),
    port,
    uiPort: flagValue('ui-port', PortNumber, values['ui-port'] ?? '8233'),
    taskModules: asStrings(values['tasks']),
    emulator: {
      latency: {
        baseMs: flagValue('latency-ms', NonNegativeInt, values['latency-ms'] ?? '250'),
        jitterMs: flagValue('jitter-ms', NonNegativeInt, values['jitter-ms'] ?? '250'),
      },
    } satisfies EmulatorOptions,
    log: err,
  };
}

function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}

export async function runDev(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(devSpec, argv);
  if (values.help) return printHelp(devSpec);
  const stack = await startLocalStack(stackSettings(values));
  out(`Web UI: ${stack.config.webUiUrl}/namespaces/${stack.config.namespace}/workflows`);
  out('Start a batch from another shell: batch-llm start --input items.jsonl --task NAME --wait   (Ctrl-C here stops the stack)');
  await untilSignal();
  await stack.stop();
  return 0;
}

export async function runDemo(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(demoSpec, argv);
  if (values.help) return printHelp(demoSpec);
  const concurrency = flagValue('concurrency', PositiveInt, values.concurrency ?? '10');
  const settings = stackSettings(values);
  const stack = await startLocalStack(settings);
  let exitCode = 0;
  try {
    const batchClient = new BatchClient(new Client({ connection: await Connection.connect(connectionOptions(stack.config)), namespace: stack.config.namespace }), stack.config);
    const batch = await batchClient.start({ taskName: 'demo-enrichment', inputFile: DEMO_DATA, concurrency, knownTasks: stack.tasks.names() });
    out(`Started demo batch ${batch.batchId}: ${batch.itemCount} items`);
    out(`  batch:  ${batch.url}`);
    out(`  items:  ${batch.itemsUrl}`);
    const started = Date.now();
    const printer = new ProgressPrinter(process.stderr, 2000);
    const summary = await batchClient.watch(batch.batchId, (progress) => printer.update(formatProgress(progress, Date.now() - started)), 500);
    printer.end();
    out(formatSummary(summary));
    const resultsDir = path.join(settings.stateDirectory, 'results');
    out(`Results: batch-llm results ${batch.batchId} --results-dir ${resultsDir} --out results.jsonl`);
    out(`Web UI:  ${batch.url}`);
    exitCode = summary.succeeded + summary.failed + summary.blocked + summary.filtered === summary.total ? 0 : 1;
    if (!values['exit-when-done']) {
      out('The stack keeps running so you can browse the Web UI; Ctrl-C to stop.');
      await untilSignal();
    }
  } finally {
    await stack.stop();
  }
  return exitCode;
}

const workerOptions = {
  tasks: { type: 'string', multiple: true },
  'results-dir': { type: 'string' },
  'max-concurrent-calls': { type: 'string' },
  rpm: { type: 'string' },
  tpm: { type: 'string' },
} as const;
export const workerSpec = {
  name: 'worker',
  summary: 'run a worker: batch and item workflows and model-call activities on TEMPORAL_TASK_QUEUE',
  usage: 'batch-llm worker [--tasks MODULE]... [options]',
  options: workerOptions,
  optionHelp: [
    ['--tasks MODULE', 'register the tasks a module exports (repeatable; built-in demo-enrichment is always there)'],
    ['--results-dir DIR', 'where item results are written (default BATCH_LLM_RESULTS_DIR or .batch-llm/results; share it between workers)'],
    ['--max-concurrent-calls N', 'model calls this process runs at once (default 200)'],
    ['--rpm N', 'model calls per minute per quota scope (task queue, model, API key), across all workers (or BATCH_LLM_RPM; give every worker the same value)'],
    ['--tpm N', 'input tokens per minute per quota scope, across all workers (or BATCH_LLM_TPM)'],
    ['env', 'TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE, TEMPORAL_TLS_CERT/KEY/CA, TEMPORAL_API_KEY, GEMINI_API_KEY, GOOGLE_GEMINI_BASE_URL'],
  ],
} satisfies CommandSpec<typeof workerOptions>;

export async function runWorker(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(workerSpec, argv);
  if (values.help) return printHelp(workerSpec);
  const { worker, connection, banner } = await connectBatchWorker({
    config: temporalConfigFromEnv(),
    gemini: geminiOptionsFromEnv(),
    tasks: await createTaskRegistry(asStrings(values.tasks)),
    resultsDirectory: resultsDirectoryOf(values['results-dir']),
    ...(values['max-concurrent-calls'] ? { maxConcurrentActivities: flagValue('max-concurrent-calls', PositiveInt, values['max-concurrent-calls']) } : {}),
    ...(values.rpm ? { requestsPerMinute: flagValue('rpm', PositiveInt, values.rpm) } : {}),
    ...(values.tpm ? { tokensPerMinute: flagValue('tpm', PositiveInt, values.tpm) } : {}),
  });
  err(banner);
  const running = worker.run();
  const signal = await Promise.race([untilSignal(), running.then(() => undefined)]);
  if (signal) {
    err(`${signal}: finishing in-flight work, then stopping`);
    worker.shutdown();
    await running;
  }
  await connection.close();
  return 0;
}

const FaultRate = z.string().regex(/^[a-z_]+=(0(\.\d+)?|1(\.0+)?)$/, 'expected KIND=RATE, e.g. overloaded=0.1');
const emulatorOptions = {
  port: { type: 'string' },
  host: { type: 'string' },
  'latency-ms': { type: 'string' },
  'jitter-ms': { type: 'string' },
  seed: { type: 'string' },
  fault: { type: 'string', multiple: true },
} as const;
export const emulatorSpec = {
  name: 'emulator',
  summary: 'run the offline Gemini API emulator (point workers at it with GOOGLE_GEMINI_BASE_URL)',
  usage: 'batch-llm emulator [--port 8787] [--latency-ms N] [--jitter-ms N] [--fault KIND=RATE]...',
  options: emulatorOptions,
  optionHelp: [
    ['--port N', 'port (default 8787; 0 picks a free one)'],
    ['--host HOST', 'address to bind (default 127.0.0.1)'],
    ['--latency-ms N', 'base latency per call (default 200)'],
    ['--jitter-ms N', 'extra random latency, uniform in [0, N] (default 100)'],
    ['--seed N', 'seed for jitter and fault rates (default 1)'],
    ['--fault KIND=RATE', `inject a fault at a rate in [0,1] (repeatable); KIND: ${FAULT_KINDS.join(', ')}`],
  ],
} satisfies CommandSpec<typeof emulatorOptions>;

export async function runEmulator(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(emulatorSpec, argv);
  if (values.help) return printHelp(emulatorSpec);
  const faults: FaultRule[] = asStrings(values.fault).map((spec) => {
    const [kind, rate] = flagValue('fault', FaultRate, spec).split('=') as [string, string];
    if (!(FAULT_KINDS as readonly string[]).includes(kind)) throw new UsageError(`--fault: unknown kind "${kind}"; known: ${FAULT_KINDS.join(', ')}`);
    return { fault: kind as FaultRule['fault'], rate: Number(rate) };
  });
  const emulator = await GeminiEmulator.start({
    port: flagValue('port', PortNumber, values.port ?? '8787'),
    host: values.host ?? '127.0.0.1',
    latency: {
      baseMs: flagValue('latency-ms', NonNegativeInt, values['latency-ms'] ?? '200'),
      jitterMs: flagValue('jitter-ms', NonNegativeInt, values['jitter-ms'] ?? '100'),
    },
    seed: flagValue('seed', z.coerce.number().int(), values.seed ?? '1'),
    faults,
  });
  out(`Gemini emulator listening at ${emulator.url}`);
  out(`  export GOOGLE_GEMINI_BASE_URL=${emulator.url}`);
  out(`  request log: ${emulator.url}/_emulator/log`);
  await untilSignal();
  await emulator.stop();
  return 0;
}

export function printHelp(spec: Parameters<typeof commandHelp>[0]): number {
  out(commandHelp(spec));
  return 0;
}
