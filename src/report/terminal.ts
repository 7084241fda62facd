/**
 * The report as aligned plain-text tables for a terminal (or a log): at most 100 columns wide, no
 * colour codes, so it reads the same piped to a file.
 */
import {
  formatBucket,
  formatCount,
  formatDuration,
  formatOffset,
  formatRate,
  formatShare,
  formatTime,
  formatTokens,
  formatUsd,
} from './format';
import type { BatchReport, ErrorGroup, Latency, Spend } from './stats';

export const TERMINAL_WIDTH = 100;
const INDENT = '  ';
const GAP = '  ';
/** Narrowest a shrinkable column gets before the table overflows instead. */
const MIN_FLEX = 12;

export interface Column {
  header: string;
  align?: 'left' | 'right';
  /** Shrinks (cutting its cells with "…") when the table is wider than the page. */
  flex?: boolean;
}

const length = (text: string) => [...text].length;

function padCell(text: string, width: number, align: 'left' | 'right'): string {
  const chars = [...text];
  const cut = chars.length > width ? `${chars.slice(0, Math.max(0, width - 1)).join('')}…` : text;
  const pad = ' '.repeat(Math.max(0, width - length(cut)));
  return align === 'right' ? pad + cut : cut + pad;
}

/** Rows under a header, columns padded to their widest cell; flex columns shrink to keep within `width`. */
export function table(columns: Column[], rows: string[][], width = TERMINAL_WIDTH): string[] {
  const widths = columns.map((column, index) =>
    Math.max(length(column.header), ...rows.map((row) => length(row[index] ?? ''))),
  );
  const total = () => INDENT.length + widths.reduce((sum, value) => sum + value, 0) + GAP.length * (columns.length - 1);
  for (let index = columns.length - 1; index >= 0 && total() > width; index -= 1) {
    if (!columns[index]?.flex) continue;
    widths[index] = Math.max(MIN_FLEX, (widths[index] ?? 0) - (total() - width));
  }
  const line = (cells: string[]) =>
    (
      INDENT +
      columns.map((column, index) => padCell(cells[index] ?? '', widths[index] ?? 0, column.align ?? 'left')).join(GAP)
    ).trimEnd();
  return [line(columns.map((column) => column.header)), ...rows.map(line)];
}

const BLOCKS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/** A horizontal bar of `value / max` of `width` characters, in eighths. */
export function bar(value: number, max: number, width = 24): string {
  if (max <= 0 || value <= 0) return '';
  const eighths = Math.max(1, Math.round((value / max) * width * 8));
  return '█'.repeat(Math.floor(eighths / 8)) + (BLOCKS[eighths % 8] ?? '');
}

function section(title: string, body: string[]): string[] {
  return body.length > 0 ? ['', title, ...body] : [];
}

function headline(report: BatchReport): string[] {
  const batch = report.batch;
  const state = batch ? ` — ${batch.state}${batch.taskName ? ` (task ${batch.taskName})` : ''}` : '';
  const lines = [`Report of batch ${report.batchId}${state}`];
  const window = report.window;
  const parts = [
    `${formatCount(report.items)} items${batch && batch.total > report.items ? ` of ${formatCount(batch.total)}` : ''}`,
    `${formatCount(report.calls)} calls`,
    `${formatShare(report.successRate)} succeeded`,
    formatUsd(report.spend.total.costUsd),
  ];
  lines.push(`${INDENT}${parts.join(' · ')}`);
  if (window.startedAt && window.finishedAt)
    lines.push(
      `${INDENT}${formatTime(window.startedAt)} → ${formatTime(window.finishedAt)} (${formatDuration(window.durationMs)}), ${formatRate(report.itemsPerMinute)}`,
    );
  if (batch?.stop) lines.push(`${INDENT}stopped (${batch.stop.kind}): ${batch.stop.reason}`);
  if (batch && batch.total > report.items)
    lines.push(`${INDENT}${formatCount(batch.total - report.items)} items have no record yet (pending or running)`);
  lines.push(`${INDENT}records: ${report.source}`);
  if (!batch) lines.push(`${INDENT}(no batch summary from Temporal: everything below is from the records)`);
  return lines;
}

function countRows<T>(
  entries: T[],
  label: (entry: T) => string,
  count: (entry: T) => number,
  whole: number,
): string[][] {
  const max = Math.max(0, ...entries.map(count));
  return entries.map((entry) => [
    label(entry),
    formatCount(count(entry)),
    formatShare(whole > 0 ? count(entry) / whole : 0),
    bar(count(entry), max),
  ]);
}

function statusSection(report: BatchReport): string[] {
  const entries = Object.entries(report.byStatus).filter(([, count]) => count > 0);
  return section(
    'Items by status',
    table(
      [{ header: 'status' }, { header: 'items', align: 'right' }, { header: 'share', align: 'right' }, { header: '' }],
      countRows(
        entries,
        ([status]) => status,
        ([, count]) => count,
        report.items,
      ),
    ),
  );
}

