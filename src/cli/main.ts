/**
 * The `batch-llm` command line. Start-up is kept light: the table below holds each command's spec
 * (its help) and loads the implementation only when the command runs, so `--help` answers at once.
 */
import type { LogLevel } from '@temporalio/worker';
import { EXIT_CODES } from '../client/errors';
import {
  cacheSpec,
  cancelSpec,
  codecServerSpec,
  demoSpec,
  devSpec,
  emulatorSpec,
  encryptionKeySpec,
  listSpec,
  pauseSpec,
  reportSpec,
  resultsSpec,
  resumeSpec,
  rerunSpec,
  setConcurrencySpec,
  startSpec,
  statusSpec,
  workerSpec,
} from './command-specs';
import { asksForHelp, printHelp } from './help';

type Run = (argv: string[]) => Promise<number>;
type CommandsRun = typeof import('./commands-run');
type CommandsBatch = typeof import('./commands-batch');

// `require`, not `import()`: under tsx's CommonJS hook (the bin) import() of a .ts file fails.
const run =
  (load: () => Run): Run =>
  (argv) =>
    load()(argv);
const commandsRun = (): CommandsRun => require('./commands-run') as CommandsRun;
const commandsBatch = (): CommandsBatch => require('./commands-batch') as CommandsBatch;

interface Command {
  spec: Parameters<typeof printHelp>[0];
  run: Run;
  /** Commands that run a worker in this process install the SDK runtime (logs, metrics) at this level. */
  runtimeLogLevel?: LogLevel;
}

const COMMANDS: Record<string, Command> = {
  dev: { spec: devSpec, run: run(() => commandsRun().runDev), runtimeLogLevel: 'WARN' },
  demo: { spec: demoSpec, run: run(() => commandsRun().runDemo), runtimeLogLevel: 'WARN' },
  worker: { spec: workerSpec, run: run(() => commandsRun().runWorker), runtimeLogLevel: 'INFO' },
  emulator: { spec: emulatorSpec, run: run(() => commandsRun().runEmulator) },
  start: { spec: startSpec, run: run(() => commandsBatch().runStart) },
  status: { spec: statusSpec, run: run(() => commandsBatch().runStatus) },
  pause: { spec: pauseSpec, run: run(() => commandsBatch().runPause) },
  resume: { spec: resumeSpec, run: run(() => commandsBatch().runResume) },
  'set-concurrency': { spec: setConcurrencySpec, run: run(() => commandsBatch().runSetConcurrency) },
  cancel: { spec: cancelSpec, run: run(() => commandsBatch().runCancel) },
  list: {
    spec: listSpec,
    run: run(() => (require('./commands-batches') as typeof import('./commands-batches')).runList),
  },
  rerun: {
    spec: rerunSpec,
    run: run(() => (require('./commands-batches') as typeof import('./commands-batches')).runRerun),
  },
  results: {
    spec: resultsSpec,
    run: run(() => (require('./commands-results') as typeof import('./commands-results')).runResults),
  },
  report: {
    spec: reportSpec,
    run: run(() => (require('./commands-report') as typeof import('./commands-report')).runReport),
  },
  cache: {
    spec: cacheSpec,
    run: run(() => (require('./commands-cache') as typeof import('./commands-cache')).runCache),
  },
  'codec-server': {
    spec: codecServerSpec,
    run: run(() => (require('./commands-privacy') as typeof import('./commands-privacy')).runCodecServer),
  },
  'encryption-key': {
    spec: encryptionKeySpec,
    run: run(() => (require('./commands-privacy') as typeof import('./commands-privacy')).runEncryptionKey),
  },
};

function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  return [
    'batch-llm — durable batches of LLM calls on Temporal',
    '',
    'Usage: batch-llm <command> [options]     (batch-llm <command> --help for its options)',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, command]) => `  ${name.padEnd(width)}  ${command.spec.summary}`),
    '',
    'Environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE, TEMPORAL_UI_URL,',
    '  TEMPORAL_TLS_CERT/TEMPORAL_TLS_KEY/TEMPORAL_TLS_CA or TEMPORAL_API_KEY (remote clusters, Temporal Cloud),',
    '  GEMINI_API_KEY (real Gemini) or GOOGLE_GEMINI_BASE_URL (an emulator), BATCH_LLM_MODEL, BATCH_LLM_RESULTS_DIR,',
    '  BATCH_LLM_RPM, BATCH_LLM_LOG_LEVEL, BATCH_LLM_METRICS_PORT (Prometheus /metrics),',
    '  BATCH_LLM_ENCRYPTION_KEYS (payload encryption: id:base64,…), BATCH_LLM_BLOB_DIR (large payloads by reference).',
    '',
    `Exit codes: ${EXIT_CODES.ok} ok, ${EXIT_CODES.error} error, ${EXIT_CODES.usage} usage, ${EXIT_CODES.input} invalid input, ${EXIT_CODES.notFound} no such batch, ${EXIT_CODES.conflict} batch id taken,`,
    `  ${EXIT_CODES.connection} Temporal unreachable, ${EXIT_CODES.itemsUnsuccessful} items did not succeed, ${EXIT_CODES.batchStopped} batch stopped early (start --wait, status).`,
  ].join('\n');
}

