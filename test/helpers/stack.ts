/**
 * One real Temporal dev server (the official CLI, through @temporalio/testing) and one Gemini
 * emulator per test file; each test gets its own task queue and batch ids.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { after, before } from 'node:test';
import { Runtime, type NativeConnection } from '@temporalio/worker';
import { BatchLlmLogger } from '../../src/logging';
import { BatchClient } from '../../src/client/batch-client';
import { GeminiEmulator, type EmulatorOptions } from '@durable-batch-llm/gemini-emulator';
import { createGeminiClient } from '../../src/providers/gemini/client';
import { createTaskRegistry, type TaskRegistry } from '../../src/tasks/registry';
import { startDevServer } from '../../src/temporal/dev-server';
import type { WorkerStore } from '../../src/results';
import { createBatchWorker, type BatchWorker } from '../../src/worker';
import type { PayloadPrivacy } from '../../src/privacy/data-converter';
import type { ModelProvider } from '../../src/providers/types';
import { createTemporalClient } from '../../src/temporal/connection';
import { MODEL_ENDPOINT_VARIABLES, spawnCli } from './cli';

// Worker chatter hides test output; warnings and errors still show.
Runtime.install({ logger: new BatchLlmLogger('WARN') });

// Tests must never inherit a real key or endpoint.
for (const name of MODEL_ENDPOINT_VARIABLES) delete process.env[name];

export interface TestStack {
  env: TestWorkflowEnvironment;
  client: Client;
  connection: NativeConnection;
  emulator: GeminiEmulator;
  address: string;
  resultsDirectory: string;
  tasks: TaskRegistry;
  batchClient(taskQueue: string): BatchClient;
  /** Runs `batch-llm worker` as a separate process (killed at teardown if still alive). */
  spawnWorkerProcess(taskQueue: string, extraEnv?: Record<string, string>): ChildProcess;
  /** Runs a worker on `taskQueue` until the returned stop() is called. */
  startWorker(
    taskQueue: string,
    overrides?: {
      maxConcurrentActivities?: number;
      requestsPerMinute?: number;
      results?: WorkerStore;
      privacy?: PayloadPrivacy;
      /** Further providers (the OpenAI-compatible one), and the tasks that use them. */
      providers?: ModelProvider[];
      tasks?: TaskRegistry;
    },
  ): Promise<RunningWorker>;
  teardown(): Promise<void>;
}

export interface RunningWorker {
  worker: BatchWorker;
  stop(): Promise<void>;
}

let counter = 0;
/** A fresh name for a task queue or batch id. */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}

export async function startTestStack(emulatorOptions: EmulatorOptions = {}): Promise<TestStack> {
  const env = await startDevServer();
  const emulator = await GeminiEmulator.start(emulatorOptions);
  const resultsDirectory = mkdtempSync(path.join(os.tmpdir(), 'batch-llm-results-'));
  const tasks = await createTaskRegistry([path.join(__dirname, '..', 'fixtures', 'tasks.ts')]);
  const gemini = createGeminiClient({ apiKey: 'test-key', baseUrl: emulator.url });
  const address = env.connection.options.address;
  // The client every worker's payloads are readable with (src/privacy/data-converter.ts), not the bare env.client.
  const client = createTemporalClient(env.connection, env.namespace ?? 'default');
  const running = new Set<RunningWorker>();
  const processes = new Set<ChildProcess>();
  return {
    env,
    client,
    connection: env.nativeConnection,
    emulator,
    address,
    resultsDirectory,
    tasks,
    batchClient: (taskQueue) =>
      new BatchClient(client, {
        taskQueue,
        namespace: env.namespace ?? 'default',
        webUiUrl: 'http://localhost:8233',
      }),
    spawnWorkerProcess(taskQueue, extraEnv = {}) {
      const child = spawnCli(['worker', '--tasks', 'test/fixtures/tasks.ts', '--results-dir', resultsDirectory], {
        TEMPORAL_ADDRESS: address,
        TEMPORAL_TASK_QUEUE: taskQueue,
        GOOGLE_GEMINI_BASE_URL: emulator.url,
        ...extraEnv,
      });
      processes.add(child);
      child.once('exit', () => processes.delete(child));
      child.stdout?.resume();
      child.stderr?.resume();
      return child;
    },
    async startWorker(taskQueue, overrides = {}) {
      const worker = await createBatchWorker({
        connection: env.nativeConnection,
        namespace: env.namespace ?? 'default',
        taskQueue,
        tasks,
        gemini,
        ...(overrides.results ? {} : { resultsDirectory }),
        ...overrides,
      });
      const run = worker.run();
      const handle: RunningWorker = {
        worker,
        async stop() {
          running.delete(handle);
          worker.shutdown();
          await run;
        },
      };
      running.add(handle);
      return handle;
    },
    async teardown() {
      for (const child of processes) child.kill('SIGKILL');
      await Promise.all([...running].map((handle) => handle.stop()));
      await emulator.stop();
      await env.teardown();
      rmSync(resultsDirectory, { recursive: true, force: true });
    },
  };
}

/**
 * Registers before/after hooks for the enclosing suite: one stack and one in-process worker on a
 * fresh task queue (returned). `assign` receives the stack once it is up.
 */
export function useStackWithWorker(assign: (stack: TestStack) => void, emulatorOptions: EmulatorOptions = {}): string {
  const taskQueue = uniqueName('tq');
  let stack: TestStack | undefined;
  let worker: RunningWorker | undefined;
  before(async () => {
    stack = await startTestStack(emulatorOptions);
    worker = await stack.startWorker(taskQueue);
    assign(stack);
  });
  after(async () => {
    await worker?.stop();
    await stack?.teardown();
  });
  return taskQueue;
}
