/**
 * What the measurement scripts (scale-run, batch-mode-run) share: an N-item input file, a
 * `batch-llm worker` process, and the count of a batch's results lines and distinct items.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, createReadStream, fstatSync, openSync, readSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';

const REPO_ROOT = path.resolve(__dirname, '..');

/** `<directory>/items.jsonl` with `total` records `{ id: r<n>, text }`; returns its path. */
export function writeItemsFile(directory: string, total: number): string {
  const inputFile = path.join(directory, 'items.jsonl');
  writeFileSync(
    inputFile,
    Array.from({ length: total }, (_, index) =>
      JSON.stringify({ id: `r${index}`, text: `record number ${index}` }),
    ).join('\n') + '\n',
  );
  return inputFile;
}

/** Lines of a results file, and the distinct item ids among them. */
export async function countResultLines(file: string): Promise<{ lines: number; ids: number }> {
  const ids = new Set<string>();
  let lines = 0;
  for await (const line of createInterface({ input: createReadStream(file) })) {
    if (!line) continue;
    lines += 1;
    ids.add((JSON.parse(line) as { itemId: string }).itemId);
  }
  return { lines, ids: ids.size };
}

/**
 * A `batch-llm worker` process: the repository's own CLI through tsx, with the test tasks, a
 * results directory, the emulator as Gemini and warnings only. Resolves once the worker says it is
 * polling; its stderr then goes to this process's.
 */
export async function startWorkerProcess(options: {
  address: string;
  taskQueue: string;
  emulatorUrl: string;
  resultsDirectory: string;
}): Promise<ChildProcess> {
  const worker = spawn(
    process.execPath,
    [
      // The bin, as users start workers (not `--import tsx`, which loads tsx into the workflow threads too).
      path.join(REPO_ROOT, 'bin', 'batch-llm.js'),
      'worker',
      '--tasks',
      'test/fixtures/tasks.ts',
      '--results-dir',
      options.resultsDirectory,
    ],
    {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: options.address,
        TEMPORAL_TASK_QUEUE: options.taskQueue,
        GOOGLE_GEMINI_BASE_URL: options.emulatorUrl,
        BATCH_LLM_LOG_LEVEL: 'WARN',
      },
      stdio: ['ignore', 'inherit', 'pipe'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    worker.stderr?.on('data', (chunk: Buffer) => chunk.toString().includes('Worker on') && resolve());
    worker.once('exit', (code) => reject(new Error(`the worker exited (code ${code}) before it was ready`)));
  });
  worker.stderr?.pipe(process.stderr);
  return worker;
}

/**
 * The lines of a file that is being appended to, counted as it grows: each call reads only the
 * bytes added since the last one (a results file of a million items is never read twice).
 */
export class GrowingLineCount {
  private counted = 0;
  private bytes = 0;
  private readonly buffer = Buffer.alloc(1 << 20);

  constructor(readonly file: string) {}

  /** Newlines in the file now (0 while it does not exist). */
  now(): number {
    let descriptor: number;
    try {
      descriptor = openSync(this.file, 'r');
    } catch {
      return this.counted; // not written yet
    }
    try {
      const size = fstatSync(descriptor).size;
      while (this.bytes < size) {
        const read = readSync(descriptor, this.buffer, 0, Math.min(this.buffer.length, size - this.bytes), this.bytes);
        if (read === 0) break;
        for (let at = this.buffer.indexOf(10); at !== -1 && at < read; at = this.buffer.indexOf(10, at + 1))
          this.counted += 1;
        this.bytes += read;
      }
    } finally {
      closeSync(descriptor);
    }
    return this.counted;
  }
}
