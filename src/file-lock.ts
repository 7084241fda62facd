import { closeSync, mkdirSync, openSync, readFileSync, readlinkSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { threadId } from 'node:worker_threads';

/** This machine, and on Linux this pid namespace: containers sharing a hostname cannot see each other's pids. */
const HOST = `${hostname()}/${pidNamespace()}`;
const HOLDER = lockHolder(process.pid, threadId);
/** A lock whose holder cannot be checked (another host) counts as abandoned after this long; locks last microseconds. */
const FOREIGN_LOCK_STALE_MS = 30_000;
/** A live holder never keeps the lock this long, so waiting longer means something is wrong: say so. */
const WAIT_LIMIT_MS = 60_000;

/**
 * Runs `critical` while holding an exclusive lock shared by every process that can see `lockPath`:
 * the file itself, created with O_EXCL and naming its holder (`pid:thread host/pid-namespace`).
 * Node has no flock.
 *
 * `critical` is synchronous, so the lock is never held across an await and its holder is a live
 * process only while that process is inside `critical`. A lock left by a dead process (same host and
 * its pid gone, or our own pid and thread: a previous process whose pid we reuse; another host and
 * older than 30 s) is removed, under a second lock (`<lockPath>.break`) so that two waiters cannot
 * both remove it and the second delete the lock the first has just taken.
 */
export async function withFileLock<T>(lockPath: string, critical: () => T): Promise<T> {
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    if (tryCreateLock(lockPath)) {
      try {
        return critical();
      } finally {
        unlinkSync(lockPath);
      }
    }
    if (removeIfAbandoned(lockPath)) continue;
    if (Date.now() - started > WAIT_LIMIT_MS) {
      throw new Error(
        `waited ${WAIT_LIMIT_MS / 1000} s for the lock ${lockPath}, held by ${readHolder(lockPath) || 'an unknown process'}; delete it if that process is not running`,
      );
    }
    await sleep(Math.min(2 ** attempt, 20) * (0.5 + Math.random()));
  }
}

/** What a lock taken by thread `thread` of process `pid` on this machine holds. */
export function lockHolder(pid: number, thread = 0): string {
  return `${pid}:${thread} ${HOST}`;
}

function tryCreateLock(lockPath: string): boolean {
  let descriptor: number;
  try {
    descriptor = openSync(lockPath, 'wx');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'ENOENT') throw error;
    mkdirSync(path.dirname(lockPath), { recursive: true });
    return tryCreateLock(lockPath);
  }
  try {
    writeSync(descriptor, `${HOLDER}\n`);
  } catch (error) {
    unlinkSync(lockPath);
    throw error;
  } finally {
    closeSync(descriptor);
  }
  return true;
}

/** True when the lock is gone or was abandoned and has been removed: try to take it again at once. */
function removeIfAbandoned(lockPath: string): boolean {
  const verdict = lockState(lockPath);
  if (verdict !== 'abandoned') return verdict === 'gone';
  const guard = `${lockPath}.break`;
  if (!tryCreateLock(guard)) {
    // A breaker that died in its few microseconds under the guard leaves it behind.
    if (lockState(guard) === 'abandoned') unlinkIfPresent(guard);
    return false;
  }
  try {
    // Under the guard only we remove locks, and an abandoned one has no live holder to release it.
    if (lockState(lockPath) === 'abandoned') unlinkIfPresent(lockPath);
  } finally {
    unlinkSync(guard);
  }
  return true;
}

function lockState(lockPath: string): 'held' | 'abandoned' | 'gone' {
  let holder: string | undefined;
  let modifiedMs: number;
  try {
    holder = readHolder(lockPath);
    modifiedMs = statSync(lockPath).mtimeMs;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw error;
  }
  if (holder === undefined) return 'gone';
  if (holder === HOLDER) return 'abandoned';
  const [processAndThread, host] = holder.split(' ');
  const pid = Number(processAndThread?.split(':')[0]);
  if (host === HOST && Number.isInteger(pid) && pid > 0 && pid !== process.pid)
    return isRunning(pid) ? 'held' : 'abandoned';
  // Another host, another thread of ours, or a lock being created right now (no holder yet): only its age can tell.
  return Date.now() - modifiedMs > FOREIGN_LOCK_STALE_MS ? 'abandoned' : 'held';
}

/** The lock's `pid:thread host`, or undefined when there is no lock. */
function readHolder(lockPath: string): string | undefined {
  try {
    return readFileSync(lockPath, 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function unlinkIfPresent(file: string): void {
  try {
    unlinkSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

function pidNamespace(): string {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return 'no-namespace'; // not Linux: the hostname alone
  }
}
