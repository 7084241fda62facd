import { batchStateOf, describeCounts, unsuccessfulCount } from '../batch-state';
import { fitToColumns } from '../progress-line';
import type { BatchApiProgress, BatchJobProgress, BatchProgress, BatchSummary } from '../schemas';
import { batchFailedItemsUrl, type TemporalConfig } from '../temporal/config';

export { formatProgress } from '../progress-line';

/** Why the batch ended as it did, in words: "completed: all 50 items succeeded", "stopped (cancelled): …". */
export function describeEnd(summary: BatchProgress): string {
  const state = batchStateOf(summary);
  if (state === 'stopped' && summary.control.stop)
    return `stopped early (${summary.control.stop.kind.replace('_', '-')}): ${summary.control.stop.reason}`;
  if (state === 'completed_with_failures')
    return `completed; ${unsuccessfulCount(summary)} of ${summary.total} items did not succeed`;
  return `completed; all ${summary.total} items succeeded`;
}

/**
 * The closing summary, several lines; its counts add up to the total. With the Web UI's address,
 * a batch with unsuccessful items gets a link to their list.
 */
export function formatSummary(summary: BatchSummary, webUi?: Pick<TemporalConfig, 'webUiUrl' | 'namespace'>): string {
  const unsuccessful = unsuccessfulCount(summary);
  const categories = Object.entries(summary.byCategory)
    .map(([category, count]) => `${category}: ${count}`)
    .join(', ');
  return [
    `Batch ${summary.batchId} (${summary.taskName}) ${describeEnd(summary)}; ${(summary.durationMs / 1000).toFixed(1)} s`,
    `  items:      ${summary.total} total: ${describeCounts(summary)}${categories ? ` (${categories})` : ''}`,
    ...(webUi && unsuccessful > 0
      ? [`  failed:     ${unsuccessful} items did not succeed; Web UI: ${batchFailedItemsUrl(webUi, summary.batchId)}`]
      : []),
    ...(Object.keys(summary.byFinishReason).length > 0
      ? [
          `  finish:     ${Object.entries(summary.byFinishReason)
            .map(([reason, count]) => `${reason} ${count}`)
            .join(', ')}`,
        ]
      : []),
    ...Object.entries(summary.bySafety).map(
      ([category, counts]) =>
        `  safety:     ${category.replace('HARM_CATEGORY_', '').toLowerCase()}: ${Object.entries(counts)
          .map(([probability, count]) => `${probability} ${count}`)
          .join(', ')}`,
    ),
    `  throughput: ${summary.itemsPerSecond.toFixed(2)} items/s, ${summary.modelCalls} model calls${summary.control.auto ? `; concurrency auto (up to ${summary.control.concurrency} items in flight, at the rate the quota scope learned)` : ''}`,
    ...(summary.runs > 1
      ? [`  history:    ${summary.runs} runs (continue-as-new), largest ${summary.largestRunEvents} events`]
      : []),
    `  tokens:     ${summary.usage.inputTokens} in (${summary.usage.cachedTokens} cached, hit rate ${(summary.cacheHitRate * 100).toFixed(1)}%, effective ${summary.effectiveInputTokens}), ${summary.usage.outputTokens} out, ${summary.usage.thoughtsTokens} thoughts`,
    `  cost:       $${summary.costUsd.toFixed(4)} estimated${summary.cacheStorageCostUsd !== undefined ? ` (cache storage $${summary.cacheStorageCostUsd.toFixed(4)})` : ''}${summary.unpricedModels.length > 0 ? `; no price for ${summary.unpricedModels.join(', ')} (set --prices)` : ''}`,
    ...(summary.cache
      ? [
          summary.cache.status === 'ready'
            ? `  cache:      ${summary.cache.name} (${summary.cache.tokenCount ?? 0} tokens, "${summary.cache.displayName}")`
            : `  cache:      none, ran uncached: ${summary.cache.reason ?? 'unknown reason'}`,
        ]
      : []),
    ...(summary.batchApi ? batchApiLines(summary.batchApi) : []),
  ].join('\n');
}

