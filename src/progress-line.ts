/**
 * The live progress line, fitted to a terminal's width: the full line when it fits, else shorter
 * layouts (narrower bar, short labels, then fewer fields), and a cut with "…" as the last resort.
 * A redrawn line must never wrap: `\r` returns to the start of the last row only, so every wrapped
 * redraw would leave a line behind. Pure (no I/O), so it is unit-tested at any width.
 */
import { JOB_ENDED_STATES } from './batch-mode';
import { batchStateOf, finishedCount, SUMMARY_STATUSES, unsuccessfulCount } from './batch-state';
import type { BatchProgress, ItemStatus } from './schemas';

const PREPARING = 'preparing: checking the input on a worker…';

interface Layout {
  /** Bar width in characters; 0: a percentage instead. */
  bar: number;
  /** `long`: "182 succeeded, 3 failed, 4 running"; `short`: "182 ok 3 failed 4 run". */
  labels: 'long' | 'short';
  /** `each`: every status with a count; `ok`: just "N ok M not ok" (not ok: failed, blocked, late, cancelled). */
  statuses: 'each' | 'ok';
  pending: boolean;
  rate: boolean;
  categories: boolean;
  tokens: 'long' | 'short' | 'none';
  /** Between fields. */
  separator: string;
}

const FULL: Layout = {
  bar: 24,
  labels: 'long',
  statuses: 'each',
  pending: true,
  rate: true,
  categories: true,
  tokens: 'long',
  separator: ' | ',
};
const SHORT: Layout = { ...FULL, bar: 16, labels: 'short', tokens: 'short' };
const BARE: Layout = {
  ...SHORT,
  bar: 0,
  rate: false,
  categories: false,
  tokens: 'none',
  pending: false,
  separator: ' ',
};

/** From the full line (logs, wide terminals) to the barest; the first that fits is drawn. */
const LAYOUTS: readonly Layout[] = [
  FULL,
  SHORT,
  { ...SHORT, bar: 12, categories: false },
  { ...SHORT, bar: 10, categories: false, tokens: 'none' },
  { ...SHORT, bar: 10, categories: false, tokens: 'none', pending: false },
  { ...SHORT, bar: 10, categories: false, tokens: 'none', pending: false, statuses: 'ok' },
  BARE,
  { ...BARE, statuses: 'ok' },
];

const SHORT_LABELS: Record<ItemStatus | 'running' | 'pending', string> = {
  succeeded: 'ok',
  filtered: 'filtered',
  failed: 'failed',
  blocked: 'blocked',
  deadline_exceeded: 'late',
  cancelled: 'cancelled',
  running: 'run',
  pending: 'pending',
};

/**
 * One line of live progress: state, done/total, rate, ETA, counts by status and category, tokens,
 * cost. With `columns` (a terminal's width) the line is at most `columns - 1` characters (the last
 * column is left free: writing into it makes some terminals wrap); without, it is the full line.
 */
export function formatProgress(progress: BatchProgress, elapsedMs: number, columns?: number): string {
  if (progress.total === 0 && !progress.done) return fitToColumns(PREPARING, columns);
  if (columns === undefined) return render(progress, elapsedMs, FULL);
  const width = Math.max(columns - 1, 1);
  for (const layout of LAYOUTS) {
    const line = render(progress, elapsedMs, layout);
    if (line.length <= width) return line;
  }
  return fitToColumns(render(progress, elapsedMs, { ...BARE, statuses: 'ok' }), columns);
}

/** `line` cut to `columns - 1` characters, ending with "…" when cut. */
export function fitToColumns(line: string, columns?: number): string {
  if (columns === undefined) return line;
  const width = Math.max(columns - 1, 1);
  return line.length <= width ? line : `${line.slice(0, width - 1)}…`;
}

