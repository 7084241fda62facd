/**
 * `durable-batch-llm`: the client API, the worker, tasks, the model-provider seam, the contract of messages and records,
 * and the Gemini emulator. Task modules may import the lighter `durable-batch-llm/task`.
 */
export * from './tasks/index';
export { BatchClient, type StartBatchOptions, type StartedBatch } from './client/batch-client';
export {
  BatchExistsError,
  BatchFailedError,
  BatchNotFoundError,
  EXIT_CODES,
  TemporalUnreachableError,
} from './client/errors';
export { InputError, type InputProblem } from './input';
export { batchStateOf, type BatchState } from './batch-state';
export * from './contract/index';
export {
  createBatchWorker,
  connectBatchWorker,
  type BatchWorker,
  type BatchWorkerOptions,
  type ConnectedWorkerOptions,
} from './worker';
export { createTaskRegistry, TaskRegistry } from './tasks/registry';
export { temporalConfigFromEnv, type TemporalConfig } from './temporal/config';
export { connectTemporalClient, connectWorkerConnection, createTemporalClient } from './temporal/connection';
export {
  clientDataConverter,
  payloadPrivacyOf,
  workerDataConverter,
  type PayloadPrivacy,
} from './privacy/data-converter';
export { DirectoryBlobDriver } from './privacy/blob-store';
export { startCodecServer, type CodecServerOptions } from './privacy/codec-server';
export { PayloadDecryptionError } from './privacy/keys';
export {
  createGeminiProvider,
  createGeminiClient,
  classifyGemini,
  type GeminiClientOptions,
} from './providers/gemini/index';
export {
  createOpenAIProvider,
  classifyOpenAI,
  OPENAI_PROVIDER_NAME,
  type OpenAIProviderOptions,
} from './providers/openai/index';
export { openAIEndpointsFromEnv, type OpenAIEndpoint } from './config';
export type {
  CacheCreation,
  CacheEntry,
  ContextCaches,
  GenerateRequest,
  ModelAnswer,
  ModelProvider,
} from './providers/types';
export { FileResultStore, type ResultSink, type PostProcessLedger } from './results';
export { GeminiEmulator, type EmulatorOptions, type FaultRule } from '@durable-batch-llm/gemini-emulator';
