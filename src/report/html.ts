/**
 * The report as one self-contained HTML page: inline CSS and inline SVG charts drawn here, no
 * script, no font or image to fetch, so it opens offline and can be mailed or attached to a
 * ticket. Every text from the records (item ids, error messages, model names) is escaped: they
 * are untrusted, and a page that ran them would be an XSS.
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
import type { BatchReport, ErrorGroup, Spend } from './stats';

/** Text for HTML element content and quoted attribute values alike. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (char) => `&#${char.charCodeAt(0)};`);
}
const esc = escapeHtml;

const STATUS_COLORS: Record<string, string> = {
  succeeded: '#2b8a3e',
  filtered: '#74b816',
  failed: '#e03131',
  blocked: '#f08c00',
  deadline_exceeded: '#7048e8',
  cancelled: '#868e96',
};
const ROLE_COLORS: Record<string, string> = { accepted: '#2b8a3e', rejected: '#f59f00', no_answer: '#e03131' };
const ROLE_LABELS: Record<string, string> = {
  accepted: 'accepted answer',
  rejected: 'answer rejected',
  no_answer: 'no answer (error)',
};
const ROUTE_COLORS: Record<string, string> = { batch: '#0ca678', online: '#1c7ed6' };
const BLUE = '#1c7ed6';
const RED = '#e03131';
/** Error categories: warm colours, none green (green is for what went well). */
const ERROR_PALETTE = ['#e03131', '#f08c00', '#ae3ec9', '#d6336c', '#e8590c', '#7048e8', '#c92a2a', '#868e96'];
const PALETTE = ['#1c7ed6', '#f08c00', '#7048e8', '#0ca678', '#e64980', '#495057', '#74b816', '#d6336c', '#1098ad'];
const FONT = `system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, 'Liberation Sans', sans-serif`;

/** Round steps for an axis from 0 to at least `max`: 0, 50, 100, 150… */
export function niceTicks(max: number, count = 4): number[] {
  if (max <= 0) return [0, 1];
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((factor) => factor * magnitude >= raw) ?? 10) * magnitude;
  const ticks: number[] = [];
  for (let value = 0; value < max + step * 0.999; value += step) ticks.push(Number(value.toPrecision(12)));
  return ticks;
}

const round1 = (value: number) => Math.round(value * 10) / 10;

/** Approximate text width in px of the sans-serif at `size` (for laying out labels without a browser). */
const textWidth = (text: string, size = 12) => [...text].length * size * 0.56;

interface BarRow {
  label: string;
  value: number;
  text: string;
  color?: string;
  /** Hover text. */
  title?: string;
}

/** Horizontal bars, one per row, label on the left and value on the right of the bar. */
function hbarChart(rows: BarRow[], width = 560): string {
  if (rows.length === 0) return '<p class="none">none</p>';
  const rowHeight = 26;
  const labelWidth = Math.min(200, Math.max(60, ...rows.map((row) => textWidth(row.label))) + 12);
  const valueWidth = Math.max(...rows.map((row) => textWidth(row.text))) + 10;
  const barSpace = Math.max(40, width - labelWidth - valueWidth);
  const max = Math.max(...rows.map((row) => row.value), 0);
  const height = rows.length * rowHeight + 4;
  const bars = rows.map((row, index) => {
    const y = index * rowHeight + 2;
    const length = max > 0 ? Math.max(row.value > 0 ? 2 : 0, (row.value / max) * barSpace) : 0;
    return [
      `<g class="row"><title>${esc(row.title ?? `${row.label}: ${row.text}`)}</title>`,
      `<text x="${labelWidth - 8}" y="${y + 16}" text-anchor="end" class="label">${esc(truncate(row.label, 30))}</text>`,
      `<rect class="bar" x="${labelWidth}" y="${y + 3}" width="${round1(length)}" height="${rowHeight - 8}" rx="3" fill="${row.color ?? BLUE}"/>`,
      `<text x="${round1(labelWidth + length + 6)}" y="${y + 16}" class="value">${esc(row.text)}</text></g>`,
    ].join('');
  });
  return svg(width, height, bars.join(''), 'bar chart');
}

interface Segment {
  value: number;
  color: string;
  name: string;
}

