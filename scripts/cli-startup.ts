/**
 * Start-up time of the `batch-llm` bin: median wall time of `--help`, `status --help` and
 * `results --help` over several runs each (npm run bench:cli [-- --runs N]).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';

const REPO_ROOT = path.resolve(__dirname, '..');
const BIN = path.join(REPO_ROOT, 'bin', 'batch-llm.js');
const COMMANDS = [['--help'], ['status', '--help'], ['results', '--help']];

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

const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got "${values.runs}"`);
timeOnce(['--help']); // warm the file cache (and tsx's transpile cache) so the first command is not penalised
for (const args of COMMANDS) {
  const times = Array.from({ length: runs }, () => timeOnce(args));
  process.stdout.write(`batch-llm ${args.join(' ').padEnd(15)} median ${median(times).toFixed(3)} s  (min ${Math.min(...times).toFixed(3)}, max ${Math.max(...times).toFixed(3)}, ${runs} runs)\n`);
}
