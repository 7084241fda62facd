import path from 'node:path';
import type { GoogleGenAI } from '@google/genai';
import {
  bundleWorkflowCode,
  type NativeConnection,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';

/** Webpack's configuration, as the SDK's bundler hands it to `webpackConfigHook`. */
type WebpackConfiguration = Parameters<NonNullable<Parameters<typeof bundleWorkflowCode>[0]['webpackConfigHook']>>[0];
import { createActivities } from '../activities';
import {
  batchLlmSettings,
  openAIEndpointSetting,
  openAIEndpointsFromEnv,
  type OpenAIEndpoint,
  withoutPassword,
} from './config';
import { createOpenAIProvider } from './providers/openai/index';
import { DEFAULT_MODEL, modelCallsTaskQueue } from './constants';
import { createGeminiProvider, type GeminiClientOptions } from './providers/gemini/index';
import { fingerprintOf, GEMINI_PROVIDER_NAME, missingProviderMessage, providerNamed } from './providers/registry';
import type { ModelProvider } from './providers/types';
import type { TemporalConfig } from './temporal/config';
import { connectWorkerConnection, createTemporalClient } from './temporal/connection';
import type { WorkerStore } from './results';
import { openResultStore, type ResultStoreLocation } from './results-store';
import type { TaskRegistry } from './tasks/registry';
import type { AdmissionLimits } from '../workflows/admission';
import {
  describePrivacy,
  encrypts,
  ENCODED_FAILURES_PATH,
  payloadPrivacyOf,
  type PayloadPrivacy,
  workerDataConverter,
} from './privacy/data-converter';

export interface BatchWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  tasks: TaskRegistry;
  /** Where model calls go: a ModelProvider (createGeminiProvider), or a `@google/genai` client wrapped as one. */
  provider?: ModelProvider;
  /** Further providers (e.g. createOpenAIProvider): a task's `provider` names the one its calls go to. */
  providers?: ModelProvider[];
  /** Shorthand for `provider: createGeminiProvider({ client: gemini })`. */
  gemini?: GoogleGenAI;
  /**
   * Where item results go — one of: a JSONL results directory (FileResultStore); a PostgreSQL URL
   * (`postgres://…`, see src/results-postgres.ts), opened here and closed when the worker stops;
   * or a store of your own, which you close.
   */
  resultsDirectory?: string;
  resultsUrl?: string;
  results?: WorkerStore;
  defaultModel?: string;
  /** Model calls one worker process runs at once (as regular activities, and as local ones). */
  maxConcurrentActivities?: number;
  maxConcurrentWorkflowTasks?: number;
  /**
   * Requests per minute for the whole quota scope (task queue, model and API key), enforced
   * across every worker process by the scope's workflow. All workers of a queue must agree on it.
   */
  requestsPerMinute?: number;
  /** Input tokens per minute for the whole quota scope, like requestsPerMinute. */
  tokensPerMinute?: number;
  /** A provider's own RPM/TPM, by provider name (e.g. a named endpoint's), instead of the above for its scopes. */
  providerLimits?: Record<string, AdmissionLimits>;
  /** A short hash of the API key (never the key): part of the 429-cooldown quota scope. */
  keyFingerprint?: string;
  /** Encryption keys and the claim check's store (default: from BATCH_LLM_ENCRYPTION_KEYS, BATCH_LLM_BLOB_*). */
  privacy?: PayloadPrivacy;
}

/** A short, one-way name for the Gemini API key (or endpoint), safe for workflow ids and logs. */
export function keyFingerprintOf(gemini: GeminiClientOptions): string {
  return fingerprintOf(gemini.apiKey ?? gemini.baseUrl ?? 'none');
}

/** The two workers of a process: workflows and bookkeeping activities, and the rate-limited model calls. */
export class BatchWorker {
  constructor(
    readonly main: Worker,
    readonly modelCalls: Worker,
    /** Releases what the worker opened itself (a database pool) once both workers have stopped. */
    private readonly release: () => Promise<void> = async () => undefined,
  ) {}

  run(): Promise<void> {
    return Promise.all([this.main.run(), this.modelCalls.run()])
      .finally(() => this.release())
      .then(() => undefined);
  }