function render(progress: BatchProgress, elapsedMs: number, layout: Layout): string {
  const done = finishedCount(progress);
  const fraction = progress.total > 0 ? done / progress.total : 0;
  const rate = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  const etaSeconds = rate > 0 ? Math.ceil((progress.total - done) / rate) : undefined;
  const state = batchStateOf(progress);
  const prefix = state === 'running' ? '' : `${state.toUpperCase()} `;
  const filled = Math.round(fraction * layout.bar);
  const gauge =
    layout.bar > 0
      ? `[${'#'.repeat(filled)}${'-'.repeat(layout.bar - filled)}] ${done}/${progress.total}`
      : `${done}/${progress.total} ${Math.floor(fraction * 100)}%`;
  const categories = layout.categories
    ? Object.entries(progress.byCategory)
        .map(([category, count]) => `${category} ${count}`)
        .join(', ')
    : '';
  const tokens =
    layout.tokens === 'long'
      ? `tokens in ${progress.usage.inputTokens} out ${progress.usage.outputTokens} cached ${(progress.cacheHitRate * 100).toFixed(0)}%`
      : `in ${compact(progress.usage.inputTokens)} out ${compact(progress.usage.outputTokens)} cached ${(progress.cacheHitRate * 100).toFixed(0)}%`;
  const jobs = jobsField(progress, layout);
  return [
    `${prefix}${gauge}`,
    ...(jobs ? [jobs] : []),
    ...(layout.rate ? [layout.labels === 'long' ? `${rate.toFixed(1)} items/s` : `${rate.toFixed(1)}/s`] : []),
    // While provider jobs run, the item rate says nothing of when the batch ends.
    ...(progress.done || jobs ? [] : [`ETA ${etaSeconds === undefined ? '?' : duration(etaSeconds)}`]),
    `${counts(progress, layout)}${categories ? ` (${categories})` : ''}`,
    ...(layout.tokens === 'none' ? [] : [tokens]),
    `$${progress.costUsd.toFixed(4)}`,
  ].join(layout.separator);
}

/**
 * Batch Mode, while some provider job has not ended: how many have, and how many of their requests
 * the provider has answered (from the last poll). Absent once every job has ended, and in the barest layouts.
 */
function jobsField(progress: BatchProgress, layout: Layout): string | undefined {
  const jobs = progress.batchApi?.jobs;
  if (!jobs || jobs.length === 0 || layout.bar === 0) return undefined;
  const ended = jobs.filter((job) => JOB_ENDED_STATES.includes(job.state)).length;
  if (ended === jobs.length) return undefined;
  if (layout.labels === 'short') return `jobs ${ended}/${jobs.length}`;
  const requests = jobs.reduce((sum, job) => sum + (job.stats?.requests ?? 0), 0);
  const answered = jobs.reduce((sum, job) => sum + (job.stats ? job.stats.succeeded + job.stats.failed : 0), 0);
  return `batch jobs ${ended}/${jobs.length} ended${requests > 0 ? `, ${answered}/${requests} requests answered` : ''}`;
}

/** Every status with a count (succeeded and failed always), then running and pending. */
function counts(progress: BatchProgress, layout: Layout): string {
  if (layout.statuses === 'ok') {
    const parts = [`${progress.succeeded + progress.filtered} ok`, `${unsuccessfulCount(progress)} not ok`];
    if (progress.running > 0) parts.push(`${progress.running} run`);
    if (layout.pending && progress.pending > 0) parts.push(`${progress.pending} pending`);
    return parts.join(' ');
  }
  const shown: Array<ItemStatus | 'running' | 'pending'> = SUMMARY_STATUSES.filter(
    (status) => status === 'succeeded' || status === 'failed' || progress[status] > 0,
  );
  if (progress.running > 0) shown.push('running');
  if (layout.pending && progress.pending > 0) shown.push('pending');
  return layout.labels === 'long'
    ? shown.map((status) => `${progress[status]} ${status}`).join(', ')
    : shown.map((status) => `${progress[status]} ${SHORT_LABELS[status]}`).join(' ');
}

/** 18805 → 18.8k, 2500000 → 2.5M. */
function compact(value: number): string {
  if (value < 1000) return String(value);
  if (value < 1_000_000) return `${(value / 1000).toFixed(value < 10_000 ? 1 : 0)}k`;
  return `${(value / 1_000_000).toFixed(1)}M`;
}

/** Whole seconds up to 2 minutes, then 5m10s, then 2h05m. */
function duration(seconds: number): string {
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 120) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}
