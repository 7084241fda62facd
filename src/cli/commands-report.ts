/**
 * `report`: a batch's counts, errors, spend, latency and timeline, computed from its result
 * records (src/report/stats.ts), shown as terminal tables, JSON (`-o json`) or one HTML file
 * (`--html`). Temporal is asked for the batch's state and total when it answers; the report does
 * not need it.
 */
import { writeFile } from 'node:fs/promises';
import { batchStateOf } from '../batch-state';
import { BatchClient } from '../client/batch-client';
import { BatchNotFoundError } from '../client/errors';
import type { ResultReader } from '../results';
import type { ResultStore } from '../results-store';
import type { BatchProgress, BatchSummary } from '../schemas';
import { renderHtml } from '../report/html';
import { ReportBuilder, type BatchInfo, type BatchReport } from '../report/stats';
import { renderTerminal } from '../report/terminal';
import type { TemporalConfig } from '../temporal/config';
import { batchIdArgument, parseCommandArgs, UsageError } from './args';
import { reportSpec } from './command-specs';
import { printHelp } from './help';
import { outputFormatOf, printJson, temporalConfigOf } from './output';
import { openResultStoreOf } from './state-directory';

export async function runReport(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(reportSpec, argv);
  if (values.help) return printHelp(reportSpec);
  const batchId = batchIdArgument(positionals, 'report');
  const output = outputFormatOf(values);
  if (values.html === '') throw new UsageError('report: --html needs a file name');
  const config = temporalConfigOf(values);
  const store = openReader(values);
  let report: BatchReport;
  try {
    // Temporal's view (state, total, stop) is asked for alongside the records; the report stands without it.
    const batch = values.offline ? Promise.resolve(undefined) : batchInfo(config, batchId);
    report = await reportOf(store, batchId, batch);
  } finally {
    await store.close();
  }
  if (output === 'json') printJson(report);
  else process.stdout.write(renderTerminal(report));
  if (values.html) {
    await writeFile(values.html, renderHtml(report));
    process.stderr.write(`Wrote the HTML report to ${values.html}\n`);
  }
  return 0;
}

/** The store the report reads, as `results` finds it: --results-url or --results-dir, else the settings. */
function openReader(flags: { 'results-url'?: string | undefined; 'results-dir'?: string | undefined }): ResultStore {
  return openResultStoreOf(flags);
}

/** Streams the batch's records into the report; no record at all is BatchNotFoundError. */
export async function reportOf(
  reader: ResultReader,
  batchId: string,
  batch: Promise<BatchInfo | undefined>,
): Promise<BatchReport> {
  if (!(await reader.hasResults(batchId)))
    throw new BatchNotFoundError(
      `no results for batch "${batchId}" in ${reader.describe(batchId)} (wrong --results-dir or --results-url, or nothing has finished yet)`,
    );
  const builder = new ReportBuilder();
  for await (const record of reader.records(batchId, 'input')) builder.add(record);
  const info = await batch;
  return builder.finish({ batchId, source: reader.describe(batchId), ...(info ? { batch: info } : {}) });
}

/** The batch's state and totals from Temporal, or undefined (said on stderr) when it cannot tell. */
async function batchInfo(config: TemporalConfig, batchId: string): Promise<BatchInfo | undefined> {
  try {
    const client = await BatchClient.connect(config);
    const status = await client.statusOf(batchId);
    if (status === 'RUNNING') return infoOf(await client.progress(batchId));
    if (status === 'COMPLETED') return infoOf(await client.summary(batchId));
    process.stderr.write(
      `batch-llm report: the batch workflow is ${status}: no summary; the report is from the records alone\n`,
    );
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    process.stderr.write(
      `batch-llm report: no batch summary from Temporal (${message}); the report is from the records alone\n`,
    );
  }
  return undefined;
}

function infoOf(progress: BatchProgress | BatchSummary): BatchInfo {
  const summary = 'finishedAt' in progress ? progress : undefined;
  return {
    state: batchStateOf(progress),
    taskName: progress.taskName,
    total: progress.total,
    startedAt: progress.startedAt,
    ...(summary ? { finishedAt: summary.finishedAt, durationMs: summary.durationMs } : {}),
    costUsd: progress.costUsd,
    ...(summary?.cacheStorageCostUsd !== undefined ? { cacheStorageCostUsd: summary.cacheStorageCostUsd } : {}),
    ...(progress.control.stop
      ? { stop: { kind: progress.control.stop.kind, reason: progress.control.stop.reason } }
      : {}),
  };
}
