/** Batch commands: start, status and the controls. They talk to Temporal as a client only. */
import { z } from 'zod';
import { BatchClient, type StartBatchOptions } from '../client/batch-client';
import { batchDeadlineWarning } from '../batch-mode';
import { batchStateOf } from '../batch-state';
import { EXIT_CODES } from '../client/errors';
import { InputError } from '../input';
import {
  CALL_MODES,
  DEFAULT_BATCH_JOB_SIZE,
  DEFAULT_BATCH_MAX_POLL_MS,
  DEFAULT_CONCURRENCY,
  DEFAULT_MAX_CONCURRENCY,
} from '../constants';
import { ERROR_CATEGORIES } from '../errors/categories';
import { dryRun } from './dry-run';
import { readPriceFile } from './prices';
import { GEMINI_PROVIDER_NAME } from '../providers/registry';
import {
  BatchIdSchema,
  ProviderNameSchema,
  type BatchControlState,
  type BatchProgress,
  type ItemOptions,
} from '../schemas';
import { createTaskRegistry } from '../tasks/registry';
import { batchFailedItemsUrl, workflowUrl, type TemporalConfig } from '../temporal/config';
import {
  asStrings,
  batchIdArgument,
  commaListOf,
  ConcurrencyValue,
  durationMs,
  flagValue,
  FutureTime,
  parseCommandArgs,
  PositiveInt,
  UsageError,
} from './args';
import {
  cancelSpec,
  type controlSpec,
  pauseSpec,
  resumeSpec,
  setConcurrencySpec,
  startSpec,
  statusSpec,
} from './command-specs';
import { printHelp } from './help';
import { batchApiLines, formatProgress, formatSummary, ProgressPrinter } from './progress-view';
import { describeSelection } from '../rerun';
import { outputFormatOf, printJson, temporalConfigOf, type OutputFormat } from './output';

const out = (line: string) => process.stdout.write(`${line}\n`);

const connectBatchClient = (config: TemporalConfig) => BatchClient.connect(config);