/**
 * Worker and SDK logs (INFO for `worker`, WARN for `dev`/`demo`; BATCH_LLM_LOG_LEVEL overrides)
 * and, with BATCH_LLM_METRICS_PORT, a Prometheus endpoint with Temporal's runtime metrics and
 * ours (batch_llm_items, batch_llm_model_calls, batch_llm_tokens).
 */
function installRuntime(defaultLevel: LogLevel): void {
  const { batchLlmSettings } = require('../config') as typeof import('../config');
  const settings = batchLlmSettings();
  const level: LogLevel = settings.BATCH_LLM_LOG_LEVEL ?? defaultLevel;
  const metricsPort = settings.BATCH_LLM_METRICS_PORT;
  const { Runtime } = require('@temporalio/worker') as typeof import('@temporalio/worker');
  const { BatchLlmLogger } = require('../logging') as typeof import('../logging');
  Runtime.install({
    logger: new BatchLlmLogger(level),
    ...(metricsPort
      ? {
          telemetryOptions: {
            metrics: { prometheus: { bindAddress: `0.0.0.0:${metricsPort}`, countersTotalSuffix: true } },
          },
        }
      : {}),
  });
}

/** The exit code an error maps to, and whether the command's usage hint helps. */
function classify(error: unknown): { code: number; usage: boolean } {
  // Loaded here, not at the top: the command that threw has loaded them already.
  const { UsageError } = require('./args') as typeof import('./args');
  const { ConfigError } = require('../config') as typeof import('../config');
  const { InputError } = require('../input') as typeof import('../input');
  const { BatchExistsError, BatchFailedError, BatchNotFoundError, BatchRunningError, TemporalUnreachableError } =
    require('../client/errors') as typeof import('../client/errors');
  if (error instanceof UsageError) return { code: EXIT_CODES.usage, usage: true };
  // A bad setting in the environment is the command line's context: a usage error, without the flags' help.
  if (error instanceof ConfigError) return { code: EXIT_CODES.usage, usage: false };
  if (error instanceof InputError) return { code: EXIT_CODES.input, usage: false };
  if (error instanceof BatchNotFoundError) return { code: EXIT_CODES.notFound, usage: false };
  if (error instanceof BatchExistsError || error instanceof BatchRunningError)
    return { code: EXIT_CODES.conflict, usage: false };
  if (error instanceof TemporalUnreachableError) return { code: EXIT_CODES.connection, usage: false };
  const { PayloadDecryptionError } = require('../privacy/keys') as typeof import('../privacy/keys');
  if (error instanceof PayloadDecryptionError) return { code: EXIT_CODES.usage, usage: false };
  // The batch workflow itself failed (not its items): it stopped early.
  if (error instanceof BatchFailedError) return { code: EXIT_CODES.batchStopped, usage: false };
  return { code: EXIT_CODES.error, usage: false };
}

/** `batch-llm <command>: <message>`; a message that already names the command ("cache list: …") keeps its own. */
function errorLine(name: string, message: string): string {
  return message.startsWith(`${name}:`) || message.startsWith(`${name} `)
    ? `batch-llm ${message}`
    : `batch-llm ${name}: ${message}`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${mainHelp()}\n`);
    return name ? EXIT_CODES.ok : EXIT_CODES.usage;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    process.stderr.write(`batch-llm: unknown command "${name}"\n\n${mainHelp()}\n`);
    return EXIT_CODES.usage;
  }
  if (asksForHelp(rest)) return printHelp(command.spec);
  try {
    // Every BATCH_LLM_* setting is checked before any command runs: a typo is an error, not a default.
    (require('../config') as typeof import('../config')).batchLlmSettings();
    if (command.runtimeLogLevel) installRuntime(command.runtimeLogLevel);
    return await command.run(rest);
  } catch (error) {
    const { code, usage } = classify(error);
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${errorLine(name, message)}\n${usage ? `See: batch-llm ${name} --help\n` : ''}`);
    return code;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exit(EXIT_CODES.error);
    },
  );
}