/** Jobs that ended without answers: their message says why (their items went online). */
const UNANSWERED: ReadonlySet<BatchJobProgress['state']> = new Set(['failed', 'expired', 'cancelled']);

/** Rows of columns, each padded to its widest cell; the last column is left ragged. */
function table(rows: string[][], indent: string): string[] {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows.map(
    (row) =>
      indent +
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
        .join('  ')
        .trimEnd(),
  );
}

/** Batch Mode's provider jobs, one row each: number, provider name, state, request counts, and why one ended without answers. */
export function batchJobTable(jobs: readonly BatchJobProgress[], indent = '    '): string[] {
  const count = (job: BatchJobProgress, key: 'succeeded' | 'failed' | 'pending') =>
    job.stats ? String(job.stats[key]) : '-';
  return table(
    [
      ['JOB', 'PROVIDER NAME', 'STATE', 'ITEMS', 'SUCCEEDED', 'FAILED', 'PENDING', ''],
      ...jobs.map((job) => [
        String(job.number),
        `${job.name ?? '-'}${job.file ? ' (file)' : ''}`,
        job.state,
        String(job.end - job.start),
        count(job, 'succeeded'),
        count(job, 'failed'),
        count(job, 'pending'),
        UNANSWERED.has(job.state) && job.message ? job.message : '',
      ]),
    ],
    indent,
  );
}

/** What Batch Mode answered, in one line: items answered by their job alone, items that needed online calls, requests each way, savings. */
export function describeBatchApi(api: BatchApiProgress): string {
  return `answered by batch jobs: ${api.answeredByBatch} items; needed online calls: ${api.neededOnline} items; batch requests ${api.batchCalls}, online requests ${api.onlineCalls}; saved $${api.savedUsd.toFixed(4)} against online prices`;
}

/** The Batch Mode lines of `status` and of the summary: the jobs' table, what they answered, and the warning given at start. */
export function batchApiLines(api: BatchApiProgress): string[] {
  const jobs = api.jobs.length;
  return [
    `  batch api:  ${jobs} ${jobs === 1 ? 'job' : 'jobs'} of up to ${api.jobSize} items`,
    ...batchJobTable(api.jobs),
    `  batch api:  ${describeBatchApi(api)}`,
    ...(api.warning ? [`  batch api:  warning: ${api.warning}`] : []),
  ];
}

/** A line, or how to draw one at a terminal's width (undefined: not a terminal, the full line). */
export type ProgressFrame = string | ((columns: number | undefined) => string);

/**
 * Redraws one line on a terminal, fitted to its width so it never wraps (a wrapped redraw leaves
 * a line behind); prints a full line every few seconds elsewhere (logs, CI).
 */
export class ProgressPrinter {
  private lastPrinted = 0;
  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly everyMsWhenNotTty = 5000,
  ) {}

  update(frame: ProgressFrame): void {
    if (this.stream.isTTY) {
      // Read at every redraw: the terminal may have been resized.
      const columns = this.stream.columns || undefined;
      const line = typeof frame === 'string' ? frame : frame(columns);
      this.stream.write(`\r\x1b[2K${fitToColumns(line, columns)}`);
      return;
    }
    const now = Date.now();
    if (now - this.lastPrinted >= this.everyMsWhenNotTty) {
      this.lastPrinted = now;
      this.stream.write(`${typeof frame === 'string' ? frame : frame(undefined)}\n`);
    }
  }

  /** The last frame (the batch's end, at 100 %), drawn whatever the throttle, then a newline. */
  end(finalLine?: ProgressFrame): void {
    if (finalLine !== undefined) {
      this.lastPrinted = 0;
      this.update(finalLine);
    }
    if (this.stream.isTTY) this.stream.write('\n');
  }
}