export async function runStart(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(startSpec, argv);
  if (values.help) return printHelp(startSpec);
  if (!values.input) throw new UsageError('start: --input FILE is required');
  if (!values.task) throw new UsageError('start: --task NAME is required');
  const options: Partial<ItemOptions> = {
    ...(values.model ? { model: values.model } : {}),
    ...(values.provider ? { provider: flagValue('provider', ProviderNameSchema, values.provider) } : {}),
    ...(values['max-model-calls']
      ? { maxModelCalls: flagValue('max-model-calls', PositiveInt, values['max-model-calls']) }
      : {}),
    ...(values['call-timeout-ms']
      ? { callTimeoutMs: flagValue('call-timeout-ms', PositiveInt, values['call-timeout-ms']) }
      : {}),
    ...(values['call-mode'] ? { callMode: flagValue('call-mode', z.enum(CALL_MODES), values['call-mode']) } : {}),
    ...(values.prices ? { prices: await readPriceFile(values.prices) } : {}),
  };
  if (values['fail-fast'] !== undefined && values['no-fail-fast'])
    throw new UsageError('start: give --fail-fast CATEGORY,… or --no-fail-fast, not both');
  const failFast = values['no-fail-fast']
    ? []
    : values['fail-fast'] !== undefined
      ? flagValue('fail-fast', FailFastList, values['fail-fast'])
      : undefined;
  const batchApi = batchApiOf(values);
  const concurrency = values.concurrency ? flagValue('concurrency', ConcurrencyValue, values.concurrency) : undefined;
  const maxConcurrency = values['max-concurrency']
    ? flagValue('max-concurrency', PositiveInt.max(10_000, 'must be at most 10000'), values['max-concurrency'])
    : undefined;
  if (maxConcurrency !== undefined && concurrency !== 'auto')
    throw new UsageError(
      'start: --max-concurrency bounds --concurrency auto; with a fixed --concurrency N, leave it out',
    );
  const deadline = values.deadline !== undefined ? flagValue('deadline', FutureTime, values.deadline) : undefined;
  const warning = batchApi ? batchDeadlineWarning(deadline, Date.now()) : undefined;
  if (warning) process.stderr.write(`batch-llm start: warning: ${warning}\n`);
  const tasks = await createTaskRegistry(asStrings(values.tasks));
  const provider = options.provider ?? tasks.get(values.task)?.provider;
  if (batchApi && provider !== undefined && provider !== GEMINI_PROVIDER_NAME)
    throw new UsageError(
      `start: --batch-api is Gemini's Batch Mode; ${options.provider ? 'the batch' : `task ${values.task}`} calls provider "${provider}", which has none: run it online`,
    );
  if (values['dry-run']) {
    const task = tasks.get(values.task);
    if (!task)
      throw new InputError('--task', [
        { message: `unknown task "${values.task}"; known tasks: ${tasks.names().join(', ')}` },
      ]);
    const report = await dryRun({
      task,
      inputFile: values.input,
      model: values.model,
      providerName: options.provider,
      prices: options.prices,
      concurrency: dryRunConcurrency(concurrency, maxConcurrency),
      requestsPerMinute: values.rpm ? flagValue('rpm', PositiveInt, values.rpm) : undefined,
      tokensPerMinute: values.tpm ? flagValue('tpm', PositiveInt, values.tpm) : undefined,
      sample: flagValue('sample', PositiveInt, values.sample ?? '50'),
      outputTokens: values['output-tokens']
        ? flagValue('output-tokens', PositiveInt, values['output-tokens'])
        : undefined,
      latencyMs: values['latency-ms'] ? flagValue('latency-ms', PositiveInt, values['latency-ms']) : undefined,
      calibrate: values.calibrate ? flagValue('calibrate', PositiveInt, values.calibrate) : undefined,
      callTimeoutMs: options.callTimeoutMs,
      batchApi: batchApi ? { jobSize: batchApi.jobSize ?? DEFAULT_BATCH_JOB_SIZE } : undefined,
    });
    for (const line of report.lines) out(line);
    return 0;
  }
  // The input is checked before connecting: a bad file is reported even when no server answers.
  const prepared = await BatchClient.prepare({
    taskName: values.task,
    inputFile: values.input,
    ...(values['batch-id'] ? { batchId: values['batch-id'] } : {}),
    ...(concurrency !== undefined ? { concurrency } : {}),
    ...(maxConcurrency !== undefined ? { maxConcurrency } : {}),
    options,
    ...(failFast ? { failFast } : {}),
    ...(deadline !== undefined ? { deadline } : {}),
    ...(batchApi ? { batchApi } : {}),
    knownTasks: tasks.names(),
    // The task's item schema is checked here, line by line, before anything starts.
    task: tasks.get(values.task),
  });
  const batchClient = await connectBatchClient(temporalConfigOf(values));
  const batch = await batchClient.start(prepared);
  out(`Started batch ${batch.batchId}: ${batch.itemCount} items`);
  out(`  batch: ${batch.url}`);
  out(`  items: ${batch.itemsUrl}`);
  out(`  failed: ${batchFailedItemsUrl(batchClient.config, batch.batchId)}`);
  if (!values.wait) {
    out(`Follow it with: batch-llm status ${batch.batchId} --watch`);
    return 0;
  }
  return watchToEnd(batchClient, batch.batchId);
}

/** Live progress until the batch ends, then its summary (as JSON with `-o json`, without the live line); the exit code says how it ended. */
export async function watchToEnd(
  batchClient: BatchClient,
  batchId: string,
  format: OutputFormat = 'text',
): Promise<number> {
  if (format === 'json') {
    const summary = await batchClient.summary(batchId);
    printJson({ state: batchStateOf(summary), ...summary });
    return exitCodeOf(summary);
  }
  const started = Date.now();
  const printer = new ProgressPrinter();
  const elapsed = (progress: BatchProgress) => Date.now() - Date.parse(progress.startedAt) || Date.now() - started;
  const summary = await batchClient.watch(batchId, (progress) =>
    printer.update((columns) => formatProgress(progress, elapsed(progress), columns)),
  );
  // The bar's last frame is the batch's end, not the last poll before it.
  printer.end((columns) => formatProgress(summary, summary.durationMs, columns));
  out(formatSummary(summary, batchClient.config));
  return exitCodeOf(summary);
}

/** 0 when every item succeeded (or was filtered), else why not: see EXIT_CODES. */
export function exitCodeOf(summary: BatchProgress): number {
  const state = batchStateOf(summary);
  if (state === 'stopped') return EXIT_CODES.batchStopped;
  return state === 'completed_with_failures' ? EXIT_CODES.itemsUnsuccessful : EXIT_CODES.ok;
}

