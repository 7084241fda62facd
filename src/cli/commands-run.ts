/** Long-running commands: dev, demo, worker, emulator. */
import path from 'node:path';
import { z } from 'zod';
import { BatchClient } from '../client/batch-client';
import {
  GeminiEmulator,
  parseFaultFlag,
  type FaultRule,
  type EmulatorOptions,
} from '@durable-batch-llm/gemini-emulator';
import { adoptEncryptionKeys, batchLlmSettings, geminiOptionsFromEnv } from '../config';
import { startCodecServer } from '../privacy/codec-server';
import { describePrivacy, payloadPrivacyOf } from '../privacy/data-converter';
import { newEncryptionKey } from '../privacy/keys';
import { DEFAULT_CODEC_PORT } from './commands-privacy';
import { DEFAULT_DEV_RETENTION } from '../constants';
import { createTaskRegistry } from '../tasks/registry';
import { batchFailedItemsUrl, temporalConfigFromEnv } from '../temporal/config';
import { DEV_SERVER_MIN_RETENTION_MS } from '../temporal/dev-server';
import { connectBatchWorker } from '../worker';
import {
  asStrings,
  ConcurrencyValue,
  durationMs,
  flagValue,
  NonNegativeInt,
  parseCommandArgs,
  PortNumber,
  PositiveInt,
  UsageError,
} from './args';
import { demoSpec, devSpec, emulatorSpec, workerSpec } from './command-specs';
import { printHelp } from './help';
import { startLocalStack } from './local-stack';
import { resultStoreLocationOf, stateDirectory } from './state-directory';
import { formatProgress, formatSummary, ProgressPrinter } from './progress-view';

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

const DEMO_DATA = path.resolve(__dirname, '..', '..', 'data', 'demo-products.jsonl');

/** The dev server's retention of closed workflows: an hour (its minimum) to ten years. */
const Retention = durationMs(DEV_SERVER_MIN_RETENTION_MS, 3650 * 86_400_000);

