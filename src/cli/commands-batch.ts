/** Batch commands: start, status, results. They talk to Temporal as a client only. */
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { z } from 'zod';
import { Client, Connection, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { BatchClient } from '../client/batch-client';
import { CALL_MODES, DEFAULT_CONCURRENCY } from '../constants';
import { FileResultStore, RESULT_ORDERS } from '../results';
import { dryRun } from './dry-run';
import { BatchIdSchema, type BatchControlState, type ItemOptions } from '../schemas';
import { cancelBatchUpdate, pauseBatchUpdate, resumeBatchUpdate, setConcurrencyUpdate } from '../../workflows/queries';
import { createTaskRegistry } from '../tasks/registry';
import { connectionOptions, temporalConfigFromEnv, workflowUrl, type TemporalConfig } from '../temporal/config';
import { asStrings, flagValue, parseCommandArgs, PositiveInt, UsageError, type CommandSpec } from './args';
import { printHelp } from './commands-run';
import { resultsDirectoryOf } from './local-stack';
import { formatProgress, formatSummary, ProgressPrinter } from './progress-view';

const out = (line: string) => process.stdout.write(`${line}\n`);

async function connectBatchClient(config: TemporalConfig): Promise<BatchClient> {
  const connection = await Connection.connect(connectionOptions(config));
  return new BatchClient(new Client({ connection, namespace: config.namespace }), config);
}

const startOptions = {
  input: { type: 'string', short: 'i' },
  task: { type: 'string', short: 't' },
  'batch-id': { type: 'string' },
  concurrency: { type: 'string', short: 'c' },
  model: { type: 'string' },
  'max-model-calls': { type: 'string' },
  'call-timeout-ms': { type: 'string' },
  'call-mode': { type: 'string' },
  tasks: { type: 'string', multiple: true },
  wait: { type: 'boolean', short: 'w' },
  'dry-run': { type: 'boolean' },
  sample: { type: 'string' },
  'output-tokens': { type: 'string' },
  'latency-ms': { type: 'string' },
  rpm: { type: 'string' },
  tpm: { type: 'string' },
} as const;
export const startSpec = {
  name: 'start',
  summary: 'check a JSONL input and start a batch (one item workflow per line)',
  usage: 'batch-llm start --input items.jsonl --task NAME [--batch-id ID] [--concurrency N] [--wait]',
  options: startOptions,
  optionHelp: [
    ['-i, --input FILE', 'JSONL: one JSON object per line, each with a unique "id"'],
    ['-t, --task NAME', 'task to run (built-in: demo-enrichment; others via the worker\'s --tasks)'],
    ['--batch-id ID', 'batch id (default: task name + time); item workflows are <batchId>/<itemId>'],
    ['-c, --concurrency N', 'items in flight at once (default 10)'],
    ['--model NAME', 'model for every item (default: the task\'s, else BATCH_LLM_MODEL on the worker)'],
    ['--max-model-calls N', 'cap on physical model calls per item, retries included (default 5)'],
    ['--call-timeout-ms N', 'timeout of one model call (default 120000)'],
    ['--call-mode MODE', 'local-first (default): an item\'s first call runs as a local activity in its workflow task; activity: every call is a regular activity'],
    ['--tasks MODULE', 'also accept the tasks this module exports when checking --task (repeatable)'],
    ['-w, --wait', 'show live progress and print the summary when the batch ends'],
    ['--dry-run', 'check the input, render every prompt, count tokens and estimate cost and time; start nothing, call no model'],
    ['--sample N', 'dry run: prompts sent to countTokens (default 50, evenly spaced)'],
    ['--output-tokens N', 'dry run: assumed answer length (default 150 tokens)'],
    ['--latency-ms N', 'dry run: assumed call latency (default 2000)'],
    ['--rpm N', 'dry run: the requests-per-minute limit the workers run with'],
    ['--tpm N', 'dry run: the input-tokens-per-minute limit the workers run with'],
  ],
} satisfies CommandSpec<typeof startOptions>;

export async function runStart(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(startSpec, argv);
  if (values.help) return printHelp(startSpec);
  if (!values.input) throw new UsageError('start: --input FILE is required');
  if (!values.task) throw new UsageError('start: --task NAME is required');
  const options: Partial<ItemOptions> = {
    ...(values.model ? { model: values.model } : {}),
    ...(values['max-model-calls'] ? { maxModelCalls: flagValue('max-model-calls', PositiveInt, values['max-model-calls']) } : {}),
    ...(values['call-timeout-ms'] ? { callTimeoutMs: flagValue('call-timeout-ms', PositiveInt, values['call-timeout-ms']) } : {}),
    ...(values['call-mode'] ? { callMode: flagValue('call-mode', z.enum(CALL_MODES), values['call-mode']) } : {}),
  };
  const tasks = await createTaskRegistry(asStrings(values.tasks));
  if (values['dry-run']) {
    const task = tasks.get(values.task);
    if (!task) throw new UsageError(`start: unknown task "${values.task}"; known tasks: ${tasks.names().join(', ')}`);
    const report = await dryRun({
      task,
      inputFile: values.input,
      model: values.model,
      concurrency: values.concurrency ? flagValue('concurrency', PositiveInt, values.concurrency) : DEFAULT_CONCURRENCY,
      requestsPerMinute: values.rpm ? flagValue('rpm', PositiveInt, values.rpm) : undefined,
      tokensPerMinute: values.tpm ? flagValue('tpm', PositiveInt, values.tpm) : undefined,
      sample: flagValue('sample', PositiveInt, values.sample ?? '50'),
      outputTokens: flagValue('output-tokens', PositiveInt, values['output-tokens'] ?? '150'),
      latencyMs: flagValue('latency-ms', PositiveInt, values['latency-ms'] ?? '2000'),
    });
    for (const line of report.lines) out(line);
    return 0;
  }
  const config = temporalConfigFromEnv();
  const batchClient = await connectBatchClient(config);
  const batch = await batchClient.start({
    taskName: values.task,
    inputFile: values.input,
    ...(values['batch-id'] ? { batchId: values['batch-id'] } : {}),
    ...(values.concurrency ? { concurrency: flagValue('concurrency', PositiveInt, values.concurrency) } : {}),
    options,
    knownTasks: tasks.names(),
  });
  out(`Started batch ${batch.batchId}: ${batch.itemCount} items`);
  out(`  batch: ${batch.url}`);
  out(`  items: ${batch.itemsUrl}`);
  if (!values.wait) {
    out(`Follow it with: batch-llm status ${batch.batchId} --watch`);
    return 0;
  }
  return watchToEnd(batchClient, batch.batchId);
}

async function watchToEnd(batchClient: BatchClient, batchId: string): Promise<number> {
  const started = Date.now();
  const printer = new ProgressPrinter();
  const summary = await batchClient.watch(batchId, (progress) => printer.update(formatProgress(progress, Date.now() - Date.parse(progress.startedAt) || Date.now() - started)));
  printer.end();
  out(formatSummary(summary));
  return 0;
}

const statusOptions = { watch: { type: 'boolean', short: 'w' } } as const;
export const statusSpec = {
  name: 'status',
  summary: 'progress of a batch started anywhere (live with --watch), or its summary when it has ended',
  usage: 'batch-llm status BATCH_ID [--watch]',
  options: statusOptions,
  optionHelp: [['-w, --watch', 'redraw live progress until the batch ends, then print the summary']],
} satisfies CommandSpec<typeof statusOptions>;

export async function runStatus(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(statusSpec, argv);
  if (values.help) return printHelp(statusSpec);
  const batchId = batchIdArgument(positionals, 'status');
  const config = temporalConfigFromEnv();
  const batchClient = await connectBatchClient(config);
  try {
    const description = await batchClient.client.workflow.getHandle(batchId).describe();
    out(`Batch ${batchId}: ${description.status.name}   ${workflowUrl(config, batchId)}`);
    if (description.status.name === 'RUNNING') {
      if (values.watch) return await watchToEnd(batchClient, batchId);
      const progress = await batchClient.progress(batchId);
      out(formatProgress(progress, Date.now() - Date.parse(progress.startedAt)));
      return 0;
    }
    if (description.status.name === 'COMPLETED') {
      out(formatSummary(await batchClient.summary(batchId)));
      return 0;
    }
    try {
      await batchClient.summary(batchId);
    } catch (error) {
      out(`  ended: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}`);
    }
    return 1;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) throw new UsageError(`no batch "${batchId}" in namespace ${config.namespace} at ${config.address}`);
    throw error;
  }
}