  getState(): ReturnType<Worker['getState']> {
    return this.main.getState();
  }

  shutdown(): void {
    for (const worker of [this.main, this.modelCalls]) if (worker.getState() === 'RUNNING') worker.shutdown();
  }
}

const WORKFLOWS_PATH = path.resolve(__dirname, '..', 'workflows', 'index.ts');
const bundles = new Map<boolean, Promise<WorkflowBundleWithSourceMap>>();

/**
 * The workflow bundle, built once per process and reused by every worker it creates; an
 * encrypting worker's bundle also encodes failures' messages (src/privacy/data-converter.ts).
 */
export function workflowBundle(encodeFailures = false): Promise<WorkflowBundleWithSourceMap> {
  let bundle = bundles.get(encodeFailures);
  if (bundle) return bundle;
  bundle = bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    ...(encodeFailures ? { failureConverterPath: ENCODED_FAILURES_PATH } : {}),
    logger: quietBundlerLogger,
    // Belt and braces to the lint rule: should a workflow module ever import these, the bundle
    // refuses to use them instead of carrying I/O code (and zod's weight) into every workflow.
    ignoreModules: ['zod', '@google/genai', '@temporalio/client', '@temporalio/activity'],
    webpackConfigHook: compileOwnTypeScript,
    // Every module of the bundle is evaluated once per workflow thread and shared by the workflows it
    // runs, instead of once per workflow: each item workflow re-ran the module scope of ours and of
    // the SDK's public API, and V8 kept compiling their fresh closures. Measured on the bench (1 s
    // latency, concurrency 100): worker CPU per item 35 → 25 ms (the floor, given the same option,
    // 17 → 13). Safe because module
    // scope holds constants only (lint: no-restricted-syntax in eslint.config.mjs) and the SDK
    // deep-freezes what the preloaded modules export.
    preloadModules: [WORKFLOWS_PATH],
  });
  bundles.set(encodeFailures, bundle);
  return bundle;
}

/** This package's root: its workflows and the modules they import are TypeScript sources. */
const PACKAGE_ROOT = path.resolve(__dirname, '..');
const IN_NODE_MODULES = /[\\/]node_modules[\\/]/;

/**
 * The SDK's bundler compiles `.ts` files except under node_modules. Installed from npm, this
 * package (and its bundled emulator package, for the header constant) lives under node_modules,
 * and its workflows would not compile: its own sources and `@durable-batch-llm/*` are compiled
 * wherever they are installed; other packages' `.ts` files stay excluded.
 */
function compileOwnTypeScript(config: WebpackConfiguration): WebpackConfiguration {
  for (const rule of config.module?.rules ?? []) {
    if (rule && typeof rule === 'object' && rule.test instanceof RegExp && rule.test.source === '\\.ts$') {
      rule.exclude = (file: string) => {
        const inside = path.relative(PACKAGE_ROOT, file);
        const own = !inside.startsWith('..') && !IN_NODE_MODULES.test(path.sep + inside);
        return IN_NODE_MODULES.test(file) && !own && !/[\\/]node_modules[\\/]@durable-batch-llm[\\/]/.test(file);
      };
    }
  }
  return config;
}

const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string, meta?: Record<string, unknown>) => console.warn(message, meta ?? ''),
  error: (message: string, meta?: Record<string, unknown>) => console.error(message, meta ?? ''),
};

/**
 * A worker serving batch and item workflows and their activities on one task queue, and the
 * model calls on its companion queue (admitted under the quota scope's RPM/TPM when set).
 */
export async function createBatchWorker(options: BatchWorkerOptions): Promise<BatchWorker> {
  const provider = options.provider ?? (options.gemini ? createGeminiProvider({ client: options.gemini }) : undefined);
  if (!provider)
    throw new Error('createBatchWorker: give a model provider (provider, or gemini: a @google/genai client)');
  checkTaskProviders(options.tasks, [provider, ...(options.providers ?? [])]);
  const { results, release, ready } = resultsStoreOf(options);
  try {
    await ready();
    return await createWorkers(options, provider, results, release);
  } catch (error) {
    await release();
    throw error;
  }
}

