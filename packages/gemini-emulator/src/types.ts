import type { BatchSettings } from './batches';
import type { BatchRoute, CacheRoute, FaultKind, FaultRule } from './faults';
import type { OpenAISettings } from './openai-settings';
import type { QuotaLimits } from './quota';
import type { SafetyRatingSpec } from './safety';

/** Fixed delay plus seeded jitter, uniform in [0, jitterMs], applied before every API answer. */
export interface LatencyConfig {
  baseMs: number;
  jitterMs: number;
}

/** What a responder sees of one generateContent request. */
export interface EmulatedRequest {
  /** Model name without the `models/` prefix. */
  model: string;
  itemKey: string | undefined;
  attempt: number;
  promptText: string;
  systemInstructionText: string;
  temperature: number | undefined;
  /** `generationConfig.responseJsonSchema`, or else the Gemini-form `responseSchema`. */
  responseJsonSchema: unknown | undefined;
  body: unknown;
}

/** Produces the candidate text for a request. */
export type Responder = (request: EmulatedRequest) => string | Promise<string>;

export interface EmulatorOptions {
  /** Default 0: an ephemeral port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  latency?: LatencyConfig;
  /** Seeds fault rates and latency jitter. Default 1. */
  seed?: number;
  faults?: FaultRule[];
  /** Default: JSON synthesized from the request's schema, or a short deterministic text. */
  responder?: Responder;
  /** Reported as `modelVersion`; default is the requested model name. */
  modelVersion?: string;
  /** When set, any other API key is answered like Google answers an invalid key. */
  requiredApiKey?: string;
  /**
   * The clock caches expire by and the quota window slides on (ms since the epoch); default
   * `Date.now`. Expiry is checked on every access.
   */
  now?: () => number;
  /** Fewest tokens a cache may hold; default 1024. */
  minCacheTokens?: number;
  /** Per-model minimums (model with or without `models/`), overriding `minCacheTokens`. */
  minCacheTokensByModel?: Record<string, number>;
  /**
   * What generateContent does with a `cachedContent` name this emulator never issued: 'accept'
   * (default; answered as if uncached, as before the cache API existed) or 'not_found' (404, as
   * Google does). Names it issued that were deleted or expired are always 404.
   */
  unknownCachedContent?: 'accept' | 'not_found';
  /**
   * The safety ratings every normal (text) candidate carries, unless a fault rule gives its own;
   * `[]` omits `safetyRatings`, as real 2.5+ answers often do. Default: four NEGLIGIBLE ratings.
   */
  safetyRatings?: SafetyRatingSpec[];
  /**
   * Per-minute limits on generateContent over a sliding 60 s window of admitted requests (by the
   * `now` clock); a request over a limit is answered 429 like Google's. Omitted = unlimited.
   */
  quota?: QuotaLimits;
  /** Batch Mode: turnaround, whole-job outcomes, per-request faults; see `BatchSettings`. */
  batch?: BatchSettings;
  /** The chat-completions route: refusing json_schema, a context window, reasoning tokens, prompt caching. */
  openai?: OpenAISettings;
}

/** One request as the emulator saw it; pushed on arrival, completed when the exchange ends. */
export interface RequestLogEntry {
  seq: number;
  /**
   * `other`: file get and delete, the upload's data steps (after `fileUpload`, its start) and
   * paths no route serves. `chatCompletions`: the OpenAI-compatible `POST /v1/chat/completions`.
   */
  route: 'generateContent' | 'chatCompletions' | 'countTokens' | CacheRoute | BatchRoute | 'other';
  model: string;
  itemKey: string | undefined;
  /**
   * generateContent and chatCompletions: nth model call for this item key (the two routes share
   * the count); cache, batch and file routes: nth request of that route for this item key (""
   * when no header); all 1-based. 0 for other routes.
   */
  attempt: number;
  temperature: number | undefined;
  promptChars: number;
  /** Tokens of contents plus system instruction, plus the cache's for generateContent with a cache. */
  promptTokens: number;
  systemInstructionChars: number;
  /** generateContent: the `cachedContent` the request named. */
  cachedContent: string | undefined;
  /** Cache routes: the cache addressed, or for cacheCreate the one created. */
  cacheName?: string;
  /** Batch routes: the job addressed (`batches/…`), or for batchCreate the one created. */
  batchName?: string;
  /** File routes: the file addressed (`files/…`), or for an upload the one it created. */
  fileName?: string;
  /** generateContent: a response schema was given; chatCompletions: `response_format` was json_schema. */
  hasResponseSchema: boolean;
  /**
   * The fault rule that decided the request. `reply_lost` also marks the data step of an upload
   * whose `fileUpload` start drew it: that step is where the emulator acted and cut the connection.
   */
  fault: FaultKind | undefined;
  /**
   * The planned outcome while the request is open (`endedAtMs` undefined), the final one after.
   * `reset`: the connection was cut without an answer (a `reset` fault, or `reply_lost` after the
   * emulator acted).
   */
  status: number | 'reset' | 'hang' | 'aborted';
  startedAtMs: number;
  endedAtMs: number | undefined;
  /** Model calls (generateContent and chatCompletions) in flight when this one started, itself included. */
  inFlightAtStart: number;
  outputText: string | undefined;
  /** generateContent answered 200 with a candidate: its `finishReason`; chatCompletions: `finish_reason`. */
  finishReason?: string;
  /** chatCompletions: the request's `response_format` type (`text` when it had none). */
  responseFormat?: 'json_schema' | 'json_object' | 'text';
  /** generateContent answered 200 with a blocked prompt: `promptFeedback.blockReason`. */
  blockReason?: string;
  /** generateContent or chatCompletions answered 429 by the emulator's per-minute quota (not by a fault rule). */
  quotaRejected?: boolean;
}