/** Vertical columns (stacked when a column has several segments) with a y axis and x labels. */
function columnChart(
  columns: Array<{ label: string; segments: Segment[] }>,
  options: { width?: number; height?: number; xTitle: string; yTitle: string },
): string {
  if (columns.length === 0) return '<p class="none">none</p>';
  const width = options.width ?? 560;
  const height = options.height ?? 220;
  const left = 48;
  const bottom = 40;
  const top = 12;
  const plotWidth = width - left - 10;
  const plotHeight = height - top - bottom;
  const max = Math.max(...columns.map((column) => column.segments.reduce((sum, part) => sum + part.value, 0)), 0);
  const ticks = niceTicks(max);
  const scaleMax = ticks.at(-1) ?? 1;
  const slot = plotWidth / columns.length;
  const barWidth = Math.min(56, slot * 0.7);
  const y = (value: number) => top + plotHeight - (value / scaleMax) * plotHeight;
  const parts: string[] = [axisY(ticks, y, left, width - 10, (value) => formatCount(value))];
  columns.forEach((column, index) => {
    const x = left + slot * index + (slot - barWidth) / 2;
    let base = 0;
    for (const segment of column.segments) {
      if (segment.value <= 0) continue;
      const y0 = y(base);
      const y1 = y(base + segment.value);
      parts.push(
        `<rect class="bar" x="${round1(x)}" y="${round1(y1)}" width="${round1(barWidth)}" height="${round1(Math.max(1, y0 - y1))}" fill="${segment.color}"><title>${esc(`${options.xTitle} ${column.label}: ${formatCount(segment.value)} ${segment.name}`)}</title></rect>`,
      );
      base += segment.value;
    }
    if (base > 0)
      parts.push(
        `<text x="${round1(x + barWidth / 2)}" y="${round1(y(base) - 4)}" text-anchor="middle" class="value">${formatCount(base)}</text>`,
      );
    parts.push(
      `<text x="${round1(x + barWidth / 2)}" y="${top + plotHeight + 16}" text-anchor="middle" class="label">${esc(column.label)}</text>`,
    );
  });
  parts.push(
    `<text x="${left + plotWidth / 2}" y="${height - 6}" text-anchor="middle" class="axis-title">${esc(options.xTitle)}</text>`,
    `<text x="12" y="${top + plotHeight / 2}" text-anchor="middle" class="axis-title" transform="rotate(-90 12 ${top + plotHeight / 2})">${esc(options.yTitle)}</text>`,
  );
  return svg(width, height, parts.join(''), 'column chart');
}

function axisY(
  ticks: number[],
  y: (value: number) => number,
  left: number,
  right: number,
  label: (value: number) => string,
): string {
  return ticks
    .map(
      (tick) =>
        `<line x1="${left}" x2="${right}" y1="${round1(y(tick))}" y2="${round1(y(tick))}" class="${tick === 0 ? 'axis' : 'grid'}"/>` +
        `<text x="${left - 6}" y="${round1(y(tick) + 4)}" text-anchor="end" class="tick">${esc(label(tick))}</text>`,
    )
    .join('');
}

