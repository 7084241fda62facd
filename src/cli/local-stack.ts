import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { BatchWorker } from '../worker';
import { GeminiEmulator, type EmulatorOptions } from '@durable-batch-llm/gemini-emulator';
import { geminiOptionsFromEnv, openAIEndpointsFromEnv } from '../config';
import { OPENAI_PROVIDER_NAME } from '../providers/registry';
import type { GeminiClientOptions } from '../providers/gemini/client';
import { createTaskRegistry, type TaskRegistry } from '../tasks/registry';
import type { TemporalConfig } from '../temporal/config';
import { temporalAnswers } from '../temporal/connection';
import { startDevServer } from '../temporal/dev-server';
import { connectBatchWorker } from '../worker';

export interface LocalStackOptions {
  config: TemporalConfig;
  stateDirectory: string;
  port: number;
  uiPort: number;
  /** How long the dev server keeps closed workflows, in ms (a server already running keeps its own). */
  retentionMs: number;
  taskModules: string[];
  emulator: EmulatorOptions;
  log: (line: string) => void;
  /** The codec server the Web UI decrypts payloads with (`dev --encrypt`). */
  uiCodecEndpoint?: string;
}

/** What `dev` and `demo` bring up: server (unless one already answers), emulator (unless a key is set), worker. */
export interface LocalStack {
  config: TemporalConfig;
  tasks: TaskRegistry;
  worker: BatchWorker;
  stop(): Promise<void>;
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const { log } = options;
  const stops: Array<() => Promise<void>> = [];
  let config = options.config;
  let server: TestWorkflowEnvironment | undefined;
  try {
    const address = `127.0.0.1:${options.port}`;
    if (await temporalAnswers({ ...config, address, connectTimeoutMs: 1500 })) {
      log(`Temporal already running at ${address}; using it (its retention of closed workflows unchanged).`);
      if (options.uiCodecEndpoint)
        log(
          `  Its Web UI was started without this codec server: set the codec endpoint in the UI's settings (Data Encoder) to ${options.uiCodecEndpoint}`,
        );
      config = { ...config, address };
    } else {
      const dbFilename = path.join(options.stateDirectory, 'temporal.db');
      log(
        `Starting the Temporal dev server on ${address} (history kept in ${dbFilename}, closed workflows kept ${options.retentionMs / 3_600_000} h) …`,
      );
      server = await startDevServer({
        dbFilename,
        port: options.port,
        uiPort: options.uiPort,
        namespace: config.namespace,
        // Its WARN lines would flood the terminal the stack runs in; errors still show.
        logLevel: 'error',
        retentionMs: options.retentionMs,
        ...(options.uiCodecEndpoint ? { uiCodecEndpoint: options.uiCodecEndpoint } : {}),
      });
      const started = server;
      stops.push(() => started.teardown());
      config = { ...config, address, webUiUrl: `http://localhost:${options.uiPort}` };
    }

    let gemini: GeminiClientOptions = geminiOptionsFromEnv();
    let openai = openAIEndpointsFromEnv();
    if (!gemini.apiKey && !gemini.baseUrl) {
      const emulator = await GeminiEmulator.start(options.emulator);
      stops.push(() => emulator.stop());
      gemini = { baseUrl: emulator.url };
      log(`No GEMINI_API_KEY: started the Gemini emulator at ${emulator.url}`);
      // The emulator speaks chat completions too: tasks on the OpenAI-compatible provider try out offline.
      if (!openai.some((endpoint) => endpoint.name === OPENAI_PROVIDER_NAME)) {
        openai = [
          { name: OPENAI_PROVIDER_NAME, baseUrl: `${emulator.url}/v1`, keyVariable: 'OPENAI_API_KEY' },
          ...openai,
        ];
        log(
          `No OPENAI_API_KEY or OPENAI_BASE_URL: the openai-compatible provider calls the emulator at ${emulator.url}/v1`,
        );
      }
    }

    const tasks = await createTaskRegistry(options.taskModules);
    const { worker, connection, banner } = await connectBatchWorker({
      config,
      gemini,
      openai,
      tasks,
      results: { kind: 'directory', directory: path.join(options.stateDirectory, 'results') },
    });
    stops.push(() => connection.close());
    const running = worker.run();
    stops.push(async () => {
      worker.shutdown();
      await running;
    });
    log(banner);
    return {
      config,
      tasks,
      worker,
      async stop() {
        for (const stop of stops.reverse()) await stop();
      },
    };
  } catch (error) {
    for (const stop of stops.reverse())
      await stop().catch((stopError: unknown) => log(`while stopping: ${String(stopError)}`));
    throw error;
  }
}
