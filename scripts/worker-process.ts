/**
 * A `batch-llm worker` process for the measurement scripts: the repository's own CLI through tsx,
 * with the test tasks, a results directory, the emulator as Gemini and warnings only. Resolves once
 * the worker says it is polling; its stderr then goes to this process's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const REPO_ROOT = path.resolve(__dirname, '..');

export async function startWorkerProcess(options: {
  address: string;
  taskQueue: string;
  emulatorUrl: string;
  resultsDirectory: string;
}): Promise<ChildProcess> {
  const worker = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(REPO_ROOT, 'src', 'cli', 'main.ts'),
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
