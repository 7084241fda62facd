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
  generate(request: GenerateRequest): Promise<ModelAnswer>;
  countTokens(model: string, text: string): Promise<number>;
  /** The provider's built-in error rules (a task's classifier may wrap them): category, retry decision, suggested wait. */
  classify(error: unknown): ErrorInfo;
  caches?: ContextCaches;
}
