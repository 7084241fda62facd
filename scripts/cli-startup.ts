/**
 * Start-up time of the `batch-llm` bin: median wall time of `--help`, `status --help`,
 * `results --help` and `results` of a small batch over several runs each
 * (npm run bench:cli [-- --runs N]).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { FileResultStore } from '../src/results';
import { sampleResult } from '../test/helpers/result-records';

const REPO_ROOT = path.resolve(__dirname, '..');
const BIN = path.join(REPO_ROOT, 'bin', 'batch-llm.js');

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function timeOnce(args: string[]): number {
  const started = process.hrtime.bigint();
  const run = spawnSync(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (run.status !== 0) throw new Error(`batch-llm ${args.join(' ')} exited ${run.status}: ${run.stderr.toString()}`);
  return seconds;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' } } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got "${values.runs}"`);
  const resultsDirectory = mkdtempSync(path.join(os.tmpdir(), 'batch-llm-startup-'));
  const store = new FileResultStore(resultsDirectory);
  for (let index = 0; index < 20; index++) await store.write(sampleResult('startup', index));
  const commands = [
    ['--help'],
    ['status', '--help'],
    ['results', '--help'],
    ['results', 'startup', '--results-dir', resultsDirectory],
  ];
  for (const args of commands) timeOnce(args); // warm the file cache and tsx's transpile cache
  for (const args of commands) {
    const times = Array.from({ length: runs }, () => timeOnce(args));
    const label = args[1] === 'startup' ? 'results BATCH_ID' : args.join(' ');
    process.stdout.write(
      `batch-llm ${label.padEnd(17)} median ${median(times).toFixed(3)} s  (min ${Math.min(...times).toFixed(3)}, max ${Math.max(...times).toFixed(3)}, ${runs} runs)\n`,
    );
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