const resultsOptions = { out: { type: 'string', short: 'o' }, 'results-dir': { type: 'string' }, order: { type: 'string' } } as const;
export const resultsSpec = {
  name: 'results',
  summary: 'export the results of a batch as JSONL, one line per item',
  usage: 'batch-llm results BATCH_ID [--out results.jsonl] [--order input|finish]',
  options: resultsOptions,
  optionHelp: [
    ['-o, --out FILE', 'write to FILE (default: standard output)'],
    ['--order input|finish', 'input: in input order (default); finish: as the items finished, streamed from the file (fastest, constant memory)'],
    ['--results-dir DIR', 'the workers\' results directory (default BATCH_LLM_RESULTS_DIR or .batch-llm/results)'],
  ],
} satisfies CommandSpec<typeof resultsOptions>;

export async function runResults(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(resultsSpec, argv);
  if (values.help) return printHelp(resultsSpec);
  const batchId = batchIdArgument(positionals, 'results');
  const order = flagValue('order', z.enum(RESULT_ORDERS), values.order ?? 'input');
  const directory = resultsDirectoryOf(values['results-dir']);
  const chunks = new FileResultStore(directory).jsonl(batchId, order);
  const first = await chunks.next();
  if (first.done) throw new UsageError(`no results for batch "${batchId}" under ${directory} (wrong --results-dir, or nothing has finished yet)`);
  const stream = values.out ? createWriteStream(values.out) : process.stdout;
  let count = 0;
  for (let chunk: IteratorResult<Buffer> = first; !chunk.done; chunk = await chunks.next()) {
    for (let at = chunk.value.indexOf(10); at !== -1; at = chunk.value.indexOf(10, at + 1)) count++;
    // Waits while the stream is full, so a big export never piles up in memory.
    if (!stream.write(chunk.value)) await once(stream, 'drain');
  }
  if (values.out) {
    await finished((stream as WriteStream).end());
    process.stderr.write(`Wrote ${count} results to ${values.out}\n`);
  }
  return 0;
}