function stackSettings(values: Record<string, string | boolean | (string | boolean)[] | undefined>) {
  const port = flagValue('port', PortNumber, values['port'] ?? '7233');
  return {
    config: temporalConfigFromEnv(),
    stateDirectory: stateDirectory(typeof values['state-dir'] === 'string' ? values['state-dir'] : undefined),
    port,
    uiPort: flagValue('ui-port', PortNumber, values['ui-port'] ?? '8233'),
    retentionMs: flagValue('retention', Retention, values['retention'] ?? DEFAULT_DEV_RETENTION),
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
  const settings = stackSettings(values);
  const codec = values.encrypt
    ? await startDevCodecServer(
        settings.stateDirectory,
        flagValue('codec-port', PortNumber, values['codec-port'] ?? String(DEFAULT_CODEC_PORT)),
        settings.uiPort,
      )
    : undefined;
  try {
    const stack = await startLocalStack({ ...settings, ...(codec ? { uiCodecEndpoint: codec.url } : {}) });
    out(`Web UI: ${stack.config.webUiUrl}/namespaces/${stack.config.namespace}/workflows`);
    if (codec) out(`Codec server: ${codec.url} (the Web UI shows payloads decrypted through it)`);
    out(
      `Start a batch from another shell: ${codec?.exportLine ? `${codec.exportLine}; ` : ''}batch-llm start --input items.jsonl --task NAME --wait   (Ctrl-C here stops the stack)`,
    );
    await untilSignal();
    await stack.stop();
  } finally {
    await codec?.close();
  }
  return 0;
}

/**
 * `dev --encrypt`: keys from BATCH_LLM_ENCRYPTION_KEYS, else the ones kept in
 * <state dir>/encryption-keys (made on first use, readable by the owner only, so the dev server's
 * database stays readable across restarts), and a codec server the local Web UI may call.
 */
async function startDevCodecServer(stateDirectory: string, port: number, uiPort: number) {
  const { existsSync, mkdirSync, readFileSync, writeFileSync } = await import('node:fs');
  let exportLine: string | undefined;
  if (!batchLlmSettings().BATCH_LLM_ENCRYPTION_KEYS) {
    const file = path.join(stateDirectory, 'encryption-keys');
    if (!existsSync(file)) {
      mkdirSync(stateDirectory, { recursive: true });
      writeFileSync(file, `${newEncryptionKey('dev1')}\n`, { mode: 0o600 });
      err(`No BATCH_LLM_ENCRYPTION_KEYS: made a key, kept in ${file}`);
    } else err(`No BATCH_LLM_ENCRYPTION_KEYS: using the key kept in ${file}`);
    adoptEncryptionKeys(readFileSync(file, 'utf8').trim());
    const shown = path.relative(process.cwd(), file);
    exportLine = `export BATCH_LLM_ENCRYPTION_KEYS=$(cat ${shown.startsWith('..') ? file : shown})`;
  }
  const privacy = payloadPrivacyOf();
  const server = await startCodecServer({
    privacy,
    port,
    corsOrigins: [`http://localhost:${uiPort}`, `http://127.0.0.1:${uiPort}`],
    // A line per decode would flood the terminal the stack runs in (the UI decodes every payload it shows).
    log: () => undefined,
  });
  err(describePrivacy(privacy));
  return { url: server.url, close: () => server.close(), exportLine };
}

export async function runDemo(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(demoSpec, argv);
  if (values.help) return printHelp(demoSpec);
  const concurrency = flagValue('concurrency', ConcurrencyValue, values.concurrency ?? '10');
  const settings = stackSettings(values);
  const stack = await startLocalStack(settings);
  let exitCode = 0;
  try {
    const batchClient = await BatchClient.connect(stack.config);
    const batch = await batchClient.start({
      taskName: 'demo-enrichment',
      inputFile: DEMO_DATA,
      concurrency,
      knownTasks: stack.tasks.names(),
    });
    out(`Started demo batch ${batch.batchId}: ${batch.itemCount} items`);
    out(`  batch:  ${batch.url}`);
    out(`  items:  ${batch.itemsUrl}`);
    out(`  failed: ${batchFailedItemsUrl(stack.config, batch.batchId)}`);
    const started = Date.now();
    const printer = new ProgressPrinter(process.stderr, 2000);
    const summary = await batchClient.watch(
      batch.batchId,
      (progress) => printer.update((columns) => formatProgress(progress, Date.now() - started, columns)),
      500,
    );
    printer.end((columns) => formatProgress(summary, summary.durationMs, columns));
    out(formatSummary(summary, stack.config));
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

export async function runWorker(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(workerSpec, argv);
  if (values.help) return printHelp(workerSpec);
  const { worker, connection, banner } = await connectBatchWorker({
    config: temporalConfigFromEnv(),
    gemini: geminiOptionsFromEnv(),
    tasks: await createTaskRegistry(asStrings(values.tasks)),
    results: resultStoreLocationOf(values),
    ...(values['max-concurrent-calls']
      ? { maxConcurrentActivities: flagValue('max-concurrent-calls', PositiveInt, values['max-concurrent-calls']) }
      : {}),
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

/** `--fault KIND[@ROUTE]=RATE` (the emulator's own parser: kinds, routes, and which kinds fit which route). */
function faultOfFlag(spec: string): FaultRule {
  try {
    return parseFaultFlag(spec);
  } catch (error) {
    throw new UsageError(`--fault: ${(error as Error).message}`);
  }
}

/** `--batch-fault KIND=RATE`: a per-request fault inside a batch job. */
const BatchFaultRate = z
  .string()
  .regex(/^[a-z_]+=(0(\.\d+)?|1(\.0+)?)$/, 'expected KIND=RATE with a rate in [0,1], e.g. schema_invalid=0.1');
export async function runEmulator(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(emulatorSpec, argv);
  if (values.help) return printHelp(emulatorSpec);
  const faults = asStrings(values.fault).map(faultOfFlag);
  const requestFaults = asStrings(values['batch-fault']).map((spec) => {
    const [kind, rate] = flagValue('batch-fault', BatchFaultRate, spec).split('=') as [string, string];
    if (kind !== 'schema_invalid' && kind !== 'error')
      throw new UsageError(`--batch-fault: unknown kind "${kind}"; known: schema_invalid, error`);
    return { fault: kind, rate: Number(rate) } as const;
  });
  const outcome = flagValue(
    'batch-outcome',
    z.enum(['SUCCEEDED', 'FAILED', 'CANCELLED', 'EXPIRED']),
    values['batch-outcome'] ?? 'SUCCEEDED',
  );
  const emulator = await GeminiEmulator.start({
    port: flagValue('port', PortNumber, values.port ?? '8787'),
    host: values.host ?? '127.0.0.1',
    latency: {
      baseMs: flagValue('latency-ms', NonNegativeInt, values['latency-ms'] ?? '200'),
      jitterMs: flagValue('jitter-ms', NonNegativeInt, values['jitter-ms'] ?? '100'),
    },
    seed: flagValue('seed', z.coerce.number().int(), values.seed ?? '1'),
    faults,
    batch: {
      pendingMs: flagValue('batch-pending-ms', NonNegativeInt, values['batch-pending-ms'] ?? '0'),
      runningMs: flagValue('batch-running-ms', NonNegativeInt, values['batch-running-ms'] ?? '0'),
      outcomes: [{ outcome }],
      requestFaults,
    },
  });
  out(`Gemini emulator listening at ${emulator.url}`);
  out(`  export GOOGLE_GEMINI_BASE_URL=${emulator.url}`);
  out(`  request log: ${emulator.url}/_emulator/log (batch jobs: ${emulator.url}/_emulator/batches)`);
  await untilSignal();
  await emulator.stop();
  return 0;
}
