/** How the report's renderers write numbers, money, shares and durations (the terminal and HTML alike). */

const INTEGER = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** 12,345 */
export function formatCount(value: number): string {
  return INTEGER.format(value);
}

/** Tokens compactly: 950, 12.3k, 4.56M. */
export function formatTokens(value: number): string {
  if (value < 10_000) return INTEGER.format(value);
  if (value < 1_000_000) return `${(value / 1000).toFixed(value < 100_000 ? 1 : 0)}k`;
  return `${(value / 1_000_000).toFixed(2)}M`;
}

/** Dollars: cents from $1 up ($12.34), else four significant digits ($0.5321, $0.0132, $0.000549, $0.008). */
export function formatUsd(value: number): string {
  if (value === 0) return '$0';
  const abs = Math.abs(value);
  if (abs >= 1) return `$${value.toFixed(2)}`;
  const decimals = Math.min(9, Math.max(2, 3 - Math.floor(Math.log10(abs))));
  return `$${value
    .toFixed(decimals)
    .replace(/0+$/, '')
    .replace(/\.(\d)$/, '.$10')}`;
}

/** A share (0..1) as a percentage: 96.2%, 0.4%, 100%. */
export function formatShare(value: number): string {
  if (value === 0) return '0%';
  if (value === 1) return '100%';
  const percent = value * 100;
  return `${percent < 0.1 ? percent.toFixed(2) : percent.toFixed(1)}%`;
}

/** A duration: 412 ms, 3.2 s, 2m 05s, 1h 02m. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${String(seconds % 60).padStart(2, '0')}s`;
  const minutes = Math.round(seconds / 60);
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, '0')}m`;
}

/** An offset into the run: +0:45, +12:30, +1:02:03. */
export function formatOffset(ms: number): string {
  const seconds = Math.round(ms / 1000);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h > 0
    ? `+${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`
    : `+${m}:${String(s).padStart(2, '0')}`;
}

/** A rate per minute: 451/min, 2.5/min. */
export function formatRate(perMinute: number): string {
  if (perMinute === 0) return '0/min';
  return `${perMinute >= 100 ? INTEGER.format(Math.round(perMinute)) : perMinute.toFixed(1)}/min`;
}

/** An ISO time as "2026-12-02 03:57:04 UTC". */
export function formatTime(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

/** The bucket size of the timeline in words: 5 s, 1 min, 2 h. */
export function formatBucket(ms: number): string {
  if (ms < 60_000) return `${ms / 1000} s`;
  if (ms < 3_600_000) return `${ms / 60_000} min`;
  return `${ms / 3_600_000} h`;
}