/** Items per provider job, within what the batch input accepts. */
const JobSize = PositiveInt.max(100_000, 'must be at most 100000');
/** The first wait between polls of running jobs, within what the batch input accepts. */
const PollInterval = durationMs(100, 3_600_000);

/**
 * `--batch-api [--job-size N] [--batch-poll-interval D]` as the batch input's `batchApi` (undefined
 * without --batch-api); a job flag without --batch-api is a usage error naming it.
 */
export function batchApiOf(
  values: {
    'batch-api'?: boolean | undefined;
    'job-size'?: string | undefined;
    'batch-poll-interval'?: string | undefined;
  },
  command = 'start',
): StartBatchOptions['batchApi'] {
  if (!values['batch-api']) {
    const stray = (['job-size', 'batch-poll-interval'] as const).find((flag) => values[flag] !== undefined);
    if (stray) throw new UsageError(`${command}: --${stray} applies to Batch Mode only: add --batch-api`);
    return undefined;
  }
  const jobSize = values['job-size'] !== undefined ? flagValue('job-size', JobSize, values['job-size']) : undefined;
  const pollIntervalMs =
    values['batch-poll-interval'] !== undefined
      ? flagValue('batch-poll-interval', PollInterval, values['batch-poll-interval'])
      : undefined;
  return {
    ...(jobSize !== undefined ? { jobSize } : {}),
    ...(pollIntervalMs !== undefined ? { pollIntervalMs } : {}),
    // A first wait above the default ceiling raises the ceiling with it: the waits never shrink.
    ...(pollIntervalMs !== undefined && pollIntervalMs > DEFAULT_BATCH_MAX_POLL_MS
      ? { maxPollIntervalMs: pollIntervalMs }
      : {}),
  };
}

/** `--fail-fast authentication,quota_exhausted`: error categories, comma-separated. */
const FailFastList = commaListOf(
  ERROR_CATEGORIES,
  'error category',
  'name at least one category (or use --no-fail-fast)',
);

export async function runStatus(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(statusSpec, argv);
  if (values.help) return printHelp(statusSpec);
  const batchId = batchIdArgument(positionals, 'status');
  const format = outputFormatOf(values);
  const config = temporalConfigOf(values);
  const batchClient = await connectBatchClient(config);
  const status = await batchClient.statusOf(batchId);
  if (status === 'RUNNING') {
    if (values.watch) {
      if (format === 'text') out(`Batch ${batchId}: ${workflowUrl(config, batchId)}`);
      return await watchToEnd(batchClient, batchId, format);
    }
    const progress = await batchClient.progress(batchId);
    if (format === 'json') {
      printJson({
        state: batchStateOf(progress),
        workflowStatus: status,
        url: workflowUrl(config, batchId),
        ...progress,
        ...(progress.control.auto ? { learnedRates: await batchClient.learnedRates().catch(() => []) } : {}),
      });
      return EXIT_CODES.ok;
    }
    out(`Batch ${batchId}: ${batchStateOf(progress)}   ${workflowUrl(config, batchId)}`);
    if (progress.rerunOf) out(`  rerun of ${describeSelection(progress.rerunOf)}`);
    if (progress.control.stop) out(`  stopping (${progress.control.stop.kind}): ${progress.control.stop.reason}`);
    if (progress.control.auto) out(await learnedRateLine(batchClient, progress.control));
    out(formatProgress(progress, Date.now() - Date.parse(progress.startedAt)));
    if (progress.batchApi) for (const line of batchApiLines(progress.batchApi)) out(line);
    return EXIT_CODES.ok;
  }
  if (status === 'COMPLETED' || status === 'FAILED') {
    // A failed batch (its input refused by a worker, say) throws the reason, as `start --wait` does.
    const summary = await batchClient.summary(batchId);
    if (format === 'json') {
      printJson({
        state: batchStateOf(summary),
        workflowStatus: status,
        url: workflowUrl(config, batchId),
        ...summary,
      });
      return exitCodeOf(summary);
    }
    out(`Batch ${batchId}: ${batchStateOf(summary)}   ${workflowUrl(config, batchId)}`);
    if (summary.rerunOf) out(`  rerun of ${describeSelection(summary.rerunOf)}`);
    out(formatSummary(summary, config));
    return exitCodeOf(summary);
  }
  if (format === 'json') {
    printJson({ state: 'stopped', workflowStatus: status, url: workflowUrl(config, batchId) });
    return EXIT_CODES.batchStopped;
  }
  out(`Batch ${batchId}: ${status}   ${workflowUrl(config, batchId)}`);
  out(
    `  the batch workflow was ${status.toLowerCase().replace('_', ' ')} from outside (not through batch-llm cancel): its items may not all have a result`,
  );
  return EXIT_CODES.batchStopped;
}

