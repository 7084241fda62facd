/**
 * The seam between the engine and a model provider. Activities build prompts (prompts.ts), wait
 * for admission, call `generate`, judge the answer (judge.ts) and convert failures with
 * `classify`; everything provider-specific — the SDK, its wire shapes, its error bodies, its
 * context caches — lives behind this interface, one folder per provider (gemini/ first).
 */
import type { ErrorCategory } from '../errors/categories';
import type { ErrorInfo } from '../errors/classify';
import type { CallMetadata, GenerationSettings, Usage } from '../schemas';

/** One structured-output request. */
export interface GenerateRequest {
  model: string;
  prompt: string;
  systemInstruction?: string | undefined;
  /** The JSON Schema the answer must follow. */
  responseJsonSchema: Record<string, unknown>;
  generation: GenerationSettings;
  /** A context cache holding the shared prefix (full prompts only). */
  cachedContent?: string | undefined;
  /** The provider's client aborts the request after this long (it then fails as `timeout`). */
  timeoutMs: number;
  /** Aborts the request (a cancelled item or batch). */
  signal: AbortSignal;
  /** `<batchId>/<itemId>`, sent as a request header (the emulator keys its faults on it). */
  itemKey: string;
}

/** A 200 answer, as the engine reads it whatever the provider. */
export interface ModelAnswer {
  /** The answer's text (JSON, when the model followed the schema). */
  text: string | undefined;
  /** The provider says the answer cannot be used, before any parsing: blocked, truncated, recited, empty. */
  stopped?: { category: ErrorCategory; message: string };
  usage: Usage;
  metadata: CallMetadata;
  /** A plain JSON copy of the provider's response (for tasks that set includeRawResponse). */
  raw(): unknown;
}

/** A context cache as listed by the provider. */
export interface CacheEntry {
  name: string;
  displayName?: string | undefined;
  model?: string | undefined;
  /** ISO time, when the provider gave one. */
  expireTime?: string | undefined;
  tokenCount?: number | undefined;
}

export interface CacheCreation {
  model: string;
  displayName: string;
  ttlSeconds: number;
  systemInstruction?: string | undefined;
  /** Shared contents every prompt of the task starts with. */
  contents?: string | undefined;
}

/** Context caches (Gemini's cachedContents): optional, a provider without them runs uncached. */
export interface ContextCaches {
  list(): AsyncIterable<CacheEntry>;
  /** `tooSmall` with the provider's reason when the contents are below its minimum cacheable size. */
  create(creation: CacheCreation): Promise<CacheEntry | { tooSmall: string }>;
  /** Extends the cache's time to live; its new expiry when the provider says. */
  renew(name: string, ttlSeconds: number): Promise<{ expireTime?: string | undefined }>;
  delete(name: string): Promise<void>;
}

export interface ModelProvider {
  /** e.g. `gemini`. */
  readonly name: string;
  /** Where calls go, for banners and logs; never a key. */
  readonly target: string;
  /**
   * A short one-way name (src/providers/registry.ts fingerprintOf) of the account its calls are
   * charged to: with the task queue and the model it names the quota scope, so two endpoints with
   * their own keys never share a cooldown or an RPM budget. The worker's keyFingerprint stands in
   * for the default provider's.
   */
  readonly quotaKey?: string;
  generate(request: GenerateRequest): Promise<ModelAnswer>;
  countTokens(model: string, text: string): Promise<number>;
  /** The provider's built-in error rules (a task's classifier may wrap them): category, retry decision, suggested wait. */
  classify(error: unknown): ErrorInfo;
  caches?: ContextCaches;
  batchJobs?: BatchJobs;
}

/** One request of a batch job: exactly what the online call would send, minus the transport (model is the job's). */
export type BatchRequest = Omit<GenerateRequest, 'model' | 'timeoutMs' | 'signal' | 'itemKey'>;

/** Normalised job states (Gemini's `BATCH_STATE_*` and `JOB_STATE_*` alike). */
export type BatchJobState = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'expired';

export const TERMINAL_BATCH_JOB_STATES: readonly BatchJobState[] = ['succeeded', 'failed', 'cancelled', 'expired'];

export interface BatchJobSubmission {
  /** Deterministic per job (e.g. `<batchId>/job-<n>`): a retried submit finds the job by it instead of creating a second. */
  displayName: string;
  model: string;
  /** Keyed requests; keys must be unique within the job. */
  requests: ReadonlyArray<{ key: string; request: BatchRequest }>;
  /** Above this many bytes of inline requests, the requests go as an uploaded JSONL file (default ~20 MB). */
  inlineLimitBytes?: number | undefined;
}

export interface BatchJobRef {
  name: string;
  displayName: string;
  state: BatchJobState;
  /** The requests went as an uploaded JSONL file (not inline). */
  file?: boolean;
}

export interface BatchJobStatus extends BatchJobRef {
  /** Request counts from the provider (zeros when it has not said yet). */
  stats: { requests: number; succeeded: number; failed: number; pending: number };
  /** Why a failed or expired job ended, when the provider says. */
  error?: { code?: number | undefined; message: string } | undefined;
}

/** One request's outcome inside a succeeded job: an answer (judged like an online one) or a classified error. */
export type BatchJobResult = { key: string; answer: ModelAnswer } | { key: string; error: ErrorInfo };

/** A provider's batch API (Gemini Batch Mode): optional, a provider without it runs everything online. */
export interface BatchJobs {
  /** Creates the job, or returns the existing job with the same display name (safe to retry). */
  submit(submission: BatchJobSubmission): Promise<BatchJobRef>;
  findByDisplayName(displayName: string): Promise<BatchJobRef | undefined>;
  get(name: string): Promise<BatchJobStatus>;
  /**
   * The results of a succeeded job, one per submitted key (`keys`: the submitted order). Matched by
   * key, by position where a response lacks one; a count or key mismatch throws before anything is yielded.
   */
  results(name: string, keys: readonly string[]): AsyncIterable<BatchJobResult>;
  cancel(name: string): Promise<void>;
  delete(name: string): Promise<void>;
}

/** A job's responses do not match its requests (count, an unknown key, a key answered twice): never a silent shift. */
export class BatchResultsMismatchError extends Error {
  override readonly name = 'BatchResultsMismatchError';
}
