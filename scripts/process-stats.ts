/**
 * What the benchmark scripts read from /proc about a process: CPU time and peak memory, and which
 * child of this process is the dev server. Linux only; elsewhere every reading is undefined.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Linux clock ticks per second, as /proc reports CPU times (USER_HZ, 100 on every common kernel). */
const CLOCK_TICKS_PER_SECOND = 100;

/** The command name and the fields after it of /proc/<pid>/stat (state, ppid, … utime is index 11). */
function statOf(pid: number | string): { command: string; fields: string[] } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // the process has ended, or this is not Linux
  }
  const close = stat.lastIndexOf(')');
  return { command: stat.slice(stat.indexOf('(') + 1, close), fields: stat.slice(close + 2).split(' ') };
}

/** The pid of this process's child running the Temporal CLI (`temporal server start-dev`). */
export function devServerPid(): number | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  for (const pid of entries) {
    const stat = statOf(pid);
    if (stat?.command === 'temporal' && Number(stat.fields[1]) === process.pid) return Number(pid);
  }
  return undefined;
}

/** CPU time (user + system) of a process, in ms. */
export function cpuMsOf(pid: number | undefined): number | undefined {
  const stat = pid === undefined ? undefined : statOf(pid);
  if (!stat) return undefined;
  return ((Number(stat.fields[11]) + Number(stat.fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** Peak resident set (VmHWM) of a process, in MiB. */
export function peakRssMiB(pid: number | undefined): number | undefined {
  const kB = statusKb(pid, 'VmHWM');
  return kB === undefined ? undefined : kB / 1024;
}

/** Resident set now (VmRSS) of a process, in bytes. */
export function rssBytes(pid: number | undefined): number | undefined {
  const kB = statusKb(pid, 'VmRSS');
  return kB === undefined ? undefined : kB * 1024;
}

/** A `<field>: <n> kB` line of /proc/<pid>/status. */
function statusKb(pid: number | undefined, field: 'VmHWM' | 'VmRSS'): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * CPU time of a process and all its children, live and ended, in ms: for PostgreSQL, whose
 * postmaster forks a backend per connection and reaps it (an ended backend's time moves into the
 * postmaster's cutime/cstime), so the sum at two moments differs by what the cluster spent between.
 */
export function treeCpuMs(pid: number | undefined): number | undefined {
  const stat = pid === undefined ? undefined : statOf(pid);
  if (!stat || pid === undefined) return undefined;
  const ticks = (fields: string[], from: number, to: number): number =>
    fields.slice(from, to + 1).reduce((sum, field) => sum + Number(field), 0);
  let total = ticks(stat.fields, 11, 14);
  for (const child of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    const childStat = statOf(child);
    if (childStat && Number(childStat.fields[1]) === pid) total += ticks(childStat.fields, 11, 14);
  }
  return (total * 1000) / CLOCK_TICKS_PER_SECOND;
}