/** Items per minute as an area (left axis) and the share of unsuccessful items and of failed calls as lines (right axis, %). */
function timelineChart(report: BatchReport, width = 1120, height = 260): string {
  const { buckets, bucketMs } = report.timeline;
  if (buckets.length === 0) return '<p class="none">no finished items</p>';
  const left = 56;
  const right = 56;
  const top = 14;
  const bottom = 38;
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const ticks = niceTicks(Math.max(...buckets.map((bucket) => bucket.itemsPerMinute), 0));
  const scaleMax = ticks.at(-1) ?? 1;
  const maxRate = Math.max(...buckets.flatMap((bucket) => [bucket.errorRate, bucket.callErrorRate]), 0);
  const rateTicks = niceTicks(Math.max(maxRate * 100, 5)).map((value) => value / 100);
  const rateMax = rateTicks.at(-1) ?? 1;
  const x = (index: number) =>
    left + (buckets.length === 1 ? plotWidth / 2 : (index / (buckets.length - 1)) * plotWidth);
  const y = (value: number) => top + plotHeight - (value / scaleMax) * plotHeight;
  const yRate = (value: number) => top + plotHeight - (value / rateMax) * plotHeight;
  const points = buckets.map((bucket, index) => `${round1(x(index))},${round1(y(bucket.itemsPerMinute))}`);
  const area = `M${round1(x(0))},${round1(y(0))} L${points.join(' L')} L${round1(x(buckets.length - 1))},${round1(y(0))} Z`;
  const line = (values: number[]) =>
    values.map((value, index) => `${index === 0 ? 'M' : 'L'}${round1(x(index))},${round1(yRate(value))}`).join(' ');
  const labelEvery = Math.max(1, Math.ceil(buckets.length / 10));
  const parts = [
    axisY(ticks, y, left, left + plotWidth, (value) => formatCount(value)),
    ...rateTicks.map(
      (tick) =>
        `<text x="${left + plotWidth + 6}" y="${round1(yRate(tick) + 4)}" class="tick rate">${Number((tick * 100).toFixed(1))}%</text>`,
    ),
    `<path d="${area}" class="area"/>`,
    `<path d="M${points.join(' L')}" class="area-line"/>`,
    `<path d="${line(buckets.map((bucket) => bucket.callErrorRate))}" class="call-error-line"/>`,
    `<path d="${line(buckets.map((bucket) => bucket.errorRate))}" class="error-line"/>`,
    ...buckets.map(
      (bucket, index) =>
        `<circle cx="${round1(x(index))}" cy="${round1(y(bucket.itemsPerMinute))}" r="2.5" class="point"><title>${esc(
          `${formatOffset(bucket.offsetMs)}: ${formatCount(bucket.finished)} finished (${formatRate(bucket.itemsPerMinute)}), ${formatShare(bucket.errorRate)} unsuccessful, ${formatCount(bucket.calls)} calls, ${formatShare(bucket.callErrorRate)} failed`,
        )}</title></circle>`,
    ),
    ...buckets
      .map((bucket, index) =>
        index % labelEvery === 0 || index === buckets.length - 1
          ? `<text x="${round1(x(index))}" y="${top + plotHeight + 16}" text-anchor="middle" class="tick">${formatOffset(bucket.offsetMs)}</text>`
          : '',
      )
      .filter(Boolean),
    `<text x="${left + plotWidth / 2}" y="${height - 4}" text-anchor="middle" class="axis-title">time since the first item started (${formatBucket(bucketMs)} buckets, by finish time)</text>`,
    `<text x="14" y="${top + plotHeight / 2}" text-anchor="middle" class="axis-title" transform="rotate(-90 14 ${top + plotHeight / 2})">items finished / min</text>`,
    `<text x="${width - 10}" y="${top + plotHeight / 2}" text-anchor="middle" class="axis-title" transform="rotate(90 ${width - 10} ${top + plotHeight / 2})">error rate</text>`,
  ];
  return svg(width, height, parts.join(''), 'throughput and error rate over time');
}

/** One bar split into shares (the spend by call outcome), with a legend under it. */
function shareBar(parts: Array<{ name: string; value: number; color: string; text: string }>, width = 560): string {
  const total = parts.reduce((sum, part) => sum + part.value, 0);
  if (total <= 0) return '<p class="none">no cost recorded</p>';
  let x = 0;
  const rects = parts
    .filter((part) => part.value > 0)
    .map((part) => {
      const w = (part.value / total) * width;
      const rect = `<rect class="bar" x="${round1(x)}" y="0" width="${round1(w)}" height="28" fill="${part.color}"><title>${esc(`${part.name}: ${part.text}`)}</title></rect>`;
      x += w;
      return rect;
    });
  const legend = parts
    .map(
      (part) =>
        `<li><span class="swatch" style="background:${part.color}"></span>${esc(part.name)} <b>${esc(part.text)}</b></li>`,
    )
    .join('');
  return `${svg(width, 28, rects.join(''), 'share bar')}<ul class="legend">${legend}</ul>`;
}

function svg(width: number, height: number, body: string, label: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${esc(label)}">${body}</svg>`;
}

function truncate(text: string, chars: number): string {
  const all = [...text];
  return all.length > chars ? `${all.slice(0, chars - 1).join('')}…` : text;
}

function card(title: string, body: string, extra = ''): string {
  return `<section class="card${extra ? ` ${extra}` : ''}"><h2>${esc(title)}</h2>${body}</section>`;
}

function kpi(key: string, label: string, value: string, note = ''): string {
  return `<div class="kpi" data-key="${esc(key)}"><div class="kpi-label">${esc(label)}</div><div class="kpi-value">${esc(value)}</div>${note ? `<div class="kpi-note">${esc(note)}</div>` : ''}</div>`;
}

