/** `list` and `rerun`: the batches of a namespace, and follow-up batches of an ended one's unsuccessful items. */
import { z } from 'zod';
import { BatchClient, type ListedBatch } from '../client/batch-client';
import { ERROR_CATEGORIES } from '../errors/categories';
import { ITEM_STATUSES, ProviderNameSchema, type ItemStatus } from '../schemas';
import { batchFailedItemsUrl } from '../temporal/config';
import {
  batchIdArgument,
  commaListOf,
  ConcurrencyValue,
  flagValue,
  parseCommandArgs,
  PositiveInt,
  spanMs,
  UsageError,
} from './args';
import { batchApiOf, watchToEnd } from './commands-batch';
import { listSpec, rerunSpec } from './command-specs';
import { printHelp } from './help';
import { outputFormatOf, printJson, temporalConfigOf } from './output';

const out = (line: string) => process.stdout.write(`${line}\n`);

export async function runRerun(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(rerunSpec, argv);
  if (values.help) return printHelp(rerunSpec);
  const originId = batchIdArgument(positionals, 'rerun');
  const statuses = values.status ? flagValue('status', commaListOf(ITEM_STATUSES, 'status'), values.status) : undefined;
  const categories = values.category
    ? flagValue('category', commaListOf(ERROR_CATEGORIES, 'error category'), values.category)
    : undefined;
  const concurrency = values.concurrency ? flagValue('concurrency', ConcurrencyValue, values.concurrency) : undefined;
  if (values.online && (values['batch-api'] || values['job-size'] !== undefined))
    throw new UsageError('rerun: --online and --batch-api/--job-size contradict each other');
  const batchApi = values.online ? null : batchApiOf(values, 'rerun');
  const format = outputFormatOf(values);
  const batchClient = await BatchClient.connect(temporalConfigOf(values));
  const rerun = await batchClient.rerun(originId, {
    ...(statuses ? { statuses: statuses as ItemStatus[] } : {}),
    ...(categories ? { categories } : {}),
    ...(values['batch-id'] ? { batchId: values['batch-id'] } : {}),
    ...(concurrency !== undefined ? { concurrency } : {}),
    ...(values.model || values.provider
      ? {
          options: {
            ...(values.model ? { model: values.model } : {}),
            ...(values.provider ? { provider: flagValue('provider', ProviderNameSchema, values.provider) } : {}),
          },
        }
      : {}),
    ...(batchApi !== undefined ? { batchApi } : {}),
  });
  if (format === 'json') {
    // With --wait, the one JSON document is the rerun's summary.
    if (values.wait) return watchToEnd(batchClient, rerun.batchId, format);
    printJson(rerun);
    return 0;
  }
  const selected = `${rerun.rerunOf.statuses.join('/')}${rerun.rerunOf.categories ? ` (${rerun.rerunOf.categories.join('/')})` : ''}`;
  out(`Started batch ${rerun.batchId}: ${rerun.itemCount} ${selected} items of ${originId} again`);
  out(`  batch: ${rerun.url}`);
  out(`  items: ${rerun.itemsUrl}`);
  out(`  failed: ${batchFailedItemsUrl(batchClient.config, rerun.batchId)}`);
  if (!values.wait) {
    out(`Follow it with: batch-llm status ${rerun.batchId} --watch`);
    return 0;
  }
  return watchToEnd(batchClient, rerun.batchId, format);
}

/** `--since 2026-12-01T00:00Z` or a span back from now: `90m`, `24h`, `7d`. */
const Since = z.string().transform((value, context) => {
  const span = spanMs(value);
  if (span !== undefined) return new Date(Date.now() - span);
  const time = Date.parse(value);
  if (Number.isNaN(time)) {
    context.addIssue({
      code: 'custom',
      message: `expected an ISO date/time or a span like 90m, 24h, 7d; got "${value}"`,
    });
    return z.NEVER;
  }
  return new Date(time);
});

export async function runList(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(listSpec, argv);
  if (values.help) return printHelp(listSpec);
  if (positionals.length > 0) throw new UsageError(`list: takes no arguments, got "${positionals.join(' ')}"`);
  const format = outputFormatOf(values);
  const since = values.since ? flagValue('since', Since, values.since) : undefined;
  const limit = values.limit ? flagValue('limit', PositiveInt, values.limit) : undefined;
  const batchClient = await BatchClient.connect(temporalConfigOf(values));
  const batches = await batchClient.list({
    ...(values.running ? { running: true } : {}),
    ...(values.task ? { taskName: values.task } : {}),
    ...(since ? { since } : {}),
    ...(limit !== undefined ? { limit } : {}),
  });
  if (format === 'json') {
    printJson(batches);
    return 0;
  }
  for (const line of listTable(batches)) out(line);
  return 0;
}

/** One row per batch, columns aligned; the links after the table (they are long). */
export function listTable(batches: readonly ListedBatch[]): string[] {
  if (batches.length === 0) return ['No batches.'];
  const rows = batches.map((batch) => {
    const progress = batch.progress;
    const done = progress
      ? progress.succeeded +
        progress.filtered +
        progress.failed +
        progress.blocked +
        progress.cancelled +
        progress.deadline_exceeded
      : undefined;
    const unsuccessful = progress
      ? progress.failed + progress.blocked + progress.cancelled + progress.deadline_exceeded
      : 0;
    const stop = progress?.control.stop ? ` (${progress.control.stop.kind})` : '';
    return [
      batch.batchId,
      `${batch.state}${stop}`,
      progress ? `${done}/${progress.total}` : '?',
      progress ? (unsuccessful > 0 ? `${unsuccessful} unsuccessful` : '') : '',
      progress ? `$${progress.costUsd.toFixed(4)}` : '',
      batch.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
      batch.taskName,
      batch.rerunOf ? `rerun of ${batch.rerunOf}` : '',
    ];
  });
  const header = ['BATCH', 'STATE', 'DONE', 'NOT OK', 'COST', 'STARTED (UTC)', 'TASK', ''];
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line), '', ...batches.map((batch) => `${batch.batchId}: ${batch.url}`)];
}