function categorySection(report: BatchReport): string[] {
  if (report.byCategory.length === 0) return section('Unsuccessful items by error category', ['  none']);
  return section(
    'Unsuccessful items by error category',
    table(
      [
        { header: 'category' },
        { header: 'items', align: 'right' },
        { header: 'of all', align: 'right' },
        { header: '' },
      ],
      countRows(
        report.byCategory,
        (entry) => entry.category,
        (entry) => entry.items,
        report.items,
      ),
    ),
  );
}

function finishReasonSection(report: BatchReport): string[] {
  return section(
    "Items by their final answer's finish reason",
    table(
      [
        { header: 'finish reason' },
        { header: 'items', align: 'right' },
        { header: 'share', align: 'right' },
        { header: '' },
      ],
      countRows(
        report.byFinishReason,
        (entry) => entry.finishReason,
        (entry) => entry.items,
        report.items,
      ),
    ),
  );
}

function errorsSection(title: string, groups: ErrorGroup[], unit: string): string[] {
  if (groups.length === 0) return section(title, ['  none']);
  const rows = groups.flatMap((group) => [
    [formatCount(group.count), group.category, group.message],
    [
      '',
      '',
      `e.g. ${group.exampleItemIds.join(', ')}${group.items > group.exampleItemIds.length ? ` (${formatCount(group.items)} items)` : ''}`,
    ],
  ]);
  return section(
    title,
    table([{ header: unit, align: 'right' }, { header: 'category' }, { header: 'message', flex: true }], rows),
  );
}

function spendCells(spend: Spend): string[] {
  return [
    formatCount(spend.calls),
    formatTokens(spend.inputTokens),
    formatTokens(spend.outputTokens + spend.thoughtsTokens),
    formatUsd(spend.costUsd),
    formatShare(spend.costShare),
  ];
}

const SPEND_COLUMNS: Column[] = [
  { header: 'calls', align: 'right' },
  { header: 'input tok', align: 'right' },
  { header: 'output tok', align: 'right' },
  { header: 'cost', align: 'right' },
  { header: 'share', align: 'right' },
];

const ROLE_LABELS: Record<string, string> = {
  accepted: 'accepted answer',
  rejected: 'answer rejected',
  no_answer: 'no answer (error)',
};

function spendSection(report: BatchReport): string[] {
  const { spend } = report;
  const lines = [
    ...section(
      'Spend by stage',
      table(
        [{ header: 'stage' }, { header: 'mode' }, { header: 'items', align: 'right' }, ...SPEND_COLUMNS],
        [
          ...spend.byStage.map((row) => [String(row.stage), row.mode, formatCount(row.items), ...spendCells(row)]),
          ['all', '', formatCount(report.items), ...spendCells(spend.total)],
        ],
      ),
    ),
    ...section(
      'Spend by model',
      table(
        [{ header: 'model', flex: true }, ...SPEND_COLUMNS],
        spend.byModel.map((row) => [row.model, ...spendCells(row)]),
      ),
    ),
    ...section(
      'Spend by call outcome',
      table(
        [{ header: 'what the call got', flex: true }, ...SPEND_COLUMNS],
        spend.byRole.flatMap((row) => [
          [ROLE_LABELS[row.role] ?? row.role, ...spendCells(row)],
          // Its outcomes, unless the one outcome says nothing more (an accepted answer is "ok").
          ...(row.outcomes.length > 1 || (row.outcomes[0] && row.outcomes[0].outcome !== 'ok')
            ? row.outcomes.map((outcome) => [`  ${outcome.outcome}`, ...spendCells(outcome)])
            : []),
        ]),
      ),
    ),
    `${INDENT}Retries and repairs (calls whose answer was not kept): ${formatCount(spend.notAccepted.calls)} calls, ${formatUsd(spend.notAccepted.costUsd)}, ${formatShare(spend.notAccepted.costShare)} of the cost.`,
  ];
  if (spend.unpricedCalls > 0)
    lines.push(`${INDENT}${formatCount(spend.unpricedCalls)} calls to models without a price are not in the cost.`);
  return lines;
}

/** Batch Mode: spend by route, what batch pricing saved, items answered by batch alone, job turnaround. */
function batchApiSection(report: BatchReport): string[] {
  const api = report.batchApi;
  if (!api) return [];
  const { turnaround } = api;
  return [
    ...section(
      'Spend by route (Batch Mode: batch API requests vs online calls)',
      table(
        [{ header: 'route' }, { header: 'items', align: 'right' }, ...SPEND_COLUMNS],
        api.byRoute.map((row) => [row.route, formatCount(row.items), ...spendCells(row)]),
      ),
    ),
    `${INDENT}Batch pricing saved ${formatUsd(api.savedUsd)} against online prices for the same tokens (${formatUsd(api.costAtOnlinePricesUsd)} online).`,
    `${INDENT}Items answered by batch alone: ${formatCount(api.answeredByBatch)}; items that needed online calls: ${formatCount(api.neededOnline)}.`,
    `${INDENT}Batch jobs: ${formatCount(api.jobs)}; request turnaround (job submission to end): p50 ${formatDuration(turnaround.p50Ms)}, p90 ${formatDuration(turnaround.p90Ms)}, max ${formatDuration(turnaround.maxMs)}.`,
  ];
}