function batchIdArgument(positionals: string[], command: string): string {
  const [batchId, ...extra] = positionals;
  if (!batchId || extra.length > 0) throw new UsageError(`${command}: expected exactly one BATCH_ID`);
  return flagValue('BATCH_ID', BatchIdSchema, batchId);
}

const controlOptions = { reason: { type: 'string' } } as const;
const controlSpec = (name: string, summary: string, usage: string, optionHelp: Array<[string, string]> = []) =>
  ({ name, summary, usage, options: controlOptions, optionHelp }) satisfies CommandSpec<typeof controlOptions>;

export const pauseSpec = controlSpec('pause', 'stop starting new items of a batch (in-flight items finish)', 'batch-llm pause BATCH_ID');
export const resumeSpec = controlSpec('resume', 'start items of a paused batch again', 'batch-llm resume BATCH_ID');
export const setConcurrencySpec = controlSpec('set-concurrency', 'change how many items of a running batch run at once', 'batch-llm set-concurrency BATCH_ID N');
export const cancelSpec = controlSpec('cancel', 'cancel a batch: stop dispatch, cancel in-flight items and their calls, mark the rest cancelled', 'batch-llm cancel BATCH_ID [--reason TEXT]', [
  ['--reason TEXT', 'recorded in the summary and on every cancelled item'],
]);

function describeControl(batchId: string, state: BatchControlState): string {
  return `Batch ${batchId}: ${state.stop ? `stopping (${state.stop.kind}: ${state.stop.reason})` : state.paused ? 'paused' : 'running'}, concurrency ${state.concurrency}`;
}

/** Runs one control update on a batch and prints the resulting state. */
async function controlCommand(spec: ReturnType<typeof controlSpec>, argv: string[], send: (batchId: string, handle: WorkflowHandle, extra: string[], reason: string | undefined) => Promise<BatchControlState>): Promise<number> {
  const { values, positionals } = parseCommandArgs(spec, argv);
  if (values.help) return printHelp(spec);
  const [batchId, ...extra] = positionals;
  if (!batchId) throw new UsageError(`${spec.name}: expected BATCH_ID`);
  const config = temporalConfigFromEnv();
  const batchClient = await connectBatchClient(config);
  const handle = batchClient.client.workflow.getHandle(flagValue('BATCH_ID', BatchIdSchema, batchId));
  try {
    out(describeControl(batchId, await send(batchId, handle, extra, values.reason)));
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) throw new UsageError(await whyNoRunningBatch(handle, batchId, spec.name, config));
    throw error;
  }
  return 0;
}

/** An update finds no running batch: either there is none, or it has already ended (the server says "not found" to both). */
async function whyNoRunningBatch(handle: WorkflowHandle, batchId: string, command: string, config: TemporalConfig): Promise<string> {
  try {
    const { status } = await handle.describe();
    return `batch "${batchId}" has already ended (${status.name}); there is nothing to ${command}. Its summary: batch-llm status ${batchId}`;
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
    return `no batch "${batchId}" in namespace ${config.namespace} at ${config.address}`;
  }
}

export const runPause = (argv: string[]) => controlCommand(pauseSpec, argv, (_id, handle) => handle.executeUpdate(pauseBatchUpdate));
export const runResume = (argv: string[]) => controlCommand(resumeSpec, argv, (_id, handle) => handle.executeUpdate(resumeBatchUpdate));
export const runCancel = (argv: string[]) => controlCommand(cancelSpec, argv, (_id, handle, _extra, reason) => handle.executeUpdate(cancelBatchUpdate, { args: [reason ?? 'cancelled from the command line'] }));
export const runSetConcurrency = (argv: string[]) =>
  controlCommand(setConcurrencySpec, argv, (_id, handle, extra) => {
    if (extra.length !== 1) throw new UsageError('set-concurrency: expected BATCH_ID N');
    return handle.executeUpdate(setConcurrencyUpdate, { args: [flagValue('N', PositiveInt, extra[0])] });
  });
