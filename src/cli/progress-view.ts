import { batchStateOf, describeCounts, unsuccessfulCount } from '../batch-state';
import { fitToColumns } from '../progress-line';
import type { BatchProgress, BatchSummary } from '../schemas';
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
    `  throughput: ${summary.itemsPerSecond.toFixed(2)} items/s, ${summary.modelCalls} model calls`,
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
  ].join('\n');
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
