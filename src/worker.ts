import path from 'node:path';
import type { GoogleGenAI } from '@google/genai';
import { Client } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities } from '../activities';
import { DEFAULT_MODEL } from './constants';
import { createGeminiClient, describeGeminiTarget, type GeminiClientOptions } from './gemini';
import { connectionOptions, type TemporalConfig } from './temporal/config';
import { FileResultStore } from './results';
import type { TaskRegistry } from './tasks/registry';

export interface BatchWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  tasks: TaskRegistry;
  gemini: GoogleGenAI;
  resultsDirectory: string;
  defaultModel?: string;
  /** Model calls one worker process runs at once. */
  maxConcurrentActivities?: number;
  maxConcurrentWorkflowTasks?: number;
}

const WORKFLOWS_PATH = path.resolve(__dirname, '..', 'workflows', 'index.ts');
let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** The workflow bundle, built once per process and reused by every worker it creates. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietBundlerLogger });
  return bundle;
}

const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string, meta?: Record<string, unknown>) => console.warn(message, meta ?? ''),
  error: (message: string, meta?: Record<string, unknown>) => console.error(message, meta ?? ''),
};

/** A worker serving batch and item workflows and their activities on one task queue. */
export async function createBatchWorker(options: BatchWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    workflowBundle: await workflowBundle(),
    activities: createActivities({
      tasks: options.tasks,
      gemini: options.gemini,
      results: new FileResultStore(options.resultsDirectory),
      defaultModel: options.defaultModel ?? process.env['BATCH_LLM_MODEL'] ?? DEFAULT_MODEL,
      temporal: new Client({ connection: options.connection, namespace: options.namespace }),
      taskQueue: options.taskQueue,
    }),
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivities ?? 200,
    maxConcurrentWorkflowTaskExecutions: options.maxConcurrentWorkflowTasks ?? 100,
    // Items are short workflows; a larger cache avoids replaying them from history.
    maxCachedWorkflows: 2000,
    // Heartbeats bring cancellations (item deadline, batch cancel) to in-flight model calls:
    // flush them often enough that an aborted request stops within a couple of seconds.
    maxHeartbeatThrottleInterval: '2 seconds',
    defaultHeartbeatThrottleInterval: '2 seconds',
  });
}

export interface ConnectedWorkerOptions {
  config: TemporalConfig;
  gemini: GeminiClientOptions;
  tasks: TaskRegistry;
  resultsDirectory: string;
  maxConcurrentActivities?: number;
}

/** Connects to Temporal and creates a batch worker from configuration: what `worker`, `dev` and `demo` run. */
export async function connectBatchWorker(options: ConnectedWorkerOptions): Promise<{ worker: Worker; connection: NativeConnection; banner: string }> {
  const connection = await NativeConnection.connect(connectionOptions(options.config));
  try {
    const worker = await createBatchWorker({
      connection,
      namespace: options.config.namespace,
      taskQueue: options.config.taskQueue,
      tasks: options.tasks,
      gemini: createGeminiClient(options.gemini),
      resultsDirectory: options.resultsDirectory,
      ...(options.maxConcurrentActivities !== undefined ? { maxConcurrentActivities: options.maxConcurrentActivities } : {}),
    });
    const banner = `Worker on ${options.config.address} namespace "${options.config.namespace}" task queue "${options.config.taskQueue}", calling ${describeGeminiTarget(options.gemini)}; tasks: ${options.tasks.names().join(', ')}`;
    return { worker, connection, banner };
  } catch (error) {
    await connection.close();
    throw error;
  }
}
