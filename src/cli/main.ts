/** The `batch-llm` command line. */
import { Runtime, type LogLevel } from '@temporalio/worker';
import { BatchLlmLogger } from '../logging';
import { InputError } from '../input';
import { UsageError } from './args';
import {
  cancelSpec,
  pauseSpec,
  resultsSpec,
  resumeSpec,
  runCancel,
  runPause,
  runResults,
  runResume,
  runSetConcurrency,
  runStart,
  runStatus,
  setConcurrencySpec,
  startSpec,
  statusSpec,
} from './commands-batch';
import { cacheSpec, runCache } from './commands-cache';
import { demoSpec, devSpec, emulatorSpec, runDemo, runDev, runEmulator, runWorker, workerSpec } from './commands-run';

const COMMANDS = {
  dev: { spec: devSpec, run: runDev },
  demo: { spec: demoSpec, run: runDemo },
  worker: { spec: workerSpec, run: runWorker },
  emulator: { spec: emulatorSpec, run: runEmulator },
  start: { spec: startSpec, run: runStart },
  status: { spec: statusSpec, run: runStatus },
  pause: { spec: pauseSpec, run: runPause },
  resume: { spec: resumeSpec, run: runResume },
  'set-concurrency': { spec: setConcurrencySpec, run: runSetConcurrency },
  cancel: { spec: cancelSpec, run: runCancel },
  results: { spec: resultsSpec, run: runResults },
  cache: { spec: cacheSpec, run: runCache },
} as const;

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
    '  BATCH_LLM_RPM, BATCH_LLM_LOG_LEVEL, BATCH_LLM_METRICS_PORT (Prometheus /metrics).',
  ].join('\n');
}

const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;


/**
 * Worker and SDK logs (INFO for `worker`, WARN for the interactive commands; BATCH_LLM_LOG_LEVEL
 * overrides) and, with BATCH_LLM_METRICS_PORT, a Prometheus endpoint with Temporal's runtime
 * metrics and ours (batch_llm_items, batch_llm_model_calls, batch_llm_tokens).
 */
function installRuntime(defaultLevel: LogLevel): void {
  const requested = process.env['BATCH_LLM_LOG_LEVEL']?.toUpperCase();
  const level = (LOG_LEVELS as readonly string[]).includes(requested ?? '') ? (requested as LogLevel) : defaultLevel;
  const metricsPort = process.env['BATCH_LLM_METRICS_PORT'];
  if (metricsPort !== undefined && !/^\d{1,5}$/.test(metricsPort)) throw new Error(`BATCH_LLM_METRICS_PORT must be a port number, got "${metricsPort}"`);
  Runtime.install({
    logger: new BatchLlmLogger(level),
    ...(metricsPort ? { telemetryOptions: { metrics: { prometheus: { bindAddress: `0.0.0.0:${metricsPort}`, countersTotalSuffix: true } } } } : {}),
  });
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${mainHelp()}\n`);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name as keyof typeof COMMANDS];
  if (!command) {
    process.stderr.write(`batch-llm: unknown command "${name}"\n\n${mainHelp()}\n`);
    return 2;
  }
  installRuntime(name === 'worker' ? 'INFO' : 'WARN');
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`batch-llm ${error.message}\nSee: batch-llm ${name} --help\n`);
      return 2;
    }
    if (error instanceof InputError) {
      process.stderr.write(`batch-llm ${name}: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`batch-llm ${name}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exit(1);
    },
  );
}