function describeControl(batchId: string, state: BatchControlState): string {
  return `Batch ${batchId}: ${state.stop ? `stopping (${state.stop.kind}: ${state.stop.reason})` : state.paused ? 'paused' : 'running'}, ${concurrencyText(state)}`;
}

/** Runs one control on a batch (through BatchClient) and prints the resulting state. */
async function controlCommand(
  spec: ReturnType<typeof controlSpec>,
  argv: string[],
  prepare: (
    extra: string[],
    reason: string | undefined,
  ) => (client: BatchClient, batchId: string) => Promise<BatchControlState>,
): Promise<number> {
  const { values, positionals } = parseCommandArgs(spec, argv);
  if (values.help) return printHelp(spec);
  const [batchId, ...extra] = positionals;
  if (!batchId) throw new UsageError(`${spec.name}: expected BATCH_ID`);
  // Arguments are checked before connecting: a usage error is reported even when no server answers.
  const workflowId = flagValue('BATCH_ID', BatchIdSchema, batchId);
  const send = prepare(extra, values.reason);
  const format = outputFormatOf(values);
  const batchClient = await connectBatchClient(temporalConfigOf(values));
  const state = await send(batchClient, workflowId);
  if (format === 'json') printJson({ batchId, ...state });
  else out(describeControl(batchId, state));
  return 0;
}

/** pause, resume and cancel take the batch id alone: a stray word (a second id, an unquoted reason) is refused. */
function onlyBatchId(command: string, extra: string[]): void {
  if (extra.length > 0)
    throw new UsageError(
      `${command}: expected BATCH_ID alone, got also ${extra.map((word) => JSON.stringify(word)).join(' ')}${command === 'cancel' ? ' (quote a reason: --reason "…")' : ''}`,
    );
}

export const runPause = (argv: string[]) =>
  controlCommand(pauseSpec, argv, (extra) => (onlyBatchId('pause', extra), (client, batchId) => client.pause(batchId)));
export const runResume = (argv: string[]) =>
  controlCommand(
    resumeSpec,
    argv,
    (extra) => (onlyBatchId('resume', extra), (client, batchId) => client.resume(batchId)),
  );
export const runCancel = (argv: string[]) =>
  controlCommand(
    cancelSpec,
    argv,
    (extra, reason) => (
      onlyBatchId('cancel', extra),
      (client, batchId) => client.cancel(batchId, reason ?? 'cancelled from the command line')
    ),
  );
export const runSetConcurrency = (argv: string[]) =>
  controlCommand(setConcurrencySpec, argv, (extra) => {
    if (extra.length !== 1) throw new UsageError('set-concurrency: expected BATCH_ID N');
    const concurrency = flagValue('N', PositiveInt, extra[0]);
    return (client, batchId) => client.setConcurrency(batchId, concurrency);
  });

/** "concurrency 10", or "concurrency auto (up to 200 items in flight)". */
function concurrencyText(state: BatchControlState): string {
  return state.auto
    ? `concurrency auto (up to ${state.concurrency} items in flight)`
    : `concurrency ${state.concurrency}`;
}

/** `status` of an auto batch: its cap and the rate its quota scope learned (when the scope answers). */
async function learnedRateLine(batchClient: BatchClient, control: BatchControlState): Promise<string> {
  const rates = await batchClient.learnedRates().catch(() => []);
  const learned = rates
    .map(
      ({ scope, rpm, ceilingRpm }) =>
        `${scope.split('/')[2] ?? scope}: ${rpm} requests/min${ceilingRpm !== undefined ? ` (quota bit at ${ceilingRpm})` : ' (no 429 yet)'}`,
    )
    .join('; ');
  return `  ${concurrencyText(control)}${learned ? `; learned rate ${learned}` : ''}`;
}

/** The dry run estimates auto mode at its cap: the quota, not the window, then bounds the time. */
function dryRunConcurrency(concurrency: number | 'auto' | undefined, maxConcurrency: number | undefined): number {
  if (concurrency === 'auto') return maxConcurrency ?? DEFAULT_MAX_CONCURRENCY;
  return concurrency ?? DEFAULT_CONCURRENCY;
}