const latencyCells = (latency: Latency) => [
  formatCount(latency.calls),
  formatDuration(latency.p50Ms),
  formatDuration(latency.p90Ms),
  formatDuration(latency.p99Ms),
  formatDuration(latency.maxMs),
  formatDuration(latency.meanMs),
];

function latencySection(report: BatchReport): string[] {
  return section(
    `Latency of ${report.batchApi ? 'online ' : ''}calls by stage (items: start to finish, retry waits included)`,
    table(
      [
        { header: 'stage' },
        { header: 'calls', align: 'right' },
        { header: 'p50', align: 'right' },
        { header: 'p90', align: 'right' },
        { header: 'p99', align: 'right' },
        { header: 'max', align: 'right' },
        { header: 'mean', align: 'right' },
      ],
      [
        ...report.latency.byStage.map((row) => [String(row.stage), ...latencyCells(row)]),
        ['all calls', ...latencyCells(report.latency.all)],
        ['items', ...latencyCells(report.latency.items)],
      ],
    ),
  );
}

function distributionSection(report: BatchReport): string[] {
  const callsMax = Math.max(0, ...report.callsPerItem.map((row) => row.items));
  const stageMax = Math.max(0, ...report.stageReached.map((row) => row.items));
  return [
    ...section(
      'Calls per item',
      table(
        [{ header: 'calls' }, { header: 'items', align: 'right' }, { header: 'share', align: 'right' }, { header: '' }],
        report.callsPerItem.map((row) => [
          String(row.calls),
          formatCount(row.items),
          formatShare(report.items > 0 ? row.items / report.items : 0),
          bar(row.items, callsMax),
        ]),
      ),
    ),
    ...section(
      'Last stage reached (0: never called)',
      table(
        [
          { header: 'stage' },
          { header: 'items', align: 'right' },
          { header: 'succeeded', align: 'right' },
          { header: 'share', align: 'right' },
          { header: '' },
        ],
        report.stageReached.map((row) => [
          String(row.stage),
          formatCount(row.items),
          formatCount(row.succeeded),
          formatShare(report.items > 0 ? row.items / report.items : 0),
          bar(row.items, stageMax),
        ]),
      ),
    ),
  ];
}

function timelineSection(report: BatchReport): string[] {
  const { buckets, bucketMs } = report.timeline;
  if (buckets.length === 0) return [];
  const max = Math.max(0, ...buckets.map((bucket) => bucket.itemsPerMinute));
  return section(
    `Throughput and errors over the run (${formatBucket(bucketMs)} buckets, by finish time${report.batchApi ? '; online calls' : ''})`,
    table(
      [
        { header: 'time' },
        { header: 'finished', align: 'right' },
        { header: 'items/min', align: 'right' },
        { header: 'unsucc.', align: 'right' },
        { header: 'calls', align: 'right' },
        { header: 'call err', align: 'right' },
        { header: '' },
      ],
      buckets.map((bucket) => [
        formatOffset(bucket.offsetMs),
        formatCount(bucket.finished),
        formatRate(bucket.itemsPerMinute).replace('/min', ''),
        bucket.finished > 0 ? formatShare(bucket.errorRate) : '',
        formatCount(bucket.calls),
        bucket.calls > 0 ? formatShare(bucket.callErrorRate) : '',
        bar(bucket.itemsPerMinute, max, 20),
      ]),
    ),
  );
}

function outcomesSection(report: BatchReport): string[] {
  return section(
    'Calls by outcome',
    table(
      [{ header: 'outcome' }, { header: 'calls', align: 'right' }, { header: 'share', align: 'right' }, { header: '' }],
      countRows(
        report.callsByOutcome,
        (entry) => entry.outcome,
        (entry) => entry.calls,
        report.calls,
      ),
    ),
  );
}

/** The whole report as lines of at most TERMINAL_WIDTH characters (long error messages are cut). */
export function renderTerminal(report: BatchReport): string {
  if (report.items === 0) return `${headline(report).join('\n')}\n\nNo item has a record yet.\n`;
  return [
    ...headline(report),
    ...statusSection(report),
    ...categorySection(report),
    ...finishReasonSection(report),
    ...outcomesSection(report),
    ...errorsSection('Most frequent errors of unsuccessful items', report.topErrors, 'items'),
    ...errorsSection('Most frequent call errors (retried ones included)', report.topCallErrors, 'calls'),
    ...spendSection(report),
    ...batchApiSection(report),
    ...latencySection(report),
    ...distributionSection(report),
    ...timelineSection(report),
    '',
  ].join('\n');
}