function errorTable(groups: ErrorGroup[], unit: string, id: string): string {
  if (groups.length === 0) return '<p class="none">none</p>';
  const rows = groups
    .map(
      (group) =>
        `<tr><td class="num">${formatCount(group.count)}</td><td><span class="tag">${esc(group.category)}</span></td><td class="message" title="${esc(group.example)}">${esc(group.message)}</td><td class="ids">${group.exampleItemIds.map((itemId) => `<code>${esc(itemId)}</code>`).join(' ')}${group.items > group.exampleItemIds.length ? ` <span class="more">+${formatCount(group.items - group.exampleItemIds.length)}</span>` : ''}</td></tr>`,
    )
    .join('');
  return `<table class="errors" id="${id}"><thead><tr><th class="num">${esc(unit)}</th><th>category</th><th>message (digits and ids collapsed)</th><th>example items</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** Tokens and cost in one table: a heading row per grouping (by stage, by model), then its rows. */
function spendTable(
  groups: Array<{ title: string; rows: Array<{ label: string; spend: Spend; items?: string; total?: boolean }> }>,
  id: string,
): string {
  const body = groups
    .map(
      (group) =>
        `<tr class="group"><td colspan="7">${esc(group.title)}</td></tr>` +
        group.rows
          .map(
            ({ label, spend, items, total }) =>
              `<tr${total ? ' class="total"' : ''}><td>${esc(label)}</td><td class="num">${esc(items ?? '')}</td><td class="num">${formatCount(spend.calls)}</td><td class="num">${formatTokens(spend.inputTokens)}</td><td class="num">${formatTokens(spend.outputTokens + spend.thoughtsTokens)}</td><td class="num">${formatUsd(spend.costUsd)}</td><td class="num">${formatShare(spend.costShare)}</td></tr>`,
          )
          .join(''),
    )
    .join('');
  return `<table class="spend" id="${id}"><thead><tr><th></th><th class="num">items</th><th class="num">calls</th><th class="num">input tok</th><th class="num">output tok</th><th class="num">cost</th><th class="num">share</th></tr></thead><tbody>${body}</tbody></table>`;
}

function latencyTable(report: BatchReport): string {
  const row = (label: string, latency: BatchReport['latency']['all'], className = '') =>
    `<tr${className ? ` class="${className}"` : ''}><td>${esc(label)}</td><td class="num">${formatCount(latency.calls)}</td><td class="num">${formatDuration(latency.p50Ms)}</td><td class="num">${formatDuration(latency.p90Ms)}</td><td class="num">${formatDuration(latency.p99Ms)}</td><td class="num">${formatDuration(latency.maxMs)}</td></tr>`;
  return `<table class="latency" id="latency"><thead><tr><th>stage</th><th class="num">calls</th><th class="num">p50</th><th class="num">p90</th><th class="num">p99</th><th class="num">max</th></tr></thead><tbody>${report.latency.byStage
    .map((latency) => row(`stage ${latency.stage}`, latency))
    .join(
      '',
    )}${row('all calls', report.latency.all, 'total')}${row('items (start to finish)', report.latency.items, 'total')}</tbody></table>`;
}

/** Per stage on one shared axis: a box from p50 to p90, a whisker on to p99, a dot at the max. */
function latencyChart(report: BatchReport, width = 540): string {
  const rows = report.latency.byStage;
  if (rows.length === 0) return '';
  const left = 64;
  const rowHeight = 28;
  const top = 4;
  const plotBottom = top + rows.length * rowHeight;
  const height = plotBottom + 34;
  const ticks = niceTicks(Math.max(...rows.map((row) => row.maxMs), 1));
  const scaleMax = ticks.at(-1) ?? 1;
  const plot = width - left - 20;
  const x = (ms: number) => left + Math.min(1, ms / scaleMax) * plot;
  const parts: string[] = ticks.map(
    (tick) =>
      `<line x1="${round1(x(tick))}" x2="${round1(x(tick))}" y1="${top}" y2="${plotBottom}" class="${tick === 0 ? 'axis' : 'grid'}"/><text x="${round1(x(tick))}" y="${plotBottom + 14}" text-anchor="middle" class="tick">${esc(formatDuration(tick))}</text>`,
  );
  rows.forEach((row, index) => {
    const y = top + index * rowHeight;
    const middle = y + rowHeight / 2;
    parts.push(
      `<g><title>${esc(`stage ${row.stage}: p50 ${formatDuration(row.p50Ms)}, p90 ${formatDuration(row.p90Ms)}, p99 ${formatDuration(row.p99Ms)}, max ${formatDuration(row.maxMs)} (${formatCount(row.calls)} calls)`)}</title>`,
      `<text x="${left - 8}" y="${middle + 4}" text-anchor="end" class="label">stage ${row.stage}</text>`,
      `<line x1="${round1(x(row.p90Ms))}" x2="${round1(x(row.p99Ms))}" y1="${middle}" y2="${middle}" class="whisker"/>`,
      `<line x1="${round1(x(row.p99Ms))}" x2="${round1(x(row.p99Ms))}" y1="${middle - 5}" y2="${middle + 5}" class="whisker"/>`,
      `<rect class="bar" x="${round1(x(row.p50Ms))}" y="${middle - 8}" width="${round1(Math.max(2, x(row.p90Ms) - x(row.p50Ms)))}" height="16" rx="2" fill="${BLUE}" fill-opacity="0.85"/>`,
      `<line x1="${round1(x(row.p50Ms))}" x2="${round1(x(row.p50Ms))}" y1="${middle - 10}" y2="${middle + 10}" class="median"/>`,
      `<circle cx="${round1(x(row.maxMs))}" cy="${middle}" r="3" class="max"/></g>`,
    );
  });
  parts.push(
    `<text x="${left + plot / 2}" y="${height - 2}" text-anchor="middle" class="axis-title">call duration: box p50 to p90, whisker to p99, dot the slowest</text>`,
  );
  return svg(width, height, parts.join(''), 'latency by stage');
}

/** Spend by what the call got, each role followed by its outcomes. */
function roleTable(report: BatchReport): string {
  const cells = (spend: Spend) =>
    `<td class="num">${formatCount(spend.calls)}</td><td class="num">${formatTokens(spend.inputTokens)}</td><td class="num">${formatTokens(spend.outputTokens + spend.thoughtsTokens)}</td><td class="num">${formatUsd(spend.costUsd)}</td>`;
  const rows = report.spend.byRole
    .map(
      (row) =>
        `<tr class="total"><td><span class="swatch" style="background:${ROLE_COLORS[row.role] ?? BLUE}"></span>${esc(ROLE_LABELS[row.role] ?? row.role)}</td>${cells(row)}</tr>` +
        (row.role === 'accepted'
          ? ''
          : row.outcomes
              .map((outcome) => `<tr><td class="sub">${esc(outcome.outcome)}</td>${cells(outcome)}</tr>`)
              .join('')),
    )
    .join('');
  return `<table class="spend" id="spend-by-role"><thead><tr><th>what the call got</th><th class="num">calls</th><th class="num">input tok</th><th class="num">output tok</th><th class="num">cost</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** Batch Mode: spend by route (a share bar and a table), what batch pricing saved, items answered by batch alone. */
function batchApiCard(report: BatchReport): string {
  const api = report.batchApi;
  if (!api) return '';
  const rows = api.byRoute
    .map(
      (row) =>
        `<tr><td><span class="swatch" style="background:${ROUTE_COLORS[row.route] ?? BLUE}"></span>${esc(row.route)}</td><td class="num">${formatCount(row.items)}</td><td class="num">${formatCount(row.calls)}</td><td class="num">${formatTokens(row.inputTokens)}</td><td class="num">${formatTokens(row.outputTokens + row.thoughtsTokens)}</td><td class="num">${formatUsd(row.costUsd)}</td><td class="num">${formatShare(row.costShare)}</td></tr>`,
    )
    .join('');
  const { turnaround } = api;
  return card(
    'Batch Mode: spend by route',
    shareBar(
      api.byRoute.map((row) => ({
        name: row.route === 'batch' ? 'batch API requests' : 'online calls',
        value: row.costUsd,
        color: ROUTE_COLORS[row.route] ?? BLUE,
        text: `${formatUsd(row.costUsd)} · ${formatCount(row.calls)} calls`,
      })),
      1120,
    ) +
      `<table class="spend" id="spend-by-route"><thead><tr><th>route</th><th class="num">items</th><th class="num">calls</th><th class="num">input tok</th><th class="num">output tok</th><th class="num">cost</th><th class="num">share</th></tr></thead><tbody>${rows}</tbody></table>` +
      `<p class="note" id="batch-api-note">Batch pricing saved <b>${formatUsd(api.savedUsd)}</b> against online prices for the same tokens (${formatUsd(api.costAtOnlinePricesUsd)} online). Items answered by batch alone: <b>${formatCount(api.answeredByBatch)}</b>; items that needed online calls: <b>${formatCount(api.neededOnline)}</b>. Batch jobs: ${formatCount(api.jobs)}; request turnaround (job submission to end): p50 ${formatDuration(turnaround.p50Ms)}, p90 ${formatDuration(turnaround.p90Ms)}, max ${formatDuration(turnaround.maxMs)}, not in the call latency or the timeline's calls.</p>`,
    'wide',
  );
}

const STYLE = `
:root { color-scheme: light; --ink: #212529; --muted: #6c757d; --line: #e9ecef; --card: #fff; --bg: #f4f6f8; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font: 14px/1.45 ${FONT}; font-variant-numeric: tabular-nums; }
main { max-width: 1200px; margin: 0 auto; padding: 28px 24px 40px; }
header h1 { font-size: 24px; margin: 0 0 4px; font-weight: 650; letter-spacing: -0.01em; }
header h1 code { font: inherit; }
header .sub { color: var(--muted); margin: 0; }
.state { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; color: #fff; background: var(--muted); vertical-align: 3px; margin-left: 6px; }
.state.good { background: #2b8a3e; } .state.bad { background: #e8590c; }
.kpis { display: grid; grid-template-columns: repeat(6, 1fr); gap: 12px; margin: 20px 0; }
.kpi { background: var(--card); border-radius: 10px; padding: 12px 14px; box-shadow: 0 1px 2px rgba(0,0,0,.06); }
.kpi-label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.kpi-value { font-size: 24px; font-weight: 650; margin-top: 2px; }
.kpi-note { color: var(--muted); font-size: 12px; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; margin-bottom: 16px; }
.grid.three { grid-template-columns: 1fr 1fr 1fr; }
.card h3 { font-size: 13px; color: var(--muted); font-weight: 600; margin: 14px 0 6px; }
.card h3:first-of-type { margin-top: 0; }
td.sub { padding-left: 22px; color: var(--muted); }
.card { background: var(--card); border-radius: 10px; padding: 16px 18px; box-shadow: 0 1px 2px rgba(0,0,0,.06); min-width: 0; }
.card.wide { margin-bottom: 16px; }
.card h2 { font-size: 15px; margin: 0 0 10px; font-weight: 620; }
.card p.note { color: var(--muted); font-size: 12px; margin: 8px 0 0; }
.card p.none { color: var(--muted); margin: 0; }
svg { display: block; max-width: 100%; height: auto; font-family: ${FONT}; }
svg .label { font-size: 12px; fill: var(--ink); }
svg .value { font-size: 12px; fill: var(--muted); }
svg .tick { font-size: 11px; fill: var(--muted); }
svg .tick.rate { fill: ${RED}; }
svg .axis-title { font-size: 11px; fill: var(--muted); }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg .axis { stroke: #adb5bd; stroke-width: 1; }
svg .area { fill: ${BLUE}; fill-opacity: .16; }
svg .area-line { fill: none; stroke: ${BLUE}; stroke-width: 2; }
svg .point { fill: ${BLUE}; }
svg .error-line { fill: none; stroke: ${RED}; stroke-width: 2; }
svg .call-error-line { fill: none; stroke: #f59f00; stroke-width: 1.5; stroke-dasharray: 4 3; }
svg .whisker { stroke: #adb5bd; stroke-width: 1.5; }
svg .median { stroke: #0b4f8a; stroke-width: 2; }
svg .max { fill: #fff; stroke: ${RED}; stroke-width: 1.5; }
.legend { list-style: none; padding: 0; margin: 8px 0 0; display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 12px; color: var(--muted); }
.legend b { color: var(--ink); font-weight: 600; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; vertical-align: -1px; }
.swatch.line { height: 3px; vertical-align: 3px; }
table { width: 100%; border-collapse: collapse; font-size: 13px; }
th { text-align: left; color: var(--muted); font-weight: 600; font-size: 12px; border-bottom: 1px solid var(--line); padding: 4px 8px; }
td { border-bottom: 1px solid var(--line); padding: 5px 8px; vertical-align: top; }
tr.total td { font-weight: 600; }
.num { text-align: right; white-space: nowrap; }
td.message { word-break: break-word; }
td.ids { min-width: 250px; }
td.ids code { display: inline-block; white-space: nowrap; font-size: 12px; background: #f1f3f5; padding: 0 4px; border-radius: 3px; margin: 1px 3px 1px 0; }
.more { color: var(--muted); font-size: 12px; }
.tag { display: inline-block; font-size: 12px; background: #fff0f0; color: #c92a2a; border-radius: 4px; padding: 0 6px; white-space: nowrap; }
footer { color: var(--muted); font-size: 12px; margin-top: 20px; overflow-wrap: anywhere; }
tr.group td { font-weight: 600; color: var(--muted); font-size: 12px; padding-top: 12px; }
`;

function stateBadge(report: BatchReport): string {
  if (!report.batch) return '';
  const state = report.batch.state;
  const tone = state === 'succeeded' ? 'good' : state === 'completed_with_failures' || state === 'stopped' ? 'bad' : '';
  return `<span class="state ${tone}">${esc(state.replace(/_/g, ' '))}</span>`;
}

/** The whole page. */
export function renderHtml(report: BatchReport): string {
  const { spend } = report;
  const window = report.window;
  const subtitle = [
    report.batch?.taskName ? `task ${report.batch.taskName}` : '',
    window.startedAt && window.finishedAt
      ? `${formatTime(window.startedAt)} → ${formatTime(window.finishedAt).slice(11)}`
      : 'no finished items',
    report.batch && report.batch.total > report.items
      ? `${formatCount(report.batch.total - report.items)} items without a record yet`
      : '',
    report.batch?.stop ? `stopped (${report.batch.stop.kind}): ${report.batch.stop.reason}` : '',
  ]
    .filter(Boolean)
    .map(esc)
    .join(' · ');
  const statusRows = Object.entries(report.byStatus)
    .filter(([, count]) => count > 0)
    .map(([status, count]) => ({
      label: status,
      value: count,
      text: `${formatCount(count)} · ${formatShare(report.items > 0 ? count / report.items : 0)}`,
      color: STATUS_COLORS[status] ?? BLUE,
    }));
  const categoryRows = report.byCategory.map((entry, index) => ({
    label: entry.category,
    value: entry.items,
    text: formatCount(entry.items),
    color: ERROR_PALETTE[index % ERROR_PALETTE.length] ?? RED,
  }));
  const finishRows = report.byFinishReason.map((entry) => ({
    label: entry.finishReason,
    value: entry.items,
    text: formatCount(entry.items),
    color: entry.finishReason === 'STOP' ? '#2b8a3e' : '#f08c00',
  }));
  const outcomeRows = report.callsByOutcome.map((entry) => ({
    label: entry.outcome,
    value: entry.calls,
    text: `${formatCount(entry.calls)} · ${formatShare(report.calls > 0 ? entry.calls / report.calls : 0)}`,
    color: entry.outcome === 'ok' ? '#2b8a3e' : entry.outcome === 'lost_in_crash' ? '#495057' : '#f08c00',
  }));
  const stageCostRows = spend.byStage.map((row) => ({
    label: `stage ${row.stage} (${row.mode})`,
    value: row.costUsd,
    text: `${formatUsd(row.costUsd)} · ${formatShare(row.costShare)}`,
    title: `stage ${row.stage} (${row.mode}): ${formatCount(row.calls)} calls by ${formatCount(row.items)} items, ${formatTokens(row.inputTokens)} input and ${formatTokens(row.outputTokens + row.thoughtsTokens)} output tokens, ${formatUsd(row.costUsd)}`,
  }));
  const stageTokenRows = spend.byStage.map((row) => ({
    label: `stage ${row.stage} (${row.mode})`,
    value: row.inputTokens + row.outputTokens + row.thoughtsTokens,
    text: `${formatTokens(row.inputTokens)} in · ${formatTokens(row.outputTokens + row.thoughtsTokens)} out`,
    color: '#15aabf',
  }));
  const modelCostRows = spend.byModel.map((row, index) => ({
    label: row.model,
    value: row.costUsd,
    text: `${formatUsd(row.costUsd)} · ${formatShare(row.costShare)}`,
    color: PALETTE[index % PALETTE.length] ?? BLUE,
  }));
  const callsPerItem = report.callsPerItem.map((row) => ({
    label: String(row.calls),
    segments: [{ value: row.items, color: BLUE, name: 'items' }],
  }));
  const stageReached = report.stageReached.map((row) => ({
    label: String(row.stage),
    segments: [
      { value: row.succeeded, color: '#2b8a3e', name: 'succeeded' },
      { value: row.items - row.succeeded, color: RED, name: 'did not succeed' },
    ],
  }));
  const meanCalls = report.items > 0 ? report.calls / report.items : 0;
  const unsuccessful = report.items - report.byStatus.succeeded - report.byStatus.filtered;
  const body = [
    `<header><h1>Batch <code>${esc(report.batchId)}</code>${stateBadge(report)}</h1><p class="sub">${subtitle}</p></header>`,
    `<div class="kpis">`,
    kpi(
      'items',
      'Items',
      formatCount(report.items),
      report.batch ? `of ${formatCount(report.batch.total)} in the batch` : 'with a record',
    ),
    kpi('succeeded', 'Succeeded', formatShare(report.successRate), `${formatCount(unsuccessful)} did not succeed`),
    kpi('calls', 'Model calls', formatCount(report.calls), `${meanCalls.toFixed(2)} per item`),
    kpi(
      'cost',
      'Estimated cost',
      formatUsd(spend.total.costUsd),
      `${formatShare(spend.notAccepted.costShare)} on retries and repairs`,
    ),
    kpi(
      'duration',
      'Duration',
      formatDuration(window.durationMs),
      `p50 item ${formatDuration(report.latency.items.p50Ms)}`,
    ),
    kpi(
      'throughput',
      'Throughput',
      formatRate(report.itemsPerMinute),
      `${formatTokens(spend.total.inputTokens + spend.total.outputTokens + spend.total.thoughtsTokens)} tokens`,
    ),
    `</div>`,
    `<div class="grid three">`,
    card('Items by status', hbarChart(statusRows, 340)),
    card(
      'Unsuccessful items by error category',
      hbarChart(categoryRows, 340) +
        '<p class="note">Cancelled and deadline_exceeded items count under their status.</p>',
    ),
    card('Final answers by finish reason', hbarChart(finishRows, 340)),
    `</div>`,
    card(
      'Throughput and error rate over the run',
      timelineChart(report) +
        `<ul class="legend"><li><span class="swatch" style="background:${BLUE}"></span>items finished per minute</li><li><span class="swatch line" style="background:${RED}"></span>share of finished items that did not succeed</li><li><span class="swatch line" style="background:#f59f00"></span>share of ${report.batchApi ? 'online ' : ''}calls that failed (retried or not)</li></ul>`,
      'wide',
    ),
    `<div class="grid">`,
    card(
      'What retries and repairs cost',
      shareBar(
        spend.byRole.map((row) => ({
          name: ROLE_LABELS[row.role] ?? row.role,
          value: row.costUsd,
          color: ROLE_COLORS[row.role] ?? BLUE,
          text: `${formatUsd(row.costUsd)} · ${formatCount(row.calls)} calls`,
        })),
        540,
      ) +
        roleTable(report) +
        `<p class="note">Rejected: an answer came back but failed validation, was truncated or blocked; a repair or the next stage follows. No answer: rate limits, 5xx, timeouts, refused requests; transient ones are retried. Calls whose answer was not kept: ${formatCount(spend.notAccepted.calls)} calls, ${formatUsd(spend.notAccepted.costUsd)} (${formatShare(spend.notAccepted.costShare)} of ${formatUsd(spend.total.costUsd)}).${spend.unpricedCalls > 0 ? ` ${formatCount(spend.unpricedCalls)} calls to models without a price are not counted.` : ''}</p>`,
    ),
    card(
      'Where the money and tokens went',
      `<h3>cost by stage</h3>${hbarChart(stageCostRows, 540)}<h3>cost by model</h3>${hbarChart(modelCostRows, 540)}<h3>tokens by stage</h3>${hbarChart(stageTokenRows, 540)}`,
    ),
    `</div>`,
    ...(report.batchApi ? [batchApiCard(report)] : []),
    `<div class="grid">`,
    card(
      report.batchApi ? 'Online call latency by stage' : 'Call latency by stage',
      latencyChart(report) +
        latencyTable(report) +
        (report.batchApi
          ? '<p class="note">Batch API requests are left out: their duration is their whole job&#39;s (see Batch Mode above).</p>'
          : ''),
    ),
    card('Calls by outcome', hbarChart(outcomeRows, 540)),
    `</div>`,
    `<div class="grid">`,
    card('Calls per item', columnChart(callsPerItem, { width: 540, xTitle: 'model calls', yTitle: 'items' })),
    card(
      'Last stage reached',
      columnChart(stageReached, { width: 540, xTitle: 'stage (0: never called)', yTitle: 'items' }) +
        `<ul class="legend"><li><span class="swatch" style="background:#2b8a3e"></span>succeeded</li><li><span class="swatch" style="background:${RED}"></span>did not succeed</li></ul>`,
    ),
    `</div>`,
    card('Most frequent errors of unsuccessful items', errorTable(report.topErrors, 'items', 'top-errors'), 'wide'),
    card(
      'Most frequent call errors (retried ones included)',
      errorTable(report.topCallErrors, 'calls', 'top-call-errors'),
      'wide',
    ),
    card(
      'Tokens and cost',
      spendTable(
        [
          {
            title: 'by stage',
            rows: [
              ...spend.byStage.map((row) => ({
                label: `stage ${row.stage} (${row.mode})`,
                spend: row,
                items: formatCount(row.items),
              })),
              { label: 'all', spend: spend.total, items: formatCount(report.items), total: true },
            ],
          },
          { title: 'by model', rows: spend.byModel.map((row) => ({ label: row.model, spend: row })) },
        ],
        'spend',
      ),
      'wide',
    ),
    `<footer>Generated ${esc(formatTime(report.generatedAt))} by batch-llm report from ${esc(report.source)}${report.batch ? ' and the batch summary in Temporal' : ' (Temporal not consulted or unreachable: from the records alone)'}. Costs are estimates from the price table.</footer>`,
  ].join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>Batch report: ${esc(report.batchId)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}