/** A worker with a task whose provider it has not configured does not start: it names the task and what to set. */
function checkTaskProviders(tasks: TaskRegistry, providers: readonly ModelProvider[]): void {
  const names = providers.map((provider) => provider.name);
  const twice = names.find((name, index) => names.indexOf(name) !== index);
  if (twice !== undefined)
    throw new Error(`createBatchWorker: two providers are named "${twice}"; a task's provider must name one`);
  const lacking = new Map<string, string[]>();
  for (const name of tasks.names()) {
    const wanted = tasks.get(name)?.provider;
    if (wanted !== undefined && !providerNamed(providers, wanted))
      lacking.set(wanted, [...(lacking.get(wanted) ?? []), name]);
  }
  const problems = [...lacking].map(([wanted, names]) =>
    missingProviderMessage(names.join('", "'), wanted, providers, howToConfigure(wanted)),
  );
  if (problems.length > 0) throw new Error(problems.join('; '));
}

/** What to set for a provider a worker lacks. */
function howToConfigure(wanted: string): string {
  return wanted === GEMINI_PROVIDER_NAME ? 'give the worker a Gemini provider' : openAIEndpointSetting(wanted);
}

/** The store the options name (exactly one of three), and how to release it once the worker stops. */
function resultsStoreOf(options: BatchWorkerOptions): {
  results: WorkerStore;
  release: () => Promise<void>;
  /** Resolves once a store opened here answers (a database URL is checked at start, not at the first item). */
  ready: () => Promise<void>;
} {
  const { resultsDirectory, resultsUrl, results } = options;
  if ([resultsDirectory, resultsUrl, results].filter((option) => option !== undefined).length !== 1)
    throw new Error('createBatchWorker: give exactly one of resultsDirectory, resultsUrl or results (a store)');
  if (results) return { results, release: async () => undefined, ready: async () => undefined }; // the caller's
  const opened = openResultStore(
    resultsUrl !== undefined
      ? { kind: 'postgres', url: resultsUrl }
      : { kind: 'directory', directory: resultsDirectory ?? '' },
  );
  return { results: opened, release: () => opened.close(), ready: async () => opened.ready?.() };
}

async function createWorkers(
  options: BatchWorkerOptions,
  provider: ModelProvider,
  results: WorkerStore,
  release: () => Promise<void>,
): Promise<BatchWorker> {
  const privacy = options.privacy ?? payloadPrivacyOf();
  const dataConverter = workerDataConverter(privacy);
  const activities = createActivities({
    tasks: options.tasks,
    provider,
    ...(options.providers ? { providers: options.providers } : {}),
    results,
    defaultModel: options.defaultModel ?? batchLlmSettings().BATCH_LLM_MODEL ?? DEFAULT_MODEL,
    temporal: createTemporalClient(options.connection, options.namespace, privacy),
    taskQueue: options.taskQueue,
    ...(options.keyFingerprint ? { keyFingerprint: options.keyFingerprint } : {}),
    limits: admissionLimits(options),
    ...(options.providerLimits ? { providerLimits: options.providerLimits } : {}),
  });
  const { callModel, ...bookkeeping } = activities;
  const maxConcurrentActivities = options.maxConcurrentActivities ?? 200;
  const main = await Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    workflowBundle: await workflowBundle(encrypts(privacy)),
    dataConverter,
    // callModel here runs as the local activity of `local-first` items (their first call).
    activities: { ...bookkeeping, callModel },
    maxConcurrentLocalActivityExecutions: maxConcurrentActivities,
    maxConcurrentWorkflowTaskExecutions: options.maxConcurrentWorkflowTasks ?? 100,
    // Items are short workflows; a larger cache avoids replaying them from history.
    maxCachedWorkflows: 2000,
  });
  const modelCalls = await Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: modelCallsTaskQueue(options.taskQueue),
    dataConverter,
    activities: { callModel },
    maxConcurrentActivityTaskExecutions: maxConcurrentActivities,
    // Heartbeats bring cancellations (item deadline, batch cancel) to in-flight model calls:
    // flush them often enough that an aborted request stops within a couple of seconds.
    maxHeartbeatThrottleInterval: '2 seconds',
    defaultHeartbeatThrottleInterval: '2 seconds',
  });
  return new BatchWorker(main, modelCalls, release);
}

