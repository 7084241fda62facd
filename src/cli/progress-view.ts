import { batchStateOf, describeCounts, finishedCount, unsuccessfulCount } from '../batch-state';
import type { BatchProgress, BatchSummary } from '../schemas';

/** One line of live progress: state, done/total, rate, ETA, counts by status and category, tokens, cost. */
export function formatProgress(progress: BatchProgress, elapsedMs: number): string {
  if (progress.total === 0 && !progress.done) return 'preparing: checking the input on a worker…';
  const done = finishedCount(progress);
  const fraction = progress.total > 0 ? done / progress.total : 0;
  const width = 24;
  const filled = Math.round(fraction * width);
  const rate = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  const etaSeconds = rate > 0 ? Math.ceil((progress.total - done) / rate) : undefined;
  const categories = Object.entries(progress.byCategory)
    .map(([category, count]) => `${category} ${count}`)
    .join(', ');
  const state = batchStateOf(progress);
  return [
    `${state === 'running' ? '' : `${state.toUpperCase()} `}[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${progress.total}`,
    `${rate.toFixed(1)} items/s`,
    ...(progress.done ? [] : [`ETA ${etaSeconds === undefined ? '?' : `${etaSeconds}s`}`]),
    `${describeCounts(progress)}${categories ? ` (${categories})` : ''}`,
    `tokens in ${progress.usage.inputTokens} out ${progress.usage.outputTokens} cached ${(progress.cacheHitRate * 100).toFixed(0)}%`,
    `$${progress.costUsd.toFixed(4)}`,
  ].join(' | ');
}

/** Why the batch ended as it did, in words: "completed: all 50 items succeeded", "stopped (cancelled): …". */
export function describeEnd(summary: BatchProgress): string {
  const state = batchStateOf(summary);
  if (state === 'stopped' && summary.control.stop)
    return `stopped early (${summary.control.stop.kind.replace('_', '-')}): ${summary.control.stop.reason}`;
  if (state === 'completed_with_failures')
    return `completed; ${unsuccessfulCount(summary)} of ${summary.total} items did not succeed`;
  return `completed; all ${summary.total} items succeeded`;
}

/** The closing summary, several lines; its counts add up to the total. */
export function formatSummary(summary: BatchSummary): string {
  const categories = Object.entries(summary.byCategory)
    .map(([category, count]) => `${category}: ${count}`)
    .join(', ');
  return [
    `Batch ${summary.batchId} (${summary.taskName}) ${describeEnd(summary)}; ${(summary.durationMs / 1000).toFixed(1)} s`,
    `  items:      ${summary.total} total: ${describeCounts(summary)}${categories ? ` (${categories})` : ''}`,
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

/** Redraws one line on a terminal; prints a line every few seconds elsewhere (logs, CI). */
export class ProgressPrinter {
  private lastPrinted = 0;
  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly everyMsWhenNotTty = 5000,
  ) {}

  update(line: string): void {
    if (this.stream.isTTY) {
      this.stream.write(`\r\x1b[2K${line}`);
      return;
    }
    const now = Date.now();
    if (now - this.lastPrinted >= this.everyMsWhenNotTty) {
      this.lastPrinted = now;
      this.stream.write(`${line}\n`);
    }
  }

  /** The last frame (the batch's end, at 100 %), drawn whatever the throttle, then a newline. */
  end(finalLine?: string): void {
    if (finalLine !== undefined) {
      this.lastPrinted = 0;
      this.update(finalLine);
    }
    if (this.stream.isTTY) this.stream.write('\n');
  }
}