/** RPM and TPM from the options, else from BATCH_LLM_RPM / BATCH_LLM_TPM. */
function admissionLimits(options: Pick<BatchWorkerOptions, 'requestsPerMinute' | 'tokensPerMinute'>): AdmissionLimits {
  const settings = batchLlmSettings();
  const requestsPerMinute = options.requestsPerMinute ?? settings.BATCH_LLM_RPM;
  const tokensPerMinute = options.tokensPerMinute ?? settings.BATCH_LLM_TPM;
  return {
    ...(requestsPerMinute !== undefined ? { requestsPerMinute } : {}),
    ...(tokensPerMinute !== undefined ? { tokensPerMinute } : {}),
  };
}

export interface ConnectedWorkerOptions {
  config: TemporalConfig;
  gemini: GeminiClientOptions;
  /**
   * OpenAI-compatible endpoints, each a provider of its name (default: from the environment,
   * openAIEndpointsFromEnv: OPENAI_API_KEY / OPENAI_BASE_URL and BATCH_LLM_OPENAI_ENDPOINTS).
   */
  openai?: OpenAIEndpoint[];
  tasks: TaskRegistry;
  /** The results store (see resultStoreLocation: flags, else BATCH_LLM_RESULTS_URL / BATCH_LLM_RESULTS_DIR). */
  results: ResultStoreLocation;
  maxConcurrentActivities?: number;
  requestsPerMinute?: number;
  tokensPerMinute?: number;
}

/** Connects to Temporal and creates a batch worker from configuration: what `worker`, `dev` and `demo` run. */
export async function connectBatchWorker(
  options: ConnectedWorkerOptions,
): Promise<{ worker: BatchWorker; connection: NativeConnection; banner: string }> {
  const connection = await connectWorkerConnection(options.config);
  try {
    const provider = createGeminiProvider(options.gemini);
    const endpoints = options.openai ?? openAIEndpointsFromEnv();
    const providers = endpoints.map((endpoint) => createOpenAIProvider(endpoint));
    const providerLimits = Object.fromEntries(
      endpoints.flatMap(({ name, limits }) => (limits ? [[name, limits]] : [])),
    );
    const worker = await createBatchWorker({
      connection,
      namespace: options.config.namespace,
      taskQueue: options.config.taskQueue,
      tasks: options.tasks,
      provider,
      providers,
      providerLimits,
      ...(options.results.kind === 'postgres'
        ? { resultsUrl: options.results.url }
        : { resultsDirectory: options.results.directory }),
      keyFingerprint: keyFingerprintOf(options.gemini),
      ...(options.maxConcurrentActivities !== undefined
        ? { maxConcurrentActivities: options.maxConcurrentActivities }
        : {}),
      ...(options.requestsPerMinute !== undefined ? { requestsPerMinute: options.requestsPerMinute } : {}),
      ...(options.tokensPerMinute !== undefined ? { tokensPerMinute: options.tokensPerMinute } : {}),
    });
    const banner = `Worker on ${options.config.address} namespace "${options.config.namespace}" task queue "${options.config.taskQueue}", calling ${[provider, ...providers].map((each) => `${each.name} at ${each.target}${limitsNote(providerLimits[each.name])}`).join(' and ')}; results in ${resultsPlace(options.results)}; ${describePrivacy(payloadPrivacyOf())}; tasks: ${options.tasks.names().join(', ')}`;
    return { worker, connection, banner };
  } catch (error) {
    await connection.close();
    throw error;
  }
}

/** ` (its own 200 rpm, 100000 tpm)`, for the banner. */
function limitsNote(limits: AdmissionLimits | undefined): string {
  if (!limits) return '';
  const parts = [
    ...(limits.requestsPerMinute !== undefined ? [`${limits.requestsPerMinute} rpm`] : []),
    ...(limits.tokensPerMinute !== undefined ? [`${limits.tokensPerMinute} tpm`] : []),
  ];
  return ` (its own ${parts.join(', ')})`;
}

/** Where results go, for the banner: a directory, or the database URL without its password. */
function resultsPlace(location: ResultStoreLocation): string {
  return location.kind === 'postgres' ? withoutPassword(location.url) : location.directory;
}
